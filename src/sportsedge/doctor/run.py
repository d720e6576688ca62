"""`sportsedge doctor`: quantize as export would, find the layers int8 hurts, search the fewest
kept float that meet the budget, time plain against mixed, and write doctor.md and doctor.html."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sportsedge.core.errors import InputError, UsageError
from sportsedge.core.formats import FORMATS
from sportsedge.doctor.config import DoctorConfig
from sportsedge.export.families import family_of, source_kind
from sportsedge.export.selective import RULE, Layer, Scored, score
from sportsedge.export.sources.family import SourceFamily, impl
from sportsedge.util import progress
from sportsedge.util.quiet import captured


@dataclass(frozen=True)
class Images:
    """The --data images, decoded once, split into the search's and the report's."""

    search: np.ndarray  # uint8 pixels the search measures candidates on
    search_labels: np.ndarray  # their class indices
    report: np.ndarray  # uint8 pixels the reported figures come from (disjoint from search)
    report_labels: np.ndarray  # their class indices


@dataclass(frozen=True)
class Diagnosis:
    """One int8 family's findings."""

    format: str  # tflite-int8 or onnx-int8
    layers: list[Layer]  # every quantized layer, graph order
    ranked: list[tuple[Layer, Scored]]  # the shortlist with each layer's gain alone in float, best first
    float_layers: list[str]  # the search's answer: layers kept float (empty: plain int8 meets the budget)
    met: bool  # the budget was met on the search images
    candidates: int  # files the search built and measured
    report: dict[str, Scored]  # "float", "plain int8", "mixed int8" on the report images
    worst_classes: list[tuple[str, float, float]]  # (class, float top-1, plain int8 top-1), most lost first
    files: dict[str, str]  # "plain" and "mixed" file paths
    latency: dict[str, dict]  # bench's rows of plain and mixed at the latency run's threads
    seconds: float  # how long this family's diagnosis took


def check_source(model: str) -> SourceFamily:
    """The source's family; a converted or already-int8 file refused in one line."""
    path = Path(model)
    if path.suffix.lower() == ".tflite":
        raise UsageError(
            f"{path}: a .tflite is already converted; doctor needs the model it came from "
            "(the run folder, .keras, .h5, SavedModel or float .onnx)"
        )
    family = family_of(source_kind(path))
    why = impl(family.doctor_refusal)(path) if family.doctor_refusal is not None else None
    if why:
        raise UsageError(f"{path}: {why}")
    return family


def load_images(data: str, labels: tuple[str, ...], cfg: DoctorConfig, input_size) -> Images:
    """Up to ``cfg.images`` images of ``data``, its classes checked against the model's labels."""
    from sportsedge.runtime.imagesets import label_index, list_stratified, scan_classes
    from sportsedge.runtime.imagesets import load_images as decode

    folder = Path(data)
    if not folder.is_dir():
        raise InputError(folder, "data folder not found")
    classes = {name: listing for name, listing in scan_classes(folder).items() if listing.images}
    if not classes:
        raise InputError(folder, "no images in class subfolders (doctor needs labelled images: one folder per class)")
    unknown = sorted(set(classes) - set(labels))
    if unknown:
        raise InputError(
            folder,
            f"classes the model does not know: {', '.join(unknown[:5])} "
            f"(its labels: {', '.join(labels[:5])}{' ...' if len(labels) > 5 else ''})",
        )
    paths = list_stratified(folder, cfg.images, seed=0)
    pixels, kept = decode(paths, input_size, "doctor")
    idx = label_index([p.relative_to(folder).parts[0] for p in kept], labels)
    order = np.arange(len(kept))
    # every k-th image to the search, stratified as the listing is round-robin over classes
    search = (order % max(1, round(1 / cfg.search_fraction)) == 0) if cfg.search_fraction > 0 else order < 0
    if search.all() or not search.any():
        raise InputError(folder, f"{len(kept)} images cannot be split into search and report sets")
    return Images(pixels[search], idx[search], pixels[~search], idx[~search])


def doctor(cfg: DoctorConfig, user, say: Callable[[str], None] | None = None) -> tuple[Path, list[Diagnosis]]:
    """Diagnose ``cfg.model``'s int8 files; returns the output folder and one Diagnosis per family.
    Progress lines go to ``say``, by default to the terminal's stderr (past the capture of the
    converters' chatter, which goes to ``OUT/doctor.log``).

    Raises:
        UsageError: a .tflite or int8 .onnx source, or a family the source cannot export.
        InputError: a --data folder without labelled images, or with classes the model lacks.
    """
    from sportsedge.doctor.report import write_report
    from sportsedge.export.context import ExportContext
    from sportsedge.export.families import resolve_source

    family = check_source(cfg.model)
    if cfg.data is None:
        raise UsageError("doctor needs --data DIR: labelled images (class subfolders named as the model's labels)")
    # As export calibrates: a run on its own train/, your model on --calibration (else --data).
    source, loaded = resolve_source(cfg.model, user, cfg.calibration or (None if family.ours else cfg.data))
    families = _families(cfg.families, family)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = ExportContext(source, loaded, cfg.calibration_size, parity_size=1)
    try:
        images = load_images(cfg.data, source.labels, cfg, source.input_size)
        counts = f"{len(images.search)} search + {len(images.report)} report images"
        (say or progress.say)(f"doctor: {source.name}, {counts} from {cfg.data}")
        # The quantizers' and converters' chatter goes to doctor.log, as export's goes to export.log;
        # progress still reaches the terminal through the capture.
        with captured(out / "doctor.log") as terminal:
            tell = say or (lambda m: print(m, file=terminal, flush=True))
            found = [_diagnose(family, ctx, images, cfg, out, tell) for family in families]
    finally:
        ctx.close()
    write_report(out, cfg, source, found, RULE)
    return out, found


# The int8 format doctor diagnoses per --families name.
INT8 = {"tflite": "tflite-int8", "onnx": "onnx-int8"}


def _families(text: str, family: SourceFamily) -> list[str]:
    """The int8 families to diagnose: ``auto`` is every one the source's family can become."""
    able = [name for name, fmt in INT8.items() if family.formats(FORMATS[fmt])]
    wanted = able if text == "auto" else [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in INT8]
    if bad:
        raise UsageError(f"--families: unknown {bad[0]!r} (tflite, onnx or auto)")
    unable = [f for f in wanted if f not in able]
    if unable:
        raise UsageError(f"{family.why_not}, not {INT8[unable[0]]}: use --families {','.join(able)}")
    return wanted


def _diagnose(family: str, ctx, images: Images, cfg: DoctorConfig, out: Path, say) -> Diagnosis:
    from sportsedge.export.selective import layers_of, search
    from sportsedge.runtime import Classifier

    t0 = time.monotonic()
    doc = layers_of(family, ctx, say)
    ext = FORMATS[doc.format].ext
    ref_search, ref_report = ctx.reference(images.search), ctx.reference(images.report)
    say(f"  {doc.format}: every layer's int8 error, then the shortlist alone in float ...")
    found = search(
        doc,
        images.search,
        images.search_labels,
        ref_search,
        cfg.max_drop,
        cfg.shortlist,
        ctx.work,
        say,
        always_rank=True,
        min_agreement=cfg.min_agreement,
    )
    say(
        f"  {doc.format}: plain int8 loses {found.plain.drop:.1f} points on the search images, "
        f"agreement {found.plain.agreement:.3f}"
    )
    files = {
        "plain": doc.build([], out / f"{ctx.model_name}-{doc.format}-plain{ext}"),
        "mixed": doc.build(found.chosen, out / f"{ctx.model_name}-{doc.format}-mixed{ext}"),
    }
    report = {"float": score(ref_report, ref_report, images.report_labels)}
    hits = {}
    for name, path in files.items():
        probs = Classifier.load(path, verify=False).scores(images.report)
        report[f"{name} int8"] = score(probs, ref_report, images.report_labels)
        hits[name] = np.argmax(probs, axis=1) == images.report_labels
    float_hits = np.argmax(ref_report, 1) == images.report_labels
    worst = _worst_classes(ctx.labels, images.report_labels, float_hits, hits["plain"])
    latency = _latency(files, cfg, out, say)
    return Diagnosis(
        doc.format,
        doc.layers(),
        found.ranked,
        [la.name for la in found.chosen],
        found.met,
        found.candidates,
        report,
        worst,
        {k: str(v) for k, v in files.items()},
        latency,
        round(time.monotonic() - t0, 1),
    )


def _worst_classes(labels, truth: np.ndarray, float_hits: np.ndarray, int8_hits: np.ndarray, count: int = 5):
    rows = []
    for c in np.unique(truth):
        mask = truth == c
        rows.append((labels[int(c)], float(np.mean(float_hits[mask])), float(np.mean(int8_hits[mask]))))
    return sorted((r for r in rows if r[2] < r[1]), key=lambda r: r[2] - r[1])[:count]


def _latency(files: dict[str, Path], cfg: DoctorConfig, out: Path, say) -> dict[str, dict]:
    """Plain against mixed in one bench run (interleaved rounds, fresh processes), on --data."""
    from sportsedge.bench.config import BenchConfig
    from sportsedge.bench.run import bench

    config = BenchConfig(threads=(cfg.threads,), rounds=5, runs=200, warmup=10, camera_runs=0, verify=False)
    say(f"  latency: plain against mixed, {cfg.threads} thread(s), 5 interleaved rounds ...")
    rows = bench(
        [files["plain"], files["mixed"]],
        Path(cfg.data),
        out / f"bench-{Path(files['plain']).suffix[1:]}",
        config,
        say=lambda m: None,
    )
    by_path = {r["path"]: r for r in rows}
    return {name: dict(by_path.get(str(path), {})) for name, path in files.items()}
