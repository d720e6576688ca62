"""`sportsedge` options describing a model that is not ours (export's and label's), and the label command.

Light like the other parser modules: choices come from tables that import no numpy.
"""

from __future__ import annotations

from sportsedge.cli.argtypes import per_channel
from sportsedge.core.input_transform import PRESETS
from sportsedge.core.outputs import OutputKind


def model_options(p, title: str) -> None:
    """--labels, --preprocess/--scale/--offset, --input-size, --output, --name."""
    g = p.add_argument_group(title)
    g.add_argument(
        "--labels",
        metavar="FILE|DIR",
        default=None,
        help="class names: a labels.txt (one per line, in output order) or a folder of class subfolders (sorted)",
    )
    g.add_argument(
        "--preprocess",
        choices=tuple(PRESETS),
        default=None,
        help="what the model expects: raw 0..255, unit 0..1, symmetric -1..1, caffe (BGR minus ImageNet mean), "
        "torch ((x/255-mean)/std, ImageNet); or give --scale/--offset",
    )
    g.add_argument(
        "--scale",
        type=per_channel,
        default=None,
        metavar="S[,S,S]",
        help="model input = pixel * scale + offset (per channel)",
    )
    g.add_argument("--offset", type=per_channel, default=None, metavar="O[,O,O]", help="see --scale")
    g.add_argument("--input-size", default=None, metavar="HxW", help="for models whose input has no fixed size")
    g.add_argument(
        "--output",
        choices=("auto", *(str(k) for k in OutputKind)),
        default="auto",
        help="what the model outputs (default auto: probabilities if every row sums to 1 on real images, else logits)",
    )
    g.add_argument(
        "--name", default=None, help="model name in the metadata and artifact names (default: the file's stem)"
    )


def add_label(sub) -> None:
    p = sub.add_parser(
        "label",
        help="put labels and an input spec inside a .tflite/.onnx converted elsewhere (no TensorFlow)",
        description="Write sportsedge metadata (labels, input size, preprocessing, output kind) into a model file "
        "converted by another tool, atomically, with a <file>.json sidecar, so `predict`, `bench` and "
        "`Classifier.load` name its classes. The runtime applies --preprocess to raw pixels before inference. "
        "Refuses to replace existing metadata without --force.",
    )
    p.add_argument("model", help="a .tflite or .onnx file")
    model_options(p, "the model")
    p.add_argument("--force", action="store_true", help="replace the metadata the file already carries")
    p.set_defaults(handler="sportsedge.runtime.label_cli:run")
