"""int8 activation ranges for ONNX, fitted the way tflite-int8's are (export/ranges.py).

onnxruntime's static quantizer calibrates each activation over its min..max, as TFLite's
converter does, with the same cost: rare outliers in MobileNetV2's linear bottlenecks make every
other value's step coarser. Here the float ONNX model runs over the calibration images with
every float activation kept as an output; each gets a histogram over its min..max and the range
with the least squared int8 error (``ranges.mse_range``), handed to ``quantize_static`` through
its public ``TensorQuantOverrides`` option. As in TFLite, the graph's input and output keep their
ranges, and the baked preprocessing (the tensors before the first conv) keeps its exact span.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sportsedge.export.config import RangeFit
from sportsedge.export.ranges import BINS, mse_range
from sportsedge.runtime.ort_session import session_options

WEIGHTED = ("Conv", "ConvTranspose", "MatMul", "Gemm")  # the first of these ends the baked preprocessing


def _activations(model) -> tuple[list[str], set[str]]:
    """(float activations in graph order, those computed before the first weighted op)."""
    import onnx

    graph = model.graph
    floats = {vi.name for vi in graph.value_info if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    ends = {o.name for o in graph.output} | {i.name for i in graph.input}
    names, leading, weighted_seen = [], set(), False
    for node in graph.node:
        weighted_seen |= node.op_type in WEIGHTED
        for out in node.output:
            if out in floats and out not in ends:
                names.append(out)
                if not weighted_seen:
                    leading.add(out)
    return names, leading


def _session(model, names: list[str]):
    import onnxruntime as ort

    by_name = {vi.name: vi for vi in model.graph.value_info}
    model.graph.output.extend(by_name[n] for n in names)
    return ort.InferenceSession(model.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])


def fitted_overrides(float_model: Path, pixels: np.ndarray, method: RangeFit, tell=None) -> tuple[dict, dict]:
    """``TensorQuantOverrides`` for quantize_static, and a summary for the manifest; MINMAX gives
    no overrides (onnxruntime's own min..max)."""
    if method is RangeFit.MINMAX:
        return {}, {"activation_ranges": method.value}
    import onnx

    model = onnx.load(str(float_model))
    names, leading = _activations(model)
    sess = _session(model, names)
    feed = sess.get_inputs()[0].name
    start = time.monotonic()

    def outputs():
        for img in pixels:
            yield sess.run(names, {feed: img[None].astype(np.float32)})

    lo = np.full(len(names), np.inf)
    hi = np.full(len(names), -np.inf)
    for values in outputs():  # pass 1: min..max, as onnxruntime's own calibration sees them
        lo = np.minimum(lo, [float(v.min()) for v in values])
        hi = np.maximum(hi, [float(v.max()) for v in values])
    counts = np.zeros((len(names), BINS), np.int64)
    width = np.where(hi > lo, hi - lo, 1.0)
    for n, values in enumerate(outputs(), 1):  # pass 2: histograms over those ranges
        for i, v in enumerate(values):
            idx = np.clip(((v.ravel() - lo[i]) * (BINS / width[i])).astype(np.int64), 0, BINS - 1)
            counts[i] += np.bincount(idx, minlength=BINS)
        if tell and (n % 100 == 0 or n == len(pixels)):
            tell(f"  onnx activation ranges: {n}/{len(pixels)} images ({time.monotonic() - start:.0f} s)")
    overrides, narrowed = {}, []
    for i, name in enumerate(names):
        if name in leading or not hi[i] > lo[i]:  # exact span for the preprocessing; constants as they are
            continue
        new_lo, new_hi = mse_range(counts[i], float(lo[i]), float(hi[i]))
        overrides[name] = [{"rmin": np.float32(new_lo), "rmax": np.float32(new_hi)}]
        narrowed.append((new_hi - new_lo) / (hi[i] - lo[i]))
    summary = {
        "activation_ranges": method.value,
        "activations": len(narrowed),
        "median_width": round(float(np.median(narrowed)), 3) if narrowed else 1.0,
    }
    return overrides, summary
