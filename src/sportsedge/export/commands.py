"""Handler of `sportsedge export`."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sportsedge.train import require_tensorflow
from sportsedge.util.progress import say

if TYPE_CHECKING:
    from sportsedge.export.config import ExportConfig


def export_config(args) -> ExportConfig:
    """The export settings of `export` or `pipeline` arguments (options a command lacks keep their defaults)."""
    from sportsedge.core.options import from_args
    from sportsedge.export.config import AccuracyConfig, ExportConfig, QatConfig

    nested = {"accuracy": from_args(AccuracyConfig, args), "qat": from_args(QatConfig, args, prefix="qat_")}
    if "labels" in vars(args):
        nested["user"] = user_model(args)
    return from_args(ExportConfig, args, **nested)


def user_model(args):
    """The UserModel of `export` arguments (the options describing a model that is not ours)."""
    from sportsedge.core.input_transform import parse_transform
    from sportsedge.export.config import UserModel
    from sportsedge.runtime.modelspec import parse_size

    return UserModel(
        labels=args.labels,
        transform=parse_transform(args.preprocess, args.scale, args.offset),
        input_size=parse_size(args.input_size) if args.input_size else None,
        output=args.output,
        parity_data=getattr(args, "parity_data", None),  # export has it, doctor does not
        name=args.name,
    )


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # temporary files and folders are removed on the way out; exit 130


def export_cmd(args) -> int:
    from sportsedge.core.formats import Status
    from sportsedge.export.qat import require_qat
    from sportsedge.export.run import export, parse_formats, resolve_sources

    # Typos and missing extras fail before TensorFlow loads.
    formats = parse_formats(args.formats, qat=args.qat)
    config = export_config(args)
    require_tensorflow()
    if any("qat" in f.options for f in formats):
        require_qat()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _stop)  # a supervisor's stop cleans up as Ctrl-C does
    sources = resolve_sources(args.models, formats, config)
    manifest = export(sources, formats, args.out, config, say=say)
    # Only this command's artifacts decide its exit status (the manifest may hold older ones).
    asked = {f.artifact_name(source.name) for source, _ in sources for f in formats}
    failed = [n for n, e in manifest["artifacts"].items() if n in asked and e["status"] == Status.FAILED]
    for name in failed:
        entry = manifest["artifacts"][name]
        why = entry.get("crashed") or f"parity check FAILED ({entry['parity']['message']})"
        print(f"error: {name}: {why}", file=sys.stderr)
    print(Path(args.out) / "manifest.json")
    return 1 if failed else 0
