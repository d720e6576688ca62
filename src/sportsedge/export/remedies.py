"""Accuracy-aware `tflite-int8`: when post-training int8 loses more than ``max_drop`` top-1 points
against the Keras model on the parity set, or fails the parity check, try remedies in order and
keep the first that meets the bound and passes (else the best one), recording every attempt in
the manifest. Post-training int8 and the first two remedies quantize with the activation ranges
fitted as ``AccuracyConfig.activation_ranges`` says (export/ranges.py).

Remedies (one table, ``config.REMEDIES``, name -> generator of candidates):
- ``calibration``: calibrate on ``calibration_factor`` times as many real images;
- ``fallback``: keep the fewest layers float that meet the bound, searched (export/selective.py,
  the rule `sportsedge doctor` reports): shortlist the layers by int8 error, order them by the
  measured gain of each alone in float, bisect over the prefix length; every candidate runs
  through the runtime on search images disjoint from the parity set (the parity folder's other
  images, else the calibration images). onnx-int8 has this remedy too (``onnx_fallback``);
- ``int16``: 16-bit activations with int8 weights (float32 input: raw pixels as floats).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sportsedge.core.formats import FORMATS, Status
from sportsedge.export.config import REMEDIES, AccuracyConfig, RangeFit
from sportsedge.export.converted import Converted
from sportsedge.export.tflite import int8_bytes, quantize
from sportsedge.runtime.imagesets import full_range, list_stratified, load_images
from sportsedge.util import fileio

if TYPE_CHECKING:
    from sportsedge.export.context import ExportContext
    from sportsedge.export.converted import Tell


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


def _selective(ctx, denylisted: list[str], tell) -> bytes:
    """Full int8 with the named ops' outputs left float; uint8 pixels in, uint8 out as before."""
    return quantize(ctx.fitted_float(tell)[0], denylisted)


SEARCH_SIZE = 200  # search images at most (the parity folder's images outside the parity set)
MIN_SEARCH = 40  # fewer than this outside the parity set: search on the calibration images instead
SHORTLIST = 8  # layers measured alone in float


def search_set(ctx) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, str]:
    """(pixels, labels or None, float probabilities, what they are) of images disjoint from the
    parity set, for the selective search."""
    from sportsedge.runtime.imagesets import evenly_spaced, image_files

    rest: list[Path] = []
    if ctx.parity_dir is not None and Path(ctx.parity_dir).is_dir():
        parity = set(ctx.parity_paths)
        rest = evenly_spaced([p for p in image_files(Path(ctx.parity_dir)).images if p not in parity], SEARCH_SIZE)
    if len(rest) >= MIN_SEARCH:
        pixels, kept = load_images(rest, ctx.input_size, "search")
        labels = ctx.labels_of(kept)
        what = f"{len(kept)} images of {ctx.parity_dir} outside the parity set"
        return pixels, (labels if (labels >= 0).all() else None), ctx.reference(pixels), what
    pixels = ctx.calibration
    if ctx.parity_dir is None:
        why = "no parity folder to hold images back from"
    else:
        why = f"{len(rest)} images of {ctx.parity_dir} lie outside the parity set, fewer than {MIN_SEARCH}"
    return pixels, None, ctx.reference(pixels), f"the {len(pixels)} calibration images (agreement with float; {why})"


def _searched(ctx, acc: AccuracyConfig, family: str, tell):
    """(layers kept float, details) of the selective search for one int8 family."""
    from sportsedge.export.selective import layers_of, search

    assert acc.max_drop is not None  # for the type checker: both callers return early without a bound
    layers = layers_of(family, ctx, tell)
    pixels, labels, reference, what = search_set(ctx)
    tell(f"  fallback: searching the layers to keep float on {what} ...")
    found = search(
        layers,
        pixels,
        labels,
        reference,
        acc.max_drop,
        SHORTLIST,
        Path(ctx.work),
        tell,
        always_rank=True,
        min_agreement=ctx.min_agreement,  # the parity check's floor, --min-agreement included
    )
    chosen = found.chosen
    if not chosen:  # plain int8 met the bound on the search images, not on the parity set
        chosen = [la for la, _ in found.ranked[:1]]
        tell(
            f"  fallback: plain int8 meets the bound on {what}, so the search cannot see which layers cost the "
            f"parity set's points; trying its top-ranked layer alone ({', '.join(la.name for la in chosen)}). "
            f"For a measured choice on held-out images: {doctor_hint(ctx)}"
        )
    details = {
        "float_layers": [la.name for la in chosen],
        "float_ops": [k for la in chosen for k in la.keys],
        "searched_on": what,
        "search_candidates": found.candidates,
        "ranking": [{"layer": la.name, "kl_alone": s.kl, "agreement_alone": s.agreement} for la, s in found.ranked],
    }
    return layers, chosen, details


def doctor_hint(ctx) -> str:
    """The doctor command for this export's source and images (it splits them into search and report halves)."""
    data = f" --data {ctx.parity_dir}" if ctx.parity_dir is not None else " --data SPLIT_DIR"
    return f"sportsedge doctor {ctx.source.path}{data} --out DOCTOR_DIR"


def float_fallback(ctx, acc: AccuracyConfig, tell):
    _, chosen, details = _searched(ctx, acc, "tflite", tell)
    data = _selective(ctx, list(details["float_ops"]), tell)
    yield Candidate(f"fallback {len(chosen)} float", data, details)


def onnx_fallback(ctx, plain: bytes, output, tell) -> tuple[bytes, dict]:
    """onnx-int8 that misses ``max_drop`` on the parity set: the searched file if it does better."""
    acc: AccuracyConfig = ctx.accuracy
    first = _measure(ctx, plain, None, "onnx-int8")
    if acc.max_drop is None or "fallback" not in acc.remedies or _meets(first, acc):
        return plain, {}
    tell(f"  onnx int8 loses {first['drop']:.1f} points (bound {acc.max_drop:g}): trying fallback")
    layers, chosen, details = _searched(ctx, acc, "onnx", tell)
    data = layers.quantized_bytes(chosen)
    figures = _measure(ctx, data, f"fallback {len(chosen)} float", "onnx-int8")
    record = {
        "max_drop": acc.max_drop,
        "post_training": first,
        "attempts": [{"remedy": "fallback", **figures, **details}],
    }
    if _rank(figures) < _rank(first):
        why = f"--max-drop {acc.max_drop:g}: the fallback remedy's search"
        return data, {
            "accuracy": {**record, "kept": "fallback"},
            "float_layers": details["float_layers"],
            "float_layers_why": why,
        }
    return plain, {"accuracy": {**record, "kept": PLAIN, "met": False}}


def int16(ctx, acc: AccuracyConfig, tell):
    from sportsedge.export.sources.family import impl

    data = impl(ctx.family.int16)(ctx)  # the converter's, or from a float file (PyTorch: no SavedModel)
    yield Candidate("int16 activations", data, {"activations": "int16", "input_dtype": "float32"})


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
    record: dict[str, Any] = {"max_drop": acc.max_drop, "post_training": first, "attempts": [], "kept": PLAIN}
    if _meets(first, acc):
        return Converted(plain, {"accuracy": record, **ranges}, output=output)
    tell(
        f"  int8 loses {first['drop']:.1f} points, agreement {first['agreement']:.3f} ({first['status']}; "
        f"bound {acc.max_drop:g} points): trying {', '.join(acc.remedies)}"
    )
    best = (PLAIN, plain, first)
    tried: list[Candidate] = []
    for remedy in acc.remedies:
        for cand in _remedy(remedy)(ctx, acc, tell):
            tried.append(cand)
            figures = _measure(ctx, cand.data, cand.label)
            record["attempts"].append({"remedy": remedy, "label": cand.label, **figures, **cand.details})
            tell(
                f"  {cand.label}: drop {figures['drop']:.1f} points, agreement {figures['agreement']:.3f}, "
                f"{figures['size_bytes'] / 1e6:.2f} MB"
            )
            if _meets(figures, acc):
                record["kept"] = cand.label
                return Converted(cand.data, {"accuracy": record, **ranges, **_floats(cand, acc)}, output=output)
            if _rank(figures) < _rank(best[2]):
                best = (cand.label, cand.data, figures)
    record["kept"], record["met"] = best[0], False
    kept = next((c for c in tried if c.label == best[0]), None)
    return Converted(best[1], {"accuracy": record, **ranges, **_floats(kept, acc)}, output=output)


def _floats(cand: Candidate | None, acc: AccuracyConfig) -> dict:
    """The manifest's and the file's record of the layers a kept candidate leaves float."""
    if cand is None or "float_layers" not in cand.details:
        return {}
    return {
        "float_layers": cand.details["float_layers"],
        "float_layers_why": f"--max-drop {acc.max_drop:g}: {cand.label}",
    }


def _float_details(acc: AccuracyConfig) -> dict:
    return {"float_layers": list(acc.float_layers), "float_layers_why": "--float-layers"}


def _with_float_layers(ctx, names: tuple[str, ...], tell) -> bytes:
    """Full int8 with the named Keras layers' ops left float (`export --float-layers`)."""
    from sportsedge.export.float_layers import pick, tflite_layers

    keys = pick(tflite_layers(ctx.calibrated_float_file, ctx.tflite_layer), names, "the TFLite model")
    tell(f"  float layers: {', '.join(names)} ({len(keys)} op(s))")
    return _selective(ctx, keys, tell)


def _meets(figures: dict, acc: AccuracyConfig) -> bool:
    return figures["drop"] <= acc.max_drop and figures["status"] != Status.FAILED


def _rank(figures: dict) -> tuple:
    """Sort key of the best candidate when none meets the bound: passes parity, then drop, then agreement."""
    return (figures["status"] == Status.FAILED, figures["drop"], -figures["agreement"])


def _measure(ctx, data: bytes, label: str | None, base: str = "tflite-int8") -> dict:
    """Drop, agreement and size of plain int8 (``label`` None) or a remedy's candidate, through the
    runtime like every parity check; ``base`` is the int8 format (tflite-int8 or onnx-int8)."""
    from sportsedge.runtime import ModelMetadata, attach_metadata

    t0 = time.monotonic()
    safe = (label or PLAIN).replace(" ", "-")
    ext = FORMATS[base].ext
    path = Path(ctx.work) / f"candidate-{base}-{safe}{ext}"
    path.write_bytes(data)
    # Candidates are named by remedy (format "tflite-int8+fallback-3-float"): bench rows tell them apart.
    fmt = base if label is None else f"{base}+{safe}"
    attach_metadata(
        path,
        ModelMetadata(
            labels=ctx.labels,
            model_name=ctx.model_name,
            input_size=ctx.input_size,
            format=fmt,
            output=ctx.int8_output() if base == "tflite-int8" else ctx.onnx_logits[1],
            extra={"remedy": label or PLAIN},
        ),
        sidecar=False,
    )
    p = ctx.check(path, data, FORMATS[base])
    if ctx.attempts_dir is not None and label is not None:
        # Every candidate is kept for `sportsedge bench`: each remedy's latency cost is measurable.
        ctx.attempts_dir.mkdir(parents=True, exist_ok=True)
        fileio.write_bytes(ctx.attempts_dir / f"{ctx.model_name}-{fmt}{ext}", path.read_bytes())
    return {
        "drop": round(drop_points(p), 3),
        "agreement": p["agreement"],
        "top1": p["top1_export"],
        "status": p["status"],
        "input_dtype": p["input_dtype"],
        "size_bytes": len(data),
        "check_seconds": round(time.monotonic() - t0, 2),
    }
