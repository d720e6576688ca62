"""int8 activation ranges fitted to the calibration images, for full-int8 TFLite.

The converter quantizes each activation over its min..max on the calibration images. In
MobileNetV2 the linear bottlenecks (projection convs and residual adds) have rare outliers: their
min..max is up to twice as wide as where nearly all values lie, so every other value gets a step that
much coarser. ``RangeFit.MSE`` picks, per activation, the range whose int8 grid gives the least
squared error over the activation's histogram on the calibration images, clipping the outliers
(docs/quantization.md has the measurements). The graph's inputs and outputs keep their ranges: the
input is the pixels, and the output range is what the runtime dequantizes.

The calibrated float model (TFLite's calibrate-only conversion) carries min..max per activation;
this module runs it over the calibration images with every tensor kept, histograms each
activation, writes the fitted ranges back, and TFLite's quantizer takes them from there.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from sportsedge.export.config import RangeFit

BINS = 2048  # histogram bins over each activation's min..max
GRID = np.linspace(0.1, 1.0, 46)  # candidate range ends, as fractions of the observed min and max
LEVELS = 255  # int8 steps across a range
# The first op of one of these kinds ends the baked preprocessing (the ops before it rescale pixels).
WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D", "BATCH_MATMUL")


def calibrated_ranges(model) -> tuple[dict[int, tuple[float, float]], set[int]]:
    """({tensor index: (min, max)} of the first subgraph's calibrated activations, inputs and
    outputs left out; the indices among them the graph computes from the pixels before its first
    conv or dense op: the baked preprocessing). ``model``: a flatbuffer ModelT."""
    from sportsedge.export.tf_private import schema as tflite_schema

    schema = tflite_schema()

    graph = model.subgraphs[0]
    fixed = set(graph.inputs) | set(graph.outputs)
    ranges = {}
    for i, t in enumerate(graph.tensors):
        q = t.quantization
        if i in fixed or q is None or q.min is None or len(q.min) != 1:
            continue
        lo, hi = float(q.min[0]), float(q.max[0])
        if hi > lo:
            ranges[i] = (lo, hi)
    weighted = {getattr(schema.BuiltinOperator, name) for name in WEIGHTED}
    leading: set[int] = set()
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) in weighted:
            break
        leading.update(int(i) for i in op.outputs)
    return ranges, leading & set(ranges)


def histograms(model_bytes: bytes, ranges: dict, pixels: np.ndarray, tell=None) -> tuple[dict, dict]:
    """Each activation's histogram (BINS over its min..max) and exact (min, max) on ``pixels``,
    through the float model."""
    from sportsedge.runtime.backends import litert_interpreter_class

    Interpreter = litert_interpreter_class()
    resolver = sys.modules[Interpreter.__module__].OpResolverType
    # Without the default (XNNPACK) delegate: inside a delegated partition tensors are not kept.
    interp = Interpreter(
        model_content=model_bytes,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    counts = {i: np.zeros(BINS, np.int64) for i in ranges}
    seen = {i: (np.inf, -np.inf) for i in ranges}
    start = time.monotonic()
    for n, img in enumerate(pixels, 1):
        interp.set_tensor(inp["index"], img[None].astype(inp["dtype"]))
        interp.invoke()
        for i, (lo, hi) in ranges.items():
            v = interp.get_tensor(i).ravel()
            idx = np.clip(((v - lo) * (BINS / (hi - lo))).astype(np.int64), 0, BINS - 1)
            counts[i] += np.bincount(idx, minlength=BINS)
            seen[i] = (min(seen[i][0], float(v.min())), max(seen[i][1], float(v.max())))
        if tell and (n % 100 == 0 or n == len(pixels)):
            tell(f"  activation ranges: {n}/{len(pixels)} images ({time.monotonic() - start:.0f} s)")
    return counts, seen


def mse_range(counts: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The (lo, hi) among GRID fractions of the observed ends with the least squared int8 error
    over a histogram of ``counts`` on lo..hi; one-sided (lo = 0) activations keep lo."""
    edges = np.linspace(lo, hi, len(counts) + 1)
    x = (edges[1:] + edges[:-1]) / 2
    keep = counts > 0
    x, w = x[keep], counts[keep]
    los = GRID * lo if lo < 0 else np.array([lo])
    his = GRID * hi if hi > 0 else np.array([hi])
    cand_lo, cand_hi = (g.ravel() for g in np.meshgrid(los, his, indexing="ij"))
    ok = cand_hi > cand_lo
    cand_lo, cand_hi = cand_lo[ok, None], cand_hi[ok, None]
    step = (cand_hi - cand_lo) / LEVELS
    q = np.clip(np.round((x - cand_lo) / step), 0, LEVELS) * step + cand_lo
    best = int(np.argmin(((x - q) ** 2 * w).sum(1)))
    return float(cand_lo[best, 0]), float(cand_hi[best, 0])


def fit(calibrated: bytes, pixels: np.ndarray, method: RangeFit, tell=None) -> tuple[bytes, dict]:
    """The calibrated float model with its activation ranges fitted by ``method``, and a summary
    for the manifest; MINMAX returns it unchanged (the converter's own ranges)."""
    if method is RangeFit.MINMAX:
        return calibrated, {"activation_ranges": method.value}
    from sportsedge.export.tf_private import read_model, write_model

    model = read_model(calibrated)
    observed, preprocessing = calibrated_ranges(model)
    try:
        counts, seen = histograms(calibrated, observed, pixels, tell)
    except (RuntimeError, ValueError) as e:  # a graph the interpreter cannot run tensor by tensor
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if tell:
            tell(f"  activation ranges: cannot histogram this graph ({reason}); kept the converter's min..max")
        return calibrated, {"activation_ranges": RangeFit.MINMAX.value, "asked": method.value, "why": reason}
    narrowed = []
    for i, (lo, hi) in observed.items():
        # The preprocessing's tensors are the pixels rescaled: a few hundred exact levels, which
        # their exact span keeps apart (the converter's range for them can be wider than the data).
        exact = i in preprocessing and seen[i][1] > seen[i][0]
        new_lo, new_hi = seen[i] if exact else mse_range(counts[i], lo, hi)
        q = model.subgraphs[0].tensors[i].quantization
        q.min, q.max = np.array([new_lo], np.float32), np.array([new_hi], np.float32)
        narrowed.append((new_hi - new_lo) / (hi - lo))
    summary = {
        "activation_ranges": method.value,
        "activations": len(narrowed),
        "median_width": round(float(np.median(narrowed)), 3) if narrowed else 1.0,
    }
    return write_model(model), summary
