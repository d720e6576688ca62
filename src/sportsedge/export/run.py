"""`sportsedge export`: every requested format of every run, written atomically, parity-checked,
recorded in DIR/manifest.json, and skipped on re-runs when nothing it depends on changed."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

from .. import __version__, fileio
from ..errors import UsageError
from ..formats import FORMATS, Format
from ..quiet import native_stderr_to
from ..runtime import ModelMetadata, attach_metadata, sidecar_path
from ..runtime.preprocess import PREPROCESSING_VERSION
from .context import ExportContext
from .qat import QatConfig
from .remedies import AccuracyConfig
from .parity import FAILED

log = logging.getLogger("sportsedge.export")


def parse_formats(text: str, qat: bool = False) -> list[Format]:
    """Formats by name; ``all`` is every post-training format; ``qat`` adds the QAT format."""
    chosen = _named_formats(text)
    if qat and FORMATS["tflite-int8-qat"] not in chosen:
        chosen.append(FORMATS["tflite-int8-qat"])
    return chosen


def _named_formats(text: str) -> list[Format]:
    if text.strip() == "all":
        return [f for f in FORMATS.values() if f.in_all]
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise UsageError(f"unknown format {', '.join(map(repr, unknown)) or '(none)'}; "
                         f"choose from all, {', '.join(FORMATS)}")
    return [FORMATS[n] for n in dict.fromkeys(names)]


def _converter(fmt: Format):
    module, _, func = fmt.converter.partition(":")
    return getattr(importlib.import_module(module), func)


@contextlib.contextmanager
def _captured(log_path: Path):
    """Converter chatter (C++ and Python) goes to export.log, not the terminal."""
    with open(log_path, "a") as f, contextlib.redirect_stdout(f), native_stderr_to(log_path) as terminal:
        handler = logging.FileHandler(log_path)
        noisy = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl", "onnxruntime", "root")]
        saved = [(lg, lg.handlers[:], lg.propagate) for lg in noisy]
        for lg in noisy:
            lg.handlers, lg.propagate = [handler], False
        try:
            yield terminal
        finally:
            for lg, handlers, propagate in saved:
                lg.handlers, lg.propagate = handlers, propagate
            handler.close()


def export(run_dirs: list[str | Path], formats: list[Format], out: str | Path, calibration=None,
           calibration_size: int = 300, parity_size: int = 200, force: bool = False,
           min_agreement: float | None = None, say=print, qat: QatConfig | None = None,
           accuracy: AccuracyConfig | None = None) -> dict:
    """Export; returns the manifest. Entries with status FAILED mean a parity check failed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"artifacts": {}}
    qat, accuracy = qat or QatConfig(), accuracy or AccuracyConfig()
    # By the table's Format.options; as JSON types, so a manifest read back compares equal.
    option_settings = json.loads(json.dumps({"qat": asdict(qat), "accuracy": asdict(accuracy)}))
    contexts = [ExportContext(Path(r), calibration, calibration_size, parity_size, qat=qat, accuracy=accuracy,
                              attempts_dir=out / "attempts", log_path=out / "export.log", min_agreement=min_agreement)
                for r in run_dirs]
    names = [c.model_name for c in contexts]
    if len(set(names)) != len(names):
        raise UsageError(f"two runs of the same model ({', '.join(names)}): export them to different --out folders")
    total, step = len(contexts) * len(formats), 0
    try:
        for ctx in contexts:
            model_sha = fileio.sha256_file(ctx.run_dir / "model.keras")
            for fmt in formats:
                step += 1
                name = f"{ctx.model_name}-{fmt.name}{fmt.ext}"
                path = out / name
                settings = {"model_sha256": model_sha, "format": fmt.name, "calibration": str(ctx.calibration_dir),
                            "calibration_size": calibration_size, "parity_size": parity_size,
                            "min_agreement": min_agreement, "preprocessing": PREPROCESSING_VERSION,
                            "sportsedge": __version__, **{k: option_settings[k] for k in fmt.options}}
                fingerprint = fileio.fingerprint(settings)
                old = manifest["artifacts"].get(name)
                # A FAILED artifact is skipped too: the same inputs would fail the same way (--force redoes).
                if (not force and old and old.get("fingerprint") == fingerprint
                        and path.is_file() and fileio.sha256_file(path) == old.get("sha256")):
                    say(f"[{step}/{total}] {name}: unchanged, skipped" + (" (parity FAILED)" if old["status"] == FAILED else ""))
                    continue
                say(f"[{step}/{total}] {name}: converting ...")
                entry = _export_one(ctx, fmt, path)
                entry.update(fingerprint=fingerprint, settings=settings)
                manifest["artifacts"][name] = entry
                fileio.write_json(manifest_path, manifest)
                p = entry["parity"]
                against = "fine-tuned Keras" if "qat" in entry else "Keras"  # QAT is checked against its own model
                say(f"[{step}/{total}] {name}: {entry['size_bytes'] / 1e6:.2f} MB in {entry['seconds']:.1f}s, "
                    f"agreement {p['agreement']:.3f}, max|diff| {p['max_abs_diff']:.1e}, "
                    f"top-1 {p['top1_export']:.3f} ({against} {p['top1_keras']:.3f}): {entry['status']}"
                    + (f" -- {p['message']}" if p["message"] else ""))
    finally:
        for ctx in contexts:
            ctx.close()
    return manifest


def _export_one(ctx: ExportContext, fmt: Format, path: Path) -> dict:
    t0 = time.monotonic()
    ctx.details, ctx.reference = {}, None
    with _captured(ctx.log_path) as terminal:
        # Converters' own progress (QAT epochs, remedies) must reach the user through the capture.
        ctx.tell = lambda m: print(m, file=terminal, flush=True)
        data = _converter(fmt)(ctx)
        ctx.parity  # Keras' side, computed once per run (its chatter captured too)
    meta = ModelMetadata(labels=ctx.labels, model_name=ctx.model_name, input_size=ctx.input_size,
                         format=fmt.name, source_run=str(ctx.run_dir.resolve()),
                         extra={"calibration": str(ctx.calibration_dir), "sportsedge": __version__})
    with fileio.atomic_path(path) as tmp:
        tmp.write_bytes(data)
        attach_metadata(tmp, meta, sidecar=False)
        # A converter that retrains (QAT) sets ctx.reference: its own model's outputs on the parity set.
        parity = ctx.check(tmp, data, fmt, ctx.reference)
    fileio.write_json(sidecar_path(path), meta.to_dict())
    return {"path": path.name, "model": ctx.model_name, "format": fmt.name, "size_bytes": os.path.getsize(path),
            "sha256": fileio.sha256_file(path), "parity": parity, "status": parity["status"],
            "seconds": round(time.monotonic() - t0, 2), "source_run": str(ctx.run_dir), **ctx.details}
