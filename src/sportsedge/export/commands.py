"""Handler of `sportsedge export`."""

from __future__ import annotations

import logging
import sys

from ..progress import say
from ..train import require_tensorflow


def export_cmd(args) -> int:
    from ..train.config import RunRecord
    from .parity import FAILED
    from .qat import QatConfig, require_qat
    from .remedies import AccuracyConfig, parse_remedies
    from .run import export, parse_formats

    # Typos and missing extras fail before TensorFlow loads.
    formats = parse_formats(args.formats, qat=args.qat)
    accuracy = AccuracyConfig(max_drop=args.max_drop, remedies=parse_remedies(args.remedies))
    qat = QatConfig(epochs=args.qat_epochs, learning_rate=args.qat_learning_rate, train_size=args.qat_train_size)
    require_tensorflow()
    if any("qat" in f.options for f in formats):
        require_qat()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = export(args.run_dirs, formats, args.out, calibration=args.calibration,
                      calibration_size=args.calibration_size, parity_size=args.parity_size, force=args.force,
                      min_agreement=args.min_agreement, say=say, qat=qat, accuracy=accuracy)
    # Only this command's artifacts decide its exit status (the manifest may hold older ones).
    asked = {f"{RunRecord.load(r).model}-{f.name}{f.ext}" for r in args.run_dirs for f in formats}
    failed = [n for n, e in manifest["artifacts"].items() if n in asked and e["status"] == FAILED]
    for name in failed:
        print(f"error: {name}: parity check FAILED ({manifest['artifacts'][name]['parity']['message']})",
              file=sys.stderr)
    print(f"{args.out}/manifest.json")
    return 1 if failed else 0
