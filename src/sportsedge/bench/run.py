"""`sportsedge bench`: accuracy passes in this process, timing passes in fresh child processes
(never mixed), one row per artifact and thread count."""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from sportsedge.bench.accuracy import compare, label_indices, labelled_images, score
from sportsedge.bench.config import BenchConfig
from sportsedge.bench.rounds import Timed, run_rounds, summarise
from sportsedge.bench.timing import TimingJob, measure, measure_in_child
from sportsedge.core.builtin import resolve
from sportsedge.core.errors import InputError, MissingDependencyError, UsageError
from sportsedge.core.formats import FORMATS, Status, family_of
from sportsedge.core.records import BenchRow, ManifestEntry
from sportsedge.runtime import Classifier
from sportsedge.runtime.imagesets import evenly_spaced, load_images
from sportsedge.util.envinfo import environment

MODEL_EXTS = {f.ext for f in FORMATS.values()}
REFERENCE_FORMATS = ("tflite-fp32", "onnx-fp32")  # a model's agreement reference: the first of these present


def discover(inputs: list[str | Path]) -> list[Path]:
    """Model files from files and export folders (a folder's manifest order, FAILED ones left out)."""
    found: list[Path] = []
    for raw in inputs:
        p = resolve(raw)
        if p.is_dir():
            manifest = p / "manifest.json"
            if manifest.is_file():
                arts: dict[str, ManifestEntry] = json.loads(manifest.read_text())["artifacts"]
                found += [p / name for name, e in arts.items() if e.get("status") != Status.FAILED]
            else:
                files = sorted(f for f in p.iterdir() if f.suffix in MODEL_EXTS)
                if not files:
                    raise InputError(p, "no .tflite or .onnx files in this folder (and no manifest.json)")
                found += files
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(p, "no such model file or export folder")
    if not found:
        raise UsageError("no .tflite or .onnx files to benchmark")
    return list(dict.fromkeys(found))


def _load(path: Path, verify: bool) -> Classifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Classifier.load(path, verify=verify)


def reference_rows(rows: list[dict]) -> dict[str, int]:
    """Per model: the row index of its float32 reference artifact (REFERENCE_FORMATS order)."""
    ref: dict[str, int] = {}
    for fmt in reversed(REFERENCE_FORMATS):  # later formats are overwritten by preferred ones
        ref.update({r["model"]: i for i, r in enumerate(rows) if r["format"] == fmt})
    return ref


def _pixels_for(cache: dict, size, image_paths, names, data, say):
    if size not in cache:
        say(f"decoding {len(image_paths)} images from {data} at {size[0]}x{size[1]} ...")
        pixels, kept = load_images([Path(p) for p in image_paths], size, "benchmark")
        keep = {str(k) for k in kept}
        kept_names = None if names is None else [nm for p, nm in zip(image_paths, names) if p in keep]
        cache[size] = (pixels, kept_names, [str(k) for k in kept])
    return cache[size]


def _job(path: str, threads: int, pixels: np.ndarray, paths: list[str], cfg: BenchConfig, **extra) -> TimingJob:
    """A first-round timing job: ``cfg.timing_images`` preprocessed images spread over the split,
    and the first as many files for the end-to-end timings. The camera-size JPEG and the 1080p clip
    (``media=``) are for artifacts, not the Keras row."""
    return TimingJob(
        path=path,
        threads=threads,
        pixels=evenly_spaced(pixels, cfg.timing_images),
        image_paths=tuple(paths[: cfg.timing_images]),
        runs=cfg.runs_per_round,
        warmup=cfg.warmup,
        e2e_runs=cfg.e2e_runs,
        camera_runs=cfg.camera_runs,
        **extra,
    )


@dataclass(frozen=True)
class Scored:
    """One artifact after its accuracy pass, before timing."""

    row: dict  # the results row so far: identity, size, MACs and accuracy columns
    input_size: tuple[int, int]  # (height, width) its images were decoded at (the pixel cache's key)
    y: np.ndarray | None  # the true class index of each image it was scored on; None: unlabelled
    labels: tuple[str, ...]  # its class names, output order
    probs: np.ndarray  # (images, classes) probabilities


@dataclass(frozen=True)
class Baseline:
    """A Keras baseline row to time (bench --keras), one per run and thread count."""

    template: dict  # the row's identity and size columns
    y: np.ndarray | None  # true class index of each image; None: unlabelled
    labels: tuple[str, ...]  # the run's class names
    timed: Timed  # its timing job


def _keras_timed(keras_runs, cfg: BenchConfig, pixel_cache, image_paths, names, data, say) -> list[Baseline]:
    """The Keras baseline rows to time, one per run and thread count."""
    from sportsedge.bench.keras_baseline import measure_keras, run_info

    out = []
    for run_dir in keras_runs:
        info = run_info(run_dir)
        pixels, kept_names, kept_paths = _pixels_for(pixel_cache, info["input_size"], image_paths, names, data, say)
        y = None if names is None else label_indices(kept_names, info["labels"], run_dir)
        template = {
            "model": info["model"],
            "format": "keras-fp32",
            "path": str(Path(run_dir) / "model.keras"),
            "size_bytes": (Path(run_dir) / "model.keras").stat().st_size,
        }
        for t in cfg.threads:
            job = _job(str(run_dir), t, pixels, kept_paths, cfg, score_pixels=pixels)
            timed = Timed(job, measure_keras, f"keras {info['model']} threads {t}")
            out.append(Baseline(template, y, tuple(info["labels"]), timed))
    return out


def _litert(config: BenchConfig, say):
    """The cross-check function for run_rounds, or None (said once when the tool is missing)."""
    if not config.cross_check:
        return None
    from sportsedge.bench.crosscheck import TOOL, find_tool, litert_median_ms

    tool = find_tool()
    if tool is None:
        say(f"warning: --cross-check: {TOOL} not found (it ships with ai-edge-litert); benchmarking without it")
        return None
    return lambda job: litert_median_ms(tool, job.path, job.threads, job.runs, job.warmup)


def _score(paths: list[Path], image_paths, names, data, config: BenchConfig, pixel_cache: dict, say) -> list[Scored]:
    """The accuracy pass: every artifact on every image, in this process."""
    from sportsedge.bench.macs import tflite_macs

    scored = []
    for n, path in enumerate(paths, 1):
        clf = _load(path, config.verify)
        if names is not None:
            label_indices(names, clf.labels, path)  # classes that do not match fail before any decoding
        pixels, kept_names, _ = _pixels_for(pixel_cache, clf.input_size, image_paths, names, data, say)
        y = None if names is None else label_indices(kept_names, clf.labels, path)
        p = np.concatenate([clf.scores(pixels[i : i + 64]) for i in range(0, len(pixels), 64)])
        meta = clf.metadata
        row = {
            "model": meta.model_name or path.stem,
            "format": meta.format or path.suffix.lstrip("."),
            "path": str(path),
            "size_bytes": path.stat().st_size,
            "macs": tflite_macs(path) if family_of(path) == "tflite" else None,
            "float_layers": list(meta.extra.get("float_layers") or []),  # a mixed int8 file's float layers
            **score(p, y),
        }
        scored.append(Scored(row, clf.input_size, y, tuple(clf.labels), p))
        top1 = "not measured (unlabelled)" if row["top1"] is None else f"{100 * row['top1']:.1f}%"
        say(f"[{n}/{len(paths)}] accuracy {path.name}: top-1 {top1}")
    return scored


def _agree_with(reference: dict[str, int], scored: list[Scored], row: dict, probs: np.ndarray, y, labels) -> None:
    """Fill ``row``'s agreement columns against its model's float32 reference, where there is one."""
    i = reference.get(row["model"])
    if i is not None and len(scored[i].probs) == len(probs):
        row.update(compare(probs, scored[i].probs, y, labels))


def _timed(scored: list[Scored], pixel_cache: dict, media, config: BenchConfig) -> list[tuple[dict, Timed]]:
    """(row so far, timing job) of every artifact and thread count."""
    out = []
    for s in scored:
        pixels, _, kept_paths = pixel_cache[s.input_size]
        for t in config.threads:
            job = _job(
                s.row["path"], t, pixels, kept_paths, config, media=media, throughput_images=config.throughput_images
            )
            check = config.cross_check and family_of(s.row["path"]) == "tflite"
            out.append((s.row, Timed(job, measure, f"{Path(s.row['path']).name} threads {t}", cross_check=check)))
    return out


def _write(out: Path, rows: list[BenchRow], data, config: BenchConfig, say) -> None:
    from sportsedge.bench.plot import pareto_plot
    from sportsedge.bench.report import write

    meta = {
        "data": str(data),
        "runs": config.runs,
        "rounds": config.rounds,
        "warmup": config.warmup,
        "threads": list(config.threads),
        "command": " ".join(sys.argv),
        "environment": environment(),
    }
    out.mkdir(parents=True, exist_ok=True)
    write(out, rows, meta)
    try:
        pareto_plot(rows, out / "pareto.png")
    except MissingDependencyError as err:  # the runtime-only install has no matplotlib
        say(f"warning: pareto.png not written: {err}")


def bench(inputs, data, out, config: BenchConfig | None = None, keras_runs=(), say=print) -> list[BenchRow]:
    """Benchmark exported models on a split folder and write the results.

    Args:
        inputs: .tflite/.onnx files and export folders (a folder's manifest order; FAILED ones left out).
        data: a split folder with one folder per class (normally test/).
        out: the folder for results.json, results.csv, results.md and pareto.png.
        config: the timing settings (BenchConfig's defaults when None).
        keras_runs: run folders whose Keras models become baseline rows (needs the train extra).
        say: where progress lines go.

    Returns:
        The rows, one per artifact and thread count (the Keras baselines first).

    Raises:
        InputError: a model file or folder that is not there or cannot be used, or classes that do
            not match the model's labels.
        UsageError: nothing to benchmark.
    """
    config = config or BenchConfig()
    from sportsedge.bench.macs import fill_by_model
    from sportsedge.bench.report import flag_thread_scaling

    out = Path(out)
    paths = discover(inputs)
    image_paths, names = labelled_images(data)
    if names is None:
        say(f"note: {data} has no class folders: timing, size and agreement measured, accuracy columns empty")
    if names is not None and len(image_paths) < 200:  # below that, "within 1 point" is within one or two images
        say(
            f"note: {len(image_paths)} images in {data}: one image is {100 / max(len(image_paths), 1):.1f} points of "
            "top-1, so accuracy differences smaller than that mean nothing"
        )
    pixel_cache: dict = {}
    scored = _score(paths, image_paths, names, data, config, pixel_cache, say)
    fill_by_model([s.row for s in scored])
    reference = reference_rows([s.row for s in scored])
    for s in scored:
        _agree_with(reference, scored, s.row, s.probs, s.y, s.labels)
    media = None
    if config.camera_runs:
        from sportsedge.bench.media import make_media

        say("making a 4056x3040 JPEG and a 1080p clip from the split's images ...")
        media = make_media(image_paths, out / "media")
    timed = _timed(scored, pixel_cache, media, config)
    baseline = _keras_timed(keras_runs, config, pixel_cache, image_paths, names, data, say)
    say(f"timing {len(timed) + len(baseline)} rows in {config.rounds} interleaved rounds, each in a fresh process")
    jobs = [t for _, t in timed] + [b.timed for b in baseline]
    results = run_rounds(jobs, config.rounds, measure_in_child, say, _litert(config, say))
    # A row is assembled from its stages' columns; BenchRow names them (results.json stays plain JSON).
    rows = [
        cast(BenchRow, {**row, "threads": t.job.threads, **summarise(res, t.job)})
        for (row, t), res in zip(timed, results)
    ]
    keras_rows: list[BenchRow] = []
    for b, res in zip(baseline, results[len(timed) :]):
        p = res[0].pop("probs")
        row = {**b.template, **score(p, b.y), "threads": b.timed.job.threads, **summarise(res, b.timed.job)}
        _agree_with(reference, scored, row, p, b.y, b.labels)
        keras_rows.append(cast(BenchRow, row))
    rows = keras_rows + rows  # the baseline first, in thread order
    flag_thread_scaling(rows)
    _write(out, rows, data, config, say)
    return rows
