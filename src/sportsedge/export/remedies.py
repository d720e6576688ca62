"""Accuracy-aware `tflite-int8`: when post-training int8 loses more than ``max_drop`` top-1 points
against the Keras model on the parity set, or fails the parity check, try remedies in order and
keep the first that meets the bound and passes (else the best one), recording every attempt in
the manifest. Post-training int8 and the first two remedies quantize with the activation ranges
fitted as ``AccuracyConfig.activation_ranges`` says (export/ranges.py).

Remedies (one table, ``config.REMEDIES``, name -> generator of candidates):
- ``calibration``: calibrate on ``calibration_factor`` times as many real images;
- ``fallback``: keep the most sensitive ops in float. Sensitivity per op is measured with
  TensorFlow's QuantizationDebugger on calibration images (RMSE of each op's int8 output against
  its float output, in units of the op's quantization step, each op fed the same int8 input;
  the debugger quantizes with the converter's min..max ranges); the top 1, 3, 10, 30 ops are
  left float in turn;
- ``int16``: 16-bit activations with int8 weights (float32 input: raw pixels as floats).
"""

from __future__ import annotations

import csv
import io
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sportsedge.core.formats import FORMATS, Status
from sportsedge.export.config import REMEDIES, AccuracyConfig, RangeFit
from sportsedge.export.converted import Converted
from sportsedge.export.tflite import calibrated, converter, int8_bytes, quantize, representative
from sportsedge.runtime.imagesets import full_range, list_stratified, load_images
from sportsedge.util import fileio

if TYPE_CHECKING:
    from sportsedge.export.context import ExportContext
    from sportsedge.export.converted import Tell


FALLBACK_STEPS = (1, 3, 10, 30)  # ops kept float, tried in turn
SENSITIVITY_IMAGES = 32  # calibration images the per-op sensitivity is measured on
PLAIN = "post-training"  # the manifest's name for plain post-training int8 (no remedy)


@dataclass(frozen=True)
class Candidate:
    label: str  # e.g. "fallback top 3": names the attempt in the manifest and its file
    data: bytes  # the model file
    details: dict = field(default_factory=dict)  # what the remedy changed, for the manifest


def drop_points(parity: dict) -> float:
    """Top-1 points lost against Keras; where labels are unknown, points of disagreement."""
    if parity["top1_keras"] is None:
        return 100.0 * (1.0 - parity["agreement"])
    return 100.0 * (parity["top1_keras"] - parity["top1_export"])


def more_calibration(ctx, acc: AccuracyConfig, tell):
    n = ctx.calibration_size * acc.calibration_factor
    paths = list_stratified(ctx.calibration_dir, n, ctx.seed)
    if len(paths) <= len(ctx.calibration):
        tell(f"  calibration: no more than the {len(ctx.calibration)} images already used, skipped")
        return
    pixels, _ = load_images(paths, ctx.input_size, "calibration")
    yield Candidate(
        f"calibration x{acc.calibration_factor}",
        int8_bytes(ctx, full_range(pixels), tell),
        {"calibration_images": int(len(pixels))},
    )


def op_sensitivity(ctx) -> list[tuple[str, str, float]]:
    """(tensor name, op, RMSE in quantization steps) per quantized op, most sensitive first."""
    import tensorflow as tf

    _, conv = converter(ctx, logits=True)
    calibrated(conv, ctx.calibration)
    debug_set = representative(ctx.calibration[:SENSITIVITY_IMAGES])
    with warnings.catch_warnings():  # the debugger runs TF's own (deprecated) interpreter
        warnings.simplefilter("ignore")
        debugger = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=debug_set)
        debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    buf.seek(0)
    rows = []
    for r in csv.DictReader(buf):
        scale = float(r["scale"]) or 1.0
        rows.append((r["tensor_name"], r["op_name"], float(np.sqrt(float(r["mean_squared_error"]))) / scale))
    return sorted(rows, key=lambda t: -t[2])


def _selective(ctx, denylisted: list[str], tell) -> bytes:
    """Full int8 with the named ops' outputs left float; uint8 pixels in, uint8 out as before."""
    return quantize(ctx.fitted_float(tell)[0], denylisted)


def float_fallback(ctx, acc: AccuracyConfig, tell):
    ranked = op_sensitivity(ctx)
    tell("  most sensitive ops: " + ", ".join(f"{op} {err:.1f}" for _, op, err in ranked[:5]))
    for k in FALLBACK_STEPS:
        if k > len(ranked):
            break
        chosen = ranked[:k]
        yield Candidate(
            f"fallback top {k}",
            _selective(ctx, [name for name, _, _ in chosen], tell),
            {"float_ops": [{"tensor": n, "op": op, "rmse_steps": round(e, 3)} for n, op, e in chosen]},
        )


def int16(ctx, acc: AccuracyConfig, tell):
    import tensorflow as tf

    _, conv = converter(ctx, logits=True)
    calibrated(conv, ctx.calibration)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    yield Candidate("int16 activations", conv.convert(), {"activations": "int16", "input_dtype": "float32"})


# Each config.REMEDIES name -> its generator of candidates, cheapest first (tests check both agree).
CANDIDATES = {"calibration": more_calibration, "fallback": float_fallback, "int16": int16}


def _remedy(name: str):
    return CANDIDATES[REMEDIES[name].name]


def convert_int8_accurate(ctx: ExportContext, tell: Tell) -> Converted:
    """`tflite-int8`: post-training full int8, then remedies while it misses the bound: more than
    ``max_drop`` top-1 points lost, or a failed parity check (agreement below the format's floor)."""
    acc: AccuracyConfig = ctx.accuracy
    output = ctx.int8_output()
    if acc.float_layers:
        return Converted(_with_float_layers(ctx, acc.float_layers, tell), _float_details(acc), output=output)
    plain = int8_bytes(ctx, tell=tell)
    minmax = {"activation_ranges": RangeFit.MINMAX.value, "path": "public converter"}
    ranges = {"ranges": minmax if ctx.activation_ranges is RangeFit.MINMAX else ctx.fitted_float()[1]}
    if acc.max_drop is None or not acc.remedies:
        return Converted(plain, ranges, output=output)
    first = _measure(ctx, plain, None)
    record = {"max_drop": acc.max_drop, "post_training": first, "attempts": [], "kept": PLAIN}
    if _meets(first, acc):
        return Converted(plain, {"accuracy": record, **ranges}, output=output)
    tell(
        f"  int8 loses {first['drop']:.1f} points, agreement {first['agreement']:.3f} ({first['status']}; "
        f"bound {acc.max_drop:g} points): trying {', '.join(acc.remedies)}"
    )
    best = (PLAIN, plain, first)
    for remedy in acc.remedies:
        for cand in _remedy(remedy)(ctx, acc, tell):
            figures = _measure(ctx, cand.data, cand.label)
            record["attempts"].append({"remedy": remedy, "label": cand.label, **figures, **cand.details})
            tell(
                f"  {cand.label}: drop {figures['drop']:.1f} points, agreement {figures['agreement']:.3f}, "
                f"{figures['size_bytes'] / 1e6:.2f} MB"
            )
            if _meets(figures, acc):
                record["kept"] = cand.label
                return Converted(cand.data, {"accuracy": record, **ranges}, output=output)
            if _rank(figures) < _rank(best[2]):
                best = (cand.label, cand.data, figures)
    record["kept"], record["met"] = best[0], False
    return Converted(best[1], {"accuracy": record, **ranges}, output=output)


def _float_details(acc: AccuracyConfig) -> dict:
    return {"float_layers": list(acc.float_layers), "float_layers_why": "--float-layers"}


def _with_float_layers(ctx, names: tuple[str, ...], tell) -> bytes:
    """Full int8 with the named Keras layers' ops left float (`export --float-layers`)."""
    from sportsedge.export.float_layers import keras_layers, pick, tflite_layers

    float_file = Path(ctx.work) / "float-layers.tflite"
    float_file.write_bytes(ctx.calibrated_float)
    known = keras_layers(ctx.model) + ([] if ctx.logits_model is None else keras_layers(ctx.logits_model))
    keys = pick(tflite_layers(float_file, known), names, "the TFLite model")
    tell(f"  float layers: {', '.join(names)} ({len(keys)} op(s))")
    return _selective(ctx, keys, tell)


def _meets(figures: dict, acc: AccuracyConfig) -> bool:
    return figures["drop"] <= acc.max_drop and figures["status"] != Status.FAILED


def _rank(figures: dict) -> tuple:
    """Sort key of the best candidate when none meets the bound: passes parity, then drop, then agreement."""
    return (figures["status"] == Status.FAILED, figures["drop"], -figures["agreement"])


def _measure(ctx, data: bytes, label: str | None) -> dict:
    """Drop, agreement and size of plain int8 (``label`` None) or a remedy's candidate, through the
    runtime like every parity check."""
    from sportsedge.runtime import ModelMetadata, attach_metadata

    t0 = time.monotonic()
    safe = (label or PLAIN).replace(" ", "-")
    path = Path(ctx.work) / f"candidate-{safe}.tflite"
    path.write_bytes(data)
    # Candidates are named by remedy (format "tflite-int8+fallback-top-3"): bench rows tell them apart.
    fmt = "tflite-int8" if label is None else f"tflite-int8+{safe}"
    attach_metadata(
        path,
        ModelMetadata(
            labels=ctx.labels,
            model_name=ctx.model_name,
            input_size=ctx.input_size,
            format=fmt,
            output=ctx.int8_output(),
            extra={"remedy": label or PLAIN},
        ),
        sidecar=False,
    )
    p = ctx.check(path, data, FORMATS["tflite-int8"])
    if ctx.attempts_dir is not None and label is not None:
        # Every candidate is kept for `sportsedge bench`: each remedy's latency cost is measurable.
        ctx.attempts_dir.mkdir(parents=True, exist_ok=True)
        fileio.write_bytes(ctx.attempts_dir / f"{ctx.model_name}-{fmt}.tflite", path.read_bytes())
    return {
        "drop": round(drop_points(p), 3),
        "agreement": p["agreement"],
        "top1": p["top1_export"],
        "status": p["status"],
        "input_dtype": p["input_dtype"],
        "size_bytes": len(data),
        "check_seconds": round(time.monotonic() - t0, 2),
    }
