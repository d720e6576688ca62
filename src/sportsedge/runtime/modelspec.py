"""What a user says about a model converted elsewhere: its labels and input size (light, TF-free;
read by `sportsedge label` on a device and by `sportsedge export` for a user's own model)."""

from __future__ import annotations

from pathlib import Path

from sportsedge.core.errors import InputError, UsageError
from sportsedge.runtime.imagesets import class_dirs


def read_labels(spec: str | Path) -> tuple[str, ...]:
    """--labels: a text file (one label per line, blank lines skipped) or a folder's sorted class folders."""
    p = Path(spec)
    if p.is_dir():
        labels = tuple(class_dirs(p))
        if not labels:
            raise InputError(p, "no class subfolders to take labels from")
        return labels
    if not p.is_file():
        raise InputError(p, "labels file or folder not found")
    try:
        labels = tuple(line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip())
    except (UnicodeDecodeError, OSError) as err:
        raise InputError(p, f"unreadable labels file ({err})") from err
    if not labels:
        raise InputError(p, "labels file is empty")
    if len(set(labels)) != len(labels):
        raise InputError(p, "labels file repeats a label")
    return labels


def parse_size(text: str) -> tuple[int, int]:
    """--input-size HxW (or one number for a square)."""
    parts = text.lower().replace("x", " ").split()
    try:
        h, w = (int(parts[0]),) * 2 if len(parts) == 1 else map(int, parts)
    except ValueError as err:
        raise UsageError(f"--input-size takes HxW, e.g. 224x224: got {text!r}") from err
    if h < 8 or w < 8:
        raise UsageError(f"--input-size {text!r} is too small")
    return h, w
