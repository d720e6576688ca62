"""Handler of `sportsedge label`: sportsedge metadata for a .tflite/.onnx file converted elsewhere."""

from __future__ import annotations

import argparse
import warnings
from dataclasses import replace
from pathlib import Path

from sportsedge.core.errors import ModelError, UsageError


def run(args: argparse.Namespace) -> int:
    """`sportsedge label`: put labels and an input spec inside a model converted elsewhere."""
    from sportsedge.core.input_transform import parse_transform
    from sportsedge.core.outputs import OutputKind, looks_like_probabilities
    from sportsedge.runtime.classifier import Classifier
    from sportsedge.runtime.metadata import ModelMetadata, attach_metadata, sidecar_path
    from sportsedge.runtime.modelspec import parse_size, read_labels

    path = Path(args.model)
    if args.labels is None:
        raise UsageError("label needs --labels FILE|DIR")
    transform = parse_transform(args.preprocess, args.scale, args.offset)
    labels = read_labels(args.labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(path)  # one-line errors for missing, truncated or foreign files
    if clf.metadata.labels and not args.force:  # inside the file or in its sidecar
        raise ModelError(path, "already carries metadata (labels): --force replaces it")
    if len(labels) != len(clf.labels):
        raise UsageError(f"{path}: the model outputs {len(clf.labels)} scores but --labels names {len(labels)} classes")
    size = parse_size(args.input_size) if args.input_size else clf.input_size
    if tuple(size) != tuple(clf.input_size):
        raise UsageError(f"{path}: --input-size {size[0]}x{size[1]} differs from the file's {clf.input_size}")
    # --force relabels: what is not given again is kept (a forgotten --preprocess must not silently
    # change every prediction); the golden check is kept while the input transform is unchanged.
    old = clf.metadata if clf.metadata.labels else ModelMetadata(labels=())
    transform = old.input_transform if transform is None else transform
    meta = replace(
        old,
        labels=labels,
        model_name=args.name or old.model_name or path.stem,
        input_size=(int(size[0]), int(size[1])),
        input_transform=transform,
        golden=old.golden if transform == old.input_transform else None,
        extra={**old.extra, "labelled_by": "sportsedge label"},
    )
    if args.output != "auto":
        kind = OutputKind(args.output)
    elif old.labels and transform == old.input_transform:
        kind = old.output
    else:  # detected through the transform: what the model actually sees
        from sportsedge.runtime.golden import golden_inputs

        raw = clf.with_metadata(meta).outputs(golden_inputs(size))
        kind = OutputKind.PROBABILITIES if looks_like_probabilities(raw) else OutputKind.LOGITS
    meta = replace(meta, output=kind)
    if meta.golden is None:  # this machine's outputs, so `verify` and every load can check it elsewhere
        from sportsedge.core.formats import FOREIGN_VERIFY_ATOL, FOREIGN_VERIFY_REL
        from sportsedge.runtime.golden import make_golden

        meta = replace(meta, golden=make_golden(clf.with_metadata(meta), FOREIGN_VERIFY_ATOL, FOREIGN_VERIFY_REL))
    attach_metadata(path, meta)
    print(
        f"{path}: {len(labels)} labels, input {size[0]}x{size[1]}, output {kind}"
        + (f", preprocess {transform.name}" if transform else "")
        + f" (sidecar {sidecar_path(path).name})"
    )
    return 0
