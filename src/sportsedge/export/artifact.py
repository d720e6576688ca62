"""One format of one source: convert, attach the metadata, check parity, add the golden check, and
write the file atomically -- under its final name when it passed, in ``attempts/`` when its parity
check FAILED (so a failed file never sits beside the passing ones under a name that looks usable,
and verify/predict/bench of it say it failed at export: ``FAILED_AT_EXPORT`` in its metadata)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from sportsedge import __version__
from sportsedge.core.formats import Format, Status
from sportsedge.core.records import ManifestEntry
from sportsedge.export.config import ExportConfig
from sportsedge.export.context import ExportContext
from sportsedge.export.converted import Converted
from sportsedge.export.source import Source
from sportsedge.runtime import Classifier, ModelMetadata, attach_metadata, sidecar_path
from sportsedge.runtime.golden import make_golden
from sportsedge.runtime.metadata import FAILED_AT_EXPORT
from sportsedge.util import fileio
from sportsedge.util.quiet import captured

ATTEMPTS = "attempts"  # beside the artifacts: remedies' candidates and files that failed parity


def final_path(out: Path, name: str, status: str) -> Path:
    """Where an artifact lives: ``out/name``, or ``out/attempts/name`` when it failed parity."""
    return out / ATTEMPTS / name if status == Status.FAILED else out / name


def export_one(ctx: ExportContext, fmt: Format, path: Path, convert) -> ManifestEntry:
    """The artifact ``path`` names (``out/<model>-<format><ext>``) and its manifest entry; the
    entry's ``path`` is where the file went, relative to ``out``."""
    t0 = time.monotonic()
    source = ctx.source
    extra: dict[str, Any] = {
        "calibration": str(ctx.calibration_dir),
        "sportsedge": __version__,
        "source_kind": str(source.kind),
    }
    if source.transform is not None:  # baked into the graph: recorded, not applied again by the runtime
        extra["model_preprocess"] = source.transform.to_dict()
    meta = ModelMetadata(
        labels=ctx.labels,
        model_name=ctx.model_name,
        input_size=ctx.input_size,
        format=fmt.name,
        source_run=str(source.path.resolve()),
        extra=extra,
    )
    with captured(ctx.log_path) as terminal:  # Keras' side of the parity check is captured too
        # Converters' own progress (QAT epochs, remedies) must reach the user through the capture.
        converted: Converted = convert(ctx, lambda m: print(m, file=terminal, flush=True))
        meta = replace(meta, output=converted.output or source.output)
        if "float_layers" in converted.details:  # the file says which layers are float, and why
            kept = {k: converted.details[k] for k in ("float_layers", "float_layers_why")}
            meta = replace(meta, extra={**meta.extra, **kept})
        with fileio.atomic_path(path) as tmp:
            tmp.write_bytes(converted.data)
            attach_metadata(tmp, meta, sidecar=False, in_place=True)
            # A converter that retrains (QAT) returns a reference: its own model's outputs on the parity set.
            parity = ctx.check(tmp, converted.data, fmt, converted.reference)
            mixed = bool(converted.details.get("float_layers"))
            if parity.get("loads", True):  # a file the runtime cannot run gets no golden outputs
                golden = make_golden(Classifier.load(tmp, verify=False), *fmt.verify_bound(mixed))
                meta = replace(meta, golden=golden)
            if parity["status"] == Status.FAILED:  # the file itself says so, wherever it is copied
                meta = replace(meta, extra={**meta.extra, FAILED_AT_EXPORT: parity.get("message") or "parity"})
            sealed = attach_metadata(tmp, meta, sidecar=False, in_place=True)
            where = final_path(path.parent, path.name, parity["status"])
            if where != path:  # failed: into attempts/, and no file of an earlier export under the final name
                where.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, where)
                tmp.touch()  # atomic_path renames its file over ``path``: an empty one, removed below
        if where != path:
            path.unlink()
            sidecar_path(path).unlink(missing_ok=True)
    fileio.write_json(sidecar_path(where), sealed)
    entry = {
        "path": str(where.relative_to(path.parent)),
        "model": ctx.model_name,
        "format": fmt.name,
        "output": str(meta.output),
        "size_bytes": os.path.getsize(where),
        "sha256": fileio.sha256_file(where),
        "parity": parity,
        "status": parity["status"],
        "seconds": round(time.monotonic() - t0, 2),
        "source_run": str(source.path),
        "source_kind": str(source.kind),
        **converted.details,
    }
    return cast(ManifestEntry, entry)  # the converter's details are its own ManifestEntry keys


def make_context(source: Source, loaded, config: ExportConfig, out: Path) -> ExportContext:
    """The ExportContext of one source exported to ``out`` (here, or in a worker: isolated.py)."""
    return ExportContext(
        source,
        loaded,
        config.calibration_size,
        config.parity_size,
        qat=config.qat,
        accuracy=config.accuracy,
        attempts_dir=out / ATTEMPTS,
        log_path=out / "export.log",
        min_agreement=config.min_agreement,
    )


def worker_context(model_arg, config: ExportConfig, out: Path) -> ExportContext:
    """A worker's own context of the source the parent resolved from ``model_arg`` (a path)."""
    from sportsedge.export.families import resolve_source

    source, loaded = resolve_source(model_arg, config.user, config.calibration)
    return make_context(source, loaded, config, out)
