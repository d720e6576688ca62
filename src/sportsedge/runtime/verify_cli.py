"""Handler of `sportsedge verify`: each model's golden check on this machine's engine."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from sportsedge.core.builtin import resolve
from sportsedge.core.errors import ModelError
from sportsedge.core.formats import family_of
from sportsedge.runtime.classifier import Classifier, refuse_failed_at_export
from sportsedge.runtime.imagesets import image_files


def _models(paths: list[str]) -> list[Path | ModelError]:
    """Files as given; a folder's .tflite/.onnx files (recursively, sorted, hidden entries skipped as
    every folder listing does); a folder without any is an error."""
    found: list[Path | ModelError] = []
    for raw in paths:
        path = resolve(raw)
        if path.is_dir():
            inside = image_files(path, accept=lambda f: family_of(f) is not None).images
            found += inside or [ModelError(path, "no .tflite or .onnx files in this folder")]
        else:
            found.append(path)
    return found


def run(args: argparse.Namespace) -> int:
    """`sportsedge verify`: exit 0 all checks passed, 1 a check failed or a model has none."""
    failed = passed = 0
    for path in _models(args.models):
        if isinstance(path, ModelError):
            print(f"error: {path}", file=sys.stderr, flush=True)
            failed += 1
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a missing-labels warning is not this command's news
                clf = Classifier.load(path, threads=args.threads, verify=False)
                refuse_failed_at_export(clf.path, clf.metadata, verify=True)  # its golden check would pass
                result = clf.verify()
        except ModelError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        if result.ok:
            floats = clf.metadata.extra.get("float_layers")  # a mixed int8 file says which layers are float
            print(f"{path}: OK ({result.describe()}{'; float layers: ' + ', '.join(floats) if floats else ''})")
            passed += 1
        else:
            print(f"error: {path}: golden check FAILED ({result.describe()})", file=sys.stderr, flush=True)
            failed += 1
    if passed + failed > 1:
        print(f"{passed} passed, {failed} failed" if failed else f"all {passed} passed", flush=True)
    return 1 if failed else 0
