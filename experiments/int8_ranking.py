"""How an int8 file's output ranks: the candidates of docs/export.md ("int8 files that rank"),
built from one run, checked on a split through the runtime against the Keras model.

    KERAS_HOME=... .venv/bin/python experiments/int8_ranking.py RUN_DIR SPLIT_DIR OUT_DIR [OLD_INT8_FILE]

Candidates (all full int8, uint8 pixels in, calibrated on the run's train/ like `export`):
- softmax-uint8: the graph ends in its softmax, uint8 out (exports before the logits change; or
  OLD_INT8_FILE, an artifact exported before it);
- logits-uint8: the graph stops at the logits, uint8 out; float softmax in the runtime (the choice);
- softmax-float: selective quantization keeps the softmax op float inside the file (float32 out);
- logits-float-fc: the final fully-connected layer kept float, float32 logits out.
Writes OUT_DIR/<candidate>.tflite (with metadata, so `sportsedge bench` can time them) and prints a
Markdown table: top-1 / top-5 on the split, top-5 overlap and order match with Keras, classes that
read exactly 0 per image, images whose 5th and 6th scores tie, size.
"""

import sys
import warnings
from pathlib import Path

import numpy as np

from sportsedge.bench.accuracy import label_indices, labelled_images
from sportsedge.core import metrics
from sportsedge.core.outputs import OutputKind
from sportsedge.export.config import UserModel
from sportsedge.export.context import ExportContext
from sportsedge.export.families import resolve_source
from sportsedge.export.tflite import int8_bytes
from sportsedge.export.tflite_convert import calibrated_float, converter
from sportsedge.runtime import Classifier, ModelMetadata, attach_metadata
from sportsedge.runtime.imagesets import load_images

run, split, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
old = Path(sys.argv[4]) if len(sys.argv) > 4 else None
out.mkdir(parents=True, exist_ok=True)
source, loaded = resolve_source(run, UserModel(), None)
ctx = ExportContext(source, loaded, calibration_size=300, parity_size=200)


def tensor_of_last(data: bytes, op_name: str) -> str:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data)
    tensors = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    ops = [op for op in interp._get_ops_details() if op["op_name"] == op_name]
    return tensors[ops[-1]["outputs"][0]]


def selective(data: bytes, denylisted: list[str]) -> bytes:
    import tensorflow as tf

    from sportsedge.export.tf_private import mlir_quantize

    return mlir_quantize(data, tf.uint8, tf.float32, denylisted)


full, logit = calibrated_float(ctx, logits=False), ctx.calibrated_float
candidates = {
    "softmax-uint8": (old.read_bytes() if old else None, OutputKind.PROBABILITIES),
    "logits-uint8": (int8_bytes(ctx), OutputKind.LOGITS),
    "softmax-float": (selective(full, [tensor_of_last(full, "SOFTMAX")]), OutputKind.PROBABILITIES),
    "logits-float-fc": (selective(logit, [tensor_of_last(logit, "FULLY_CONNECTED")]), OutputKind.LOGITS),
}
if old is None:
    _, conv = converter(ctx, logits=False)
    from sportsedge.export.tflite import int8_settings

    int8_settings(conv, ctx.calibration)
    candidates["softmax-uint8"] = (conv.convert(), OutputKind.PROBABILITIES)

paths, names = labelled_images(split)
pixels, _ = load_images([Path(p) for p in paths], ctx.input_size, "split")
y = label_indices(names, ctx.labels, "split")
keras_p = ctx.reference(pixels)
print(
    f"{len(pixels)} images of {split}; Keras top-1 {metrics.top_k_accuracy(keras_p, y, 1):.4f}, "
    f"top-5 {metrics.top_k_accuracy(keras_p, y, 5):.4f}\n"
)
print(
    "| candidate | output | top-1 | top-5 | top-5 overlap | top-5 order | zero scores/img | 5th=6th tie | size bytes |"
)
print("|---|---|---|---|---|---|---|---|---|")
for name, (data, kind) in candidates.items():
    path = out / f"{name}.tflite"
    path.write_bytes(data)
    if not (name == "softmax-uint8" and old):  # an old artifact keeps its own metadata
        attach_metadata(
            path,
            ModelMetadata(
                labels=ctx.labels, model_name=name, input_size=ctx.input_size, format="tflite-int8", output=kind
            ),
            sidecar=False,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(path, threads=1)
    raw = np.concatenate([clf.outputs(pixels[i : i + 64]) for i in range(0, len(pixels), 64)])
    p = np.concatenate([clf.scores(pixels[i : i + 64]) for i in range(0, len(pixels), 64)])
    srt = -np.sort(-p, axis=1)
    zeros = np.mean(((raw if kind is OutputKind.PROBABILITIES else p) == 0).sum(axis=1))
    print(
        f"| {name} | {clf.output} | {metrics.top_k_accuracy(p, y, 1):.4f} | {metrics.top_k_accuracy(p, y, 5):.4f} | "
        f"{metrics.topk_overlap(p, keras_p):.4f} | {metrics.topk_order_match(p, keras_p):.4f} | "
        f"{zeros:.1f} | "
        f"{np.mean(srt[:, 4] == srt[:, 5]):.3f} | {len(data)} |"
    )
ctx.close()
