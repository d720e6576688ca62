"""Full int8 of a PyTorch model's float .tflite, two quantizers, measured on the same images:
ai-edge-quantizer's static recipe (static_wi8_ai8, min/max calibration, int8 in) against the route
sportsedge's tflite-int8 takes (TFLite's calibrator, fitted ranges, the converter's own quantizer,
uint8 in), each run through LiteRT against the float file. Figures in docs/guides/pytorch.md.

    .venv/bin/python experiments/torch_int8_routes.py EXPORTS/NAME-tflite-fp32.tflite \\
        EXPORTS/NAME-tflite-int8.tflite --calibration ../shared/data/sports100-dev/train \\
        --data ../shared/data/sports100-dev/valid
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sportsedge.core.metrics import agreement
from sportsedge.runtime.imagesets import full_range, list_stratified, load_images


def run(model: bytes, pixels: np.ndarray) -> np.ndarray:
    """Float scores of every image through LiteRT (inputs and outputs (de)quantized as the file says)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero = inp["quantization"]
    oscale, ozero = out["quantization"]
    rows = []
    for img in pixels:
        x = img[None].astype(np.float32)
        if scale:  # an int8 input: quantized as the file says
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        it.set_tensor(inp["index"], x.astype(inp["dtype"]))
        it.invoke()
        y = it.get_tensor(out["index"])[0].astype(np.float32)
        rows.append((y - ozero) * oscale if oscale else y)
    return np.stack(rows)


def aeq_static(model: bytes, calibration: np.ndarray) -> bytes:
    """ai-edge-quantizer's static int8 recipe, calibrated on ``calibration`` (min/max)."""
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(bytearray(model), recipe.static_wi8_ai8())
    key = "serving_default"
    result = q.calibrate({key: [{"args_0": img[None].astype(np.float32)} for img in calibration]})
    return bytes(q.quantize(result, enable_progress_report=False).quantized_model)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32", type=Path)
    ap.add_argument("int8", type=Path, help="sportsedge's tflite-int8 of the same model")
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--data", required=True, help="class folders: top-1 and agreement on every image")
    ap.add_argument("--calibration-size", type=int, default=300)
    args = ap.parse_args()
    size = (224, 224)
    cal, _ = load_images(list_stratified(args.calibration, args.calibration_size, 0), size, "calibration")
    paths = list_stratified(args.data, 10**6, 1)
    pixels, kept = load_images(paths, size, "data")
    labels = sorted({p.parent.name for p in kept})
    truth = np.array([labels.index(p.parent.name) for p in kept])
    fp32 = args.fp32.read_bytes()
    ref = run(fp32, pixels)
    t0 = time.monotonic()
    static = aeq_static(fp32, full_range(cal))
    took = time.monotonic() - t0
    for name, data, seconds in (("float32", fp32, 0.0), ("ai-edge-quantizer static_wi8_ai8", static, took),
                                ("sportsedge tflite-int8", args.int8.read_bytes(), None)):  # fmt: skip
        try:
            scores = run(data, pixels)
        except (RuntimeError, ValueError) as err:  # e.g. XNNPACK's "failed to prepare"
            print(f"{name}: does not run in LiteRT ({str(err).splitlines()[0]})")
            continue
        top1 = 100 * float((scores.argmax(1) == truth).mean())
        print(
            f"{name}: top-1 {top1:.1f}%, agreement with float {100 * agreement(scores, ref):.1f}%, "
            f"{len(data) / 1e6:.2f} MB" + (f", quantized in {seconds:.0f} s" if seconds else "")
        )


if __name__ == "__main__":
    main()
