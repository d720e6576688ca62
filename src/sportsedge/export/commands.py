"""Handler of `sportsedge export`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..progress import say
from ..train import require_tensorflow

if TYPE_CHECKING:
    from .config import ExportConfig


def export_config(args) -> ExportConfig:
    """The export settings of `export` or `pipeline` arguments (options a command lacks keep their defaults)."""
    from .config import AccuracyConfig, ExportConfig, QatConfig, parse_remedies

    given = vars(args)
    user = user_model(args) if "labels" in given else None
    accuracy = AccuracyConfig(
        max_drop=args.max_drop, remedies=parse_remedies(args.remedies), activation_ranges=args.activation_ranges
    )
    qat = QatConfig(**{k: given[f"qat_{k}"] for k in ("epochs", "learning_rate", "train_size") if f"qat_{k}" in given})
    plain = {
        k: given[k] for k in ("calibration", "calibration_size", "parity_size", "min_agreement", "force") if k in given
    }
    return ExportConfig(**plain, accuracy=accuracy, qat=qat, **({"user": user} if user else {}))


def user_model(args):
    """The UserModel of `export` arguments (the options describing a model that is not ours)."""
    from ..input_transform import parse_transform
    from ..runtime.modelspec import parse_size
    from .config import UserModel

    return UserModel(
        labels=args.labels,
        transform=parse_transform(args.preprocess, args.scale, args.offset),
        input_size=parse_size(args.input_size) if args.input_size else None,
        output=args.output,
        parity_data=args.parity_data,
        name=args.name,
    )


def export_cmd(args) -> int:
    from ..formats import Status
    from .qat import require_qat
    from .run import export, parse_formats, resolve_sources

    # Typos and missing extras fail before TensorFlow loads.
    formats = parse_formats(args.formats, qat=args.qat)
    config = export_config(args)
    require_tensorflow()
    if any("qat" in f.options for f in formats):
        require_qat()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sources = resolve_sources(args.models, formats, config)
    manifest = export(sources, formats, args.out, config, say=say)
    # Only this command's artifacts decide its exit status (the manifest may hold older ones).
    asked = {f.artifact_name(source.name) for source, _ in sources for f in formats}
    failed = [n for n, e in manifest["artifacts"].items() if n in asked and e["status"] == Status.FAILED]
    for name in failed:
        print(
            f"error: {name}: parity check FAILED ({manifest['artifacts'][name]['parity']['message']})", file=sys.stderr
        )
    print(Path(args.out) / "manifest.json")
    return 1 if failed else 0
