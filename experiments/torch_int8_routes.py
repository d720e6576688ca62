"""Full int8 of a PyTorch model, three quantizers, measured on the same images: ai-edge-quantizer's
static recipe (static_wi8_ai8, min/max calibration, int8 in) on the float .tflite; PT2E (litert-torch's
PT2EQuantizer, per-channel symmetric, histogram observers, through prepare_pt2e/convert_pt2e and
litert_torch.convert) on the .pt2 program (with --program); and the route sportsedge's tflite-int8
takes (TFLite's calibrator, fitted ranges, the converter's own quantizer, uint8 in). Each runs
through LiteRT against the float file. Figures in docs/guides/pytorch.md.

    .venv/bin/python experiments/torch_int8_routes.py EXPORTS/NAME-tflite-fp32.tflite \\
        EXPORTS/NAME-tflite-int8.tflite --calibration ../shared/data/sports100-dev/train \\
        --data ../shared/data/sports100-dev/valid --program MODEL.pt2 --scale S --offset O
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


def pt2e(program: Path, scale: float, offset: float, calibration: np.ndarray) -> bytes:
    """PT2E: observers in the exported graph, calibrated on ``calibration``, lowered by litert-torch."""
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer, quant_config
    from torchao.quantization.pt2e import quantize_pt2e

    from sportsedge.core.input_transform import PixelTransform
    from sportsedge.export.torch_model import load_program, pixel_wrapper

    model, shape, channels_first, _ = load_program(program)
    wrapped = pixel_wrapper(model, PixelTransform("custom", (scale,) * 3, (offset,) * 3), channels_first)
    sample = (torch.zeros((1, *calibration.shape[1:]), dtype=torch.float32),)
    graph = torch.export.export(wrapped, sample).module()
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True)
    )
    graph = quantize_pt2e.prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for img in calibration:
            graph(torch.from_numpy(img[None].astype(np.float32)))
    graph = quantize_pt2e.convert_pt2e(graph, fold_quantize=False)
    edge = litert_torch.convert(graph, sample, quant_config=quant_config.QuantConfig(pt2e_quantizer=quantizer))
    out = Path("/tmp/pt2e-route.tflite")
    edge.export(str(out))
    return out.read_bytes()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("fp32", type=Path)
    ap.add_argument("int8", type=Path, help="sportsedge's tflite-int8 of the same model")
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--data", required=True, help="class folders: top-1 and agreement on every image")
    ap.add_argument("--calibration-size", type=int, default=300)
    ap.add_argument("--program", type=Path, help="the .pt2 the float file came from: adds the PT2E route")
    ap.add_argument("--scale", type=float, default=1 / 128, help="the program's preprocessing (as export's)")
    ap.add_argument("--offset", type=float, default=-127 / 128)
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
    routes = [("float32", fp32, 0.0), ("ai-edge-quantizer static_wi8_ai8", static, took)]
    if args.program:
        t0 = time.monotonic()
        routes.append(
            ("PT2E (litert-torch PT2EQuantizer)", pt2e(args.program, args.scale, args.offset, full_range(cal)), 0.0)
        )
        routes[-1] = (*routes[-1][:2], time.monotonic() - t0)
    routes.append(("sportsedge tflite-int8", args.int8.read_bytes(), None))
    for name, data, seconds in routes:
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
