"""Handler of `sportsedge export`."""

from __future__ import annotations

import logging
import sys

from ..progress import say
from ..train import require_tensorflow


def export_cmd(args) -> int:
    from .parity import FAILED
    from .run import export, parse_formats

    formats = parse_formats(args.formats)  # a typo fails before TensorFlow loads
    require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = export(args.run_dirs, formats, args.out, calibration=args.calibration,
                      calibration_size=args.calibration_size, parity_size=args.parity_size, force=args.force,
                      min_agreement=args.min_agreement, say=say)
    failed = [n for n, e in manifest["artifacts"].items() if e["status"] == FAILED]
    for name in failed:
        print(f"error: {name}: parity check FAILED ({manifest['artifacts'][name]['parity']['message']})",
              file=sys.stderr)
    print(f"{args.out}/manifest.json")
    return 1 if failed else 0
