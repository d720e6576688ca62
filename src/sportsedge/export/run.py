"""`sportsedge export`: every requested format of every run or user model, written atomically,
parity-checked, recorded in DIR/manifest.json, and skipped on re-runs when nothing it depends on changed."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from sportsedge import __version__
from sportsedge.core.errors import UsageError
from sportsedge.core.formats import FORMATS, Format, Status, format_groups
from sportsedge.core.records import Manifest, ManifestEntry
from sportsedge.export.artifact import ATTEMPTS, export_one, make_context
from sportsedge.export.config import ExportConfig, UserModel
from sportsedge.export.families import check_formats, family_of, resolve_source
from sportsedge.export.isolated import FormatRunner
from sportsedge.export.source import Source
from sportsedge.runtime.golden import GOLDEN_VERSION
from sportsedge.runtime.preprocess import PREPROCESSING_VERSION
from sportsedge.util import fileio

log = logging.getLogger("sportsedge.export")


def parse_formats(text: str, qat: bool = False) -> list[Format]:
    """Formats by name; ``all`` is every post-training format; ``qat`` adds the QAT format."""
    chosen = _named_formats(text)
    if qat and FORMATS["tflite-int8-qat"] not in chosen:
        chosen.append(FORMATS["tflite-int8-qat"])
    return chosen


def _named_formats(text: str) -> list[Format]:
    """Format names, comma-separated; a group name (all, tflite, onnx) stands for its formats."""
    groups = format_groups()
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMATS and n not in groups]
    if unknown or not names:
        raise UsageError(
            f"unknown format {', '.join(map(repr, unknown)) or '(none)'}; choose from "
            f"{', '.join(groups)}, {', '.join(FORMATS)}"
        )
    chosen = [f for n in names for f in (groups[n] if n in groups else [FORMATS[n]])]
    return list(dict.fromkeys(chosen))


def resolve_sources(models: list, formats: list[Format], config: ExportConfig) -> list[tuple]:
    """(Source, loaded) per MODEL argument (a path, or a pair resolved before), each checked against
    the formats before any converts."""
    resolved = [m if isinstance(m, tuple) else resolve_source(m, config.user, config.calibration) for m in models]
    given = user_options_given(config.user)
    runs = [str(s.path) for s, _ in resolved if s.ours]
    if given and runs:
        raise UsageError(
            f"{', '.join(given)} describe your own model; a run folder ({runs[0]}) carries its own labels, "
            "input size and preprocessing: drop them, or export the run and your model separately"
        )
    for source, _ in resolved:
        check_formats(source.path, source.kind, formats)  # what its family can become
        for fmt in formats:
            if fmt.calibrated and source.calibration_dir is None:
                raise UsageError(f"{source.path}: {fmt.name} needs --calibration DIR of real images (a few hundred)")
    names = [s.name for s, _ in resolved]
    if len(set(names)) != len(names):
        raise UsageError(
            f"two models named alike ({', '.join(names)}): export them to different --out folders (or use --name)"
        )
    return resolved


def user_options_given(user: UserModel) -> list[str]:
    """The --options of a UserModel that differ from their defaults (they would be ignored for a run)."""
    default = UserModel()
    names = {"labels": "--labels", "transform": "--preprocess/--scale/--offset", "input_size": "--input-size"}
    names |= {"output": "--output", "parity_data": "--parity-data", "name": "--name"}
    return [opt for key, opt in names.items() if getattr(user, key) != getattr(default, key)]


def export(
    models: list, formats: list[Format], out: str | Path, config: ExportConfig | None = None, say=print
) -> Manifest:
    """Export runs or user models to every format asked for, each parity-checked.

    Args:
        models: run folders, .keras/.h5 files, SavedModel folders or float .onnx files (or what
            resolve_sources returned).
        formats: rows of the format table (``parse_formats("all")``).
        out: the folder for the artifacts and manifest.json (re-running skips unchanged artifacts).
        config: the export settings (ExportConfig's defaults when None).
        say: where progress lines go.

    Returns:
        The manifest: ``{"artifacts": {file name: entry}}``; an entry with status FAILED failed
        its parity check (and is left out of benchmarks).

    Raises:
        UsageError: settings that do not fit the models (e.g. int8 of your own model without
            --calibration).
        ModelError: a source model that cannot be loaded.
    """
    config = config or ExportConfig()
    resolved = resolve_sources(models, formats, config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _clean_and_check_space(out, resolved, formats, say)
    manifest_path = out / "manifest.json"
    manifest: Manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"artifacts": {}}
    # By the table's Format.options; as JSON types, so a manifest read back compares equal.
    option_settings = json.loads(json.dumps({"qat": asdict(config.qat), "accuracy": asdict(config.accuracy)}))
    with contextlib.ExitStack() as stack:  # each context owns a temporary folder, removed whatever happens
        contexts, runners = [], []
        for source, loaded in resolved:
            contexts.append(make_context(source, loaded, config, out))
            stack.callback(contexts[-1].close)
            # Converted in a worker process: a converter's native crash fails its format, not the export.
            runners.append(FormatRunner(contexts[-1], config, export_one))
            stack.callback(runners[-1].close)
        total, step = len(contexts) * len(formats), 0
        for ctx, runner in zip(contexts, runners, strict=True):
            for fmt in formats:
                step += 1
                name = fmt.artifact_name(ctx.model_name)
                path = out / name
                settings = {
                    **ctx.source.settings(),
                    "format": fmt.name,
                    "calibration": str(ctx.calibration_dir),
                    "calibration_size": config.calibration_size,
                    "parity_size": config.parity_size,
                    "min_agreement": config.min_agreement,
                    "preprocessing": PREPROCESSING_VERSION,
                    "sportsedge": __version__,
                    "golden": GOLDEN_VERSION,
                    **{k: option_settings[k] for k in fmt.options},
                }
                fingerprint = fileio.fingerprint(settings)
                old = manifest["artifacts"].get(name)
                # A FAILED artifact is skipped too: the same inputs would fail the same way (--force redoes).
                if (
                    not config.force
                    and old
                    and old.get("fingerprint") == fingerprint
                    and old.get("path")  # a crashed conversion has no file: tried again
                    and (out / old["path"]).is_file()
                    and fileio.sha256_file(out / old["path"]) == old.get("sha256")
                ):
                    say(
                        f"[{step}/{total}] {name}: unchanged, skipped"
                        + (" (parity FAILED)" if old["status"] == Status.FAILED else "")
                    )
                    continue
                say(f"[{step}/{total}] {name}: converting ...")
                entry = runner.run(fmt, path, family_of(ctx.source.kind).converters.get(fmt.name, fmt.converter))
                entry["fingerprint"], entry["settings"] = fingerprint, settings
                manifest["artifacts"][name] = entry
                fileio.write_json(manifest_path, manifest)
                say(f"[{step}/{total}] {name}: {_summary(entry, ctx.source)}")
    return manifest


def _summary(entry: ManifestEntry, source: Source) -> str:
    """The progress line of one finished artifact."""
    if entry.get("crashed"):  # no file, no figures: who crashed
        return f"{entry['status']} -- {entry['crashed']}"
    p = entry["parity"]
    if not p.get("loads", True):
        return f"{entry['size_bytes'] / 1e6:.2f} MB in {entry['seconds']:.1f}s: {entry['status']} -- {p['message']}"
    reference = family_of(source.kind).reference  # what the parity check compares against
    against = f"fine-tuned {reference}" if "qat" in entry else reference  # QAT is checked against its own model
    top1 = (
        f"top-1 {p['top1_export']:.3f} ({against} {p['top1_keras']:.3f})"
        if p["top1_keras"] is not None
        else "top-1 not measured (no labelled images)"
    )
    top5 = f", top-5 overlap {p['top5_overlap']:.3f}" if p.get("top5_overlap") is not None else ""
    return (
        f"{entry['size_bytes'] / 1e6:.2f} MB in {entry['seconds']:.1f}s, agreement {p['agreement']:.3f}{top5}, "
        f"max|diff| {p['max_abs_diff']:.1e}, {top1}: {entry['status']}"
        + (f" -- {p['message']}" if p["message"] else "")
    )


# Free space wanted beyond the files themselves: the temporary folder holds the float models each
# format starts from (SavedModel, float .tflite, ONNX) and a file is written beside its final name.
WORK_FACTOR = 3.0


def _clean_and_check_space(out: Path, resolved: list, formats: list[Format], say) -> None:
    """Remove what a killed export left (temporary files in ``out``, its temporary folder), then
    refuse in one line, before the long work, when ``out`` or the temp dir lacks the space the
    export needs (estimated from each source's size and the formats' size ratios)."""
    import shutil
    import tempfile

    from sportsedge.core.errors import DiskFull
    from sportsedge.export.context import WORK_PREFIX

    temp = Path(tempfile.gettempdir())
    stale = fileio.remove_stale(out) + fileio.remove_stale(out / ATTEMPTS) + fileio.remove_stale(temp, WORK_PREFIX)
    if stale:
        names = ", ".join(p.name for p in stale[:3])
        say(f"removed {len(stale)} temporary file(s) an interrupted export left ({names})")
    size = sum(_source_bytes(source.path) for source, _ in resolved)
    ratios = [f.size_ratio for f in formats]
    needs = {out: size * (sum(ratios) + max(ratios, default=0)), temp: size * WORK_FACTOR}
    if os.stat(out).st_dev == os.stat(temp).st_dev:  # one disk holds both
        needs = {out: needs[out] + needs[temp]}
    for folder, need in needs.items():
        free = shutil.disk_usage(folder).free
        if free < need:
            raise DiskFull(
                folder,
                f" ({free / 1e6:,.0f} MB free, the export needs about {need / 1e6:,.0f} MB: "
                "free some, or choose another --out or TMPDIR)",
            )


def _source_bytes(path: Path) -> int:
    """The size of a source's weights: a model file, or a run folder's model.keras."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    try:
        return path.stat().st_size
    except OSError:
        return 0
