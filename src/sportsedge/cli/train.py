"""`sportsedge` subcommand parsers of the training side: train, evaluate, export, pipeline, demo."""

from __future__ import annotations

from sportsedge.cli.argtypes import (
    comma_list,
    one_of,
    positive_int,
)
from sportsedge.cli.models import model_options
from sportsedge.cli.runtime import bench_options
from sportsedge.core.formats import FORMATS, format_groups
from sportsedge.core.options import add_options
from sportsedge.export.config import AccuracyConfig, ExportConfig, QatConfig
from sportsedge.pipeline.config import PipelineConfig
from sportsedge.train.config import INPUT_SIDE, PIPELINE_SKIPS, TrainConfig
from sportsedge.train.models import MODELS


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on a dataset folder (needs the train extra)",
        description="Train a registered model on a dataset in the Kaggle layout "
        "(train/, valid/, optional test/) and write a run folder.",
    )
    add_options(p, TrainConfig)
    p.set_defaults(handler="sportsedge.train.commands:train_cmd")


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluation reports of a trained run on one split",
        description="Write RUN_DIR/eval-SPLIT/: metrics.json, report.txt/.json, "
        "confusion_matrix.png and misclassified.png.",
    )
    p.add_argument("run_dir", help="a run folder written by `sportsedge train`")
    p.add_argument("--data", default=None, help="dataset folder (default: the one the run was trained on)")
    p.add_argument(
        "--split", default="test", choices=("test", "valid", "train"), help="the split to report on (default test)"
    )
    p.add_argument("--limit-per-class", type=positive_int, default=None, help="use at most N images per class")
    p.set_defaults(handler="sportsedge.train.commands:evaluate_cmd")


def export_options(p) -> None:
    post = ", ".join(f.name for f in FORMATS.values() if f.in_all)
    opt_in = ", ".join(f.name for f in FORMATS.values() if not f.in_all)
    p.add_argument(
        "--formats",
        default=PipelineConfig.formats,
        help=f"a comma list of formats ({post}, {opt_in}) or groups: all (every post-training format, i.e. "
        f"all but {opt_in}), {', '.join(g for g in format_groups() if g != 'all')} (that family's) "
        f"(default {PipelineConfig.formats})",
    )
    add_options(p, ExportConfig, ("calibration_size", "parity_size"))
    g = p.add_argument_group("accuracy-aware int8 (tflite-int8)")
    add_options(g, AccuracyConfig, ("max_drop", "remedies", "activation_ranges", "float_layers"))


def add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export trained runs or your own model to TFLite/ONNX, float and int8, parity-checked",
        description="Export runs (or a .keras, .h5, SavedModel, float .onnx or torch.export .pt2 classifier of "
        "your own) to "
        "DIR/<model>-<format>.<ext> with labels inside, check each against the source model on held-back "
        "images, and record DIR/manifest.json. Exit status 1 if any parity check failed.",
    )
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="run folders written by `sportsedge train`, or a .keras/.h5 file, a SavedModel folder, an .onnx file "
        "or a .pt2 program (torch.export.save; the torch extra)",
    )
    p.add_argument("--out", required=True, help="folder for the artifacts and manifest.json")
    export_options(p)
    add_options(p, ExportConfig, ("calibration", "min_agreement"))
    add_options(p, ExportConfig, ("force",))
    model_options(p, "your own model (not a sportsedge run)")
    p.add_argument(
        "--parity-data",
        default=None,
        metavar="DIR",
        help="images to check your model's exports on: class subfolders named as the labels (accuracy and "
        "agreement) or a flat folder (agreement only); default: the --calibration folder",
    )
    q = p.add_argument_group("quantization-aware training (needs the qat extra)")
    q.add_argument(
        "--qat",
        action="store_true",
        help="also export tflite-int8-qat: fine-tune with fake "
        "quantization (tensorflow-model-optimization, in a separate process), then full int8",
    )
    add_options(q, QatConfig, prefix="qat_")
    p.set_defaults(handler="sportsedge.export.commands:export_cmd")


def add_pipeline(sub) -> None:
    p = sub.add_parser(
        "pipeline",
        help="train, evaluate, export, benchmark and report, in one resumable command",
        description="For each model: train and evaluate; then export every format, benchmark "
        "everything on test/ (valid/ without it) and write OUT/report.md and OUT/report.html. "
        "Re-running on the same OUT skips finished stages.",
    )
    p.add_argument("--data", required=True, help="dataset folder with train/, valid/ and optionally test/")
    p.add_argument("--out", required=True, help="output folder")
    models = ",".join(PipelineConfig.models)
    p.add_argument(
        "--models",
        type=comma_list(one_of(MODELS, "model"), "models"),
        default=PipelineConfig.models,
        help=f"comma list of: {', '.join(MODELS)} (default {models})",
    )
    p.add_argument(
        "--input-sizes",
        type=comma_list(INPUT_SIDE.parse, "input sizes"),
        default=PipelineConfig.input_sizes,
        metavar="PX,...",
        help="train each resizable model of --models at each of these square sizes, each its own row "
        "(e.g. 224,160,128); other models at their own size; a size only some models take is "
        "skipped for the rest, with a note (default: each model's own)",
    )
    export_options(p)
    bench_options(p)
    g = p.add_argument_group("training, for every model (as `sportsedge train`)")
    add_options(g, TrainConfig, skip=PIPELINE_SKIPS)
    p.set_defaults(handler="sportsedge.pipeline.commands:pipeline_cmd")


def add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole pipeline offline on a generated dataset, in minutes",
        description="Draw a small synthetic scene dataset, then train the CNN from scratch and "
        "EfficientNet-Lite0 (ImageNet weights from the lite extra) at two input sizes, export four "
        "formats, benchmark and report, offline. A transfer model without weights is left out.",
    )
    p.add_argument("--out", default="demo-out", help="output folder (default demo-out; re-running resumes)")
    p.set_defaults(handler="sportsedge.pipeline.commands:demo_cmd")


# One row per subcommand: each adds its parser; handlers are imported lazily.
