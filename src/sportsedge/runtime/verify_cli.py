"""Handler of `sportsedge verify`: each model's golden check on this machine's engine."""

from __future__ import annotations

import argparse
import sys
import warnings

from sportsedge.core.errors import ModelError
from sportsedge.runtime.classifier import Classifier


def run(args: argparse.Namespace) -> int:
    """`sportsedge verify`: exit 0 all checks passed, 1 a check failed or a model has none."""
    failed = 0
    for path in args.models:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a missing-labels warning is not this command's news
                result = Classifier.load(path, threads=args.threads, verify=False).verify()
        except ModelError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        if result.ok:
            print(f"{path}: OK ({result.describe()})", flush=True)
        else:
            print(f"error: {path}: golden check FAILED ({result.describe()})", file=sys.stderr, flush=True)
            failed += 1
    return 1 if failed else 0
