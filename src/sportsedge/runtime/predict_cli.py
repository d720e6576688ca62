"""Handler of `sportsedge predict`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..imagesets import image_files
from .classifier import Classifier


def expand_paths(paths: list[str]) -> Iterator[Path | InputError]:
    """Files as given, folders searched recursively for images; problems yielded as errors."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = image_files(path).images
            if not found:
                yield InputError(path, "no image files in this folder")
            yield from found
        else:
            yield path  # missing or odd files are reported by the loader, naming them


def run(args) -> int:
    clf = Classifier.load(args.model, threads=args.threads)
    failed = 0
    for item in expand_paths(args.paths):
        if isinstance(item, InputError):
            print(f"error: {item}", file=sys.stderr)
            failed += 1
            continue
        try:
            preds = clf.predict(item, top_k=args.top_k)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            rows = [p._asdict() for p in preds]
            print(json.dumps({"path": str(item), "predictions": rows}), flush=True)
        else:
            width = max(len(p.label) for p in preds)
            lines = [f"  {i}. {p.label:<{width}}  {p.score:.4f}" for i, p in enumerate(preds, 1)]
            print("\n".join([str(item), *lines]), flush=True)
    return 1 if failed else 0
