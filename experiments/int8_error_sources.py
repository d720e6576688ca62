"""Where a MobileNetV2 run's int8 changes predictions: activations or weights, which blocks, the output.

Builds variants of the run's full-int8 TFLite file from one calibrated float model and checks each
against the Keras model on all of the run's valid/ images, through the runtime:

- plain: post-training int8 as `--activation-ranges` says (default mse; minmax to compare);
- frozen blocks float (Conv1, blocks 1-12) / fine-tuned blocks float (blocks 13-16, Conv_1 and
  the pooling), by mlir_quantize's deny-list (which can leave neighbouring ops float too: see the
  sizes): which part's activations cost agreement;
- float head: the final dense layer float and float logits out, so they are not rounded to uint8;
- int16 activations, int8 weights: what is left when activations are (nearly) exact.

It also counts exact ties of the uint8 logits among the changed predictions.

    .venv/bin/python experiments/int8_error_sources.py RUN [mse|minmax]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np


def _block(name: str) -> int:
    m = re.search(r"block_(\d+)_", name)
    if m:
        return int(m.group(1))
    return 99 if ("Conv_1" in name or "global_average_pooling" in name) else -1


def main(run: str, fit: str = "mse") -> None:
    import tensorflow as tf

    from sportsedge.export import remedies
    from sportsedge.export.config import AccuracyConfig, ExportConfig, RangeFit, UserModel
    from sportsedge.export.context import ExportContext
    from sportsedge.export.families import resolve_source
    from sportsedge.export.tf_private import mlir_quantize
    from sportsedge.export.tflite import quantize
    from sportsedge.runtime.backends import litert_interpreter_class

    source, loaded = resolve_source(Path(run), UserModel(), None)
    accuracy = AccuracyConfig(activation_ranges=RangeFit(fit))
    ctx = ExportContext(source, loaded, ExportConfig.calibration_size, 500, accuracy=accuracy)
    pixels, labels, probs = ctx.parity
    keras_top1 = probs.argmax(1)
    model, _ = ctx.fitted_float()
    plain = quantize(model)
    Interpreter = litert_interpreter_class()
    interp = Interpreter(model_content=plain)
    tensors = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    outputs = [tensors[op["outputs"][0]] for op in interp._get_ops_details()]
    head = [interp.get_output_details()[0]["name"]]  # the model's output: its dense layer, uint8 logits
    variants = {
        f"plain ({fit} ranges)": plain,
        "frozen blocks float": quantize(model, [n for n in outputs if 0 <= _block(n) < 13 or "Conv1" in n]),
        "fine-tuned blocks float": quantize(model, [n for n in outputs if _block(n) >= 13]),
        "float head (float logits out)": mlir_quantize(model, tf.uint8, tf.float32, head),
        "int16 activations": next(remedies.int16(ctx, accuracy, print)).data,
    }
    print(f"{run}: Keras top-1 {100 * (keras_top1 == labels).mean():.1f}% on {len(labels)} images")
    print("| variant | top-1 | agreement | changed | uint8 ties among them | MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, data in variants.items():
        interp = Interpreter(model_content=data)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        scores = []
        for img in pixels:
            interp.set_tensor(inp["index"], img[None].astype(inp["dtype"]))
            interp.invoke()
            scores.append(interp.get_tensor(out["index"])[0].copy())
        scores = np.array(scores)
        top = scores.argmax(1)
        changed = top != keras_top1
        ties = 0
        if scores.dtype != np.float32:
            best2 = np.sort(scores, 1)[:, -2:]
            ties = int((changed & (best2[:, 0] == best2[:, 1])).sum())
        print(
            f"| {name} | {100 * (top == labels).mean():.1f}% | {100 * (1 - changed.mean()):.1f}% | "
            f"{int(changed.sum())} | {ties} | {len(data) / 1e6:.2f} |"
        )
    ctx.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
