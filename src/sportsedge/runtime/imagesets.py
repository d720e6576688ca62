"""Folders of images and sets drawn from them (TF-free).

The one folder scanner: every command that lists images (training splits, calibration, parity,
benchmark data, `data check` and `data download`, `doctor`, `predict` on a folder, the demo)
walks folders with :func:`walk` (through :func:`image_files`, :func:`class_dirs` and
:func:`scan_classes`), with one rule: names starting with "." (``.ipynb_checkpoints``,
``.DS_Store``, ``.git``) are never classes or images, at any depth; symlinks are followed, each
folder entered once (loops end); order is by relative path.

Sets drawn from them are stratified over class folders and reproducible: int8 calibration,
parity checks and benchmark inputs. Never random noise: activation ranges calibrated on noise
do not match real photos.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sportsedge.core.errors import InputError
from sportsedge.runtime.decoder import shared_pool
from sportsedge.runtime.preprocess import is_image_file

log = logging.getLogger("sportsedge.images")

SPLITS = ("train", "valid", "test")  # the Kaggle layout's split folders


def _hidden(name: str) -> bool:
    return name.startswith(".")


@dataclass(frozen=True)
class Listing:
    """A folder's image files, and how many other files it held."""

    images: tuple[Path, ...]  # image files, sorted by path
    other: int  # files that are not images (by extension), hidden ones not counted


def walk(folder: Path, recursive: bool = True, files: bool = True, dirs: bool = False) -> Iterator[Path]:
    """The one folder walk: the files below ``folder`` (and its folders, with ``dirs``).

    - Names starting with "." are skipped at any depth, files and folders alike.
    - Symlinks are followed, to files and to folders. Each folder is entered once, known by its
      (st_dev, st_ino): a loop (``a -> ..``) or a second link to a folder already walked is
      not entered (nor yielded) again.
    - Skipped without a word, as ever: a broken symlink, a folder that cannot be listed, and
      whatever is neither a regular file nor a folder (a FIFO, a socket).
    - Order: by path relative to ``folder``, part by part (as ``sorted()`` orders Paths): depth
      first, names sorted. ``recursive=False``: ``folder``'s own entries only.

    Paths are ``folder / relative path``, symlinks not resolved.
    """
    try:
        top = folder.stat()
    except OSError:
        return
    seen = {(top.st_dev, top.st_ino)}
    stack = _entries(folder)[::-1]
    while stack:
        path, key = stack.pop()
        if key is None:
            if files:
                yield path
        elif key not in seen:
            seen.add(key)
            if dirs:
                yield path
            if recursive:
                stack += _entries(path)[::-1]


def _entries(folder: Path) -> list[tuple[Path, tuple[int, int] | None]]:
    """``folder``'s visible entries by name: (path, (st_dev, st_ino) of a folder, None for a file)."""
    try:
        with os.scandir(folder) as listing:
            found = sorted((e for e in listing if not _hidden(e.name)), key=lambda e: e.name)
    except OSError:
        return []
    out: list[tuple[Path, tuple[int, int] | None]] = []
    for entry in found:
        try:
            if entry.is_dir():  # follows a symlink; False for a broken one
                st = entry.stat()
                out.append((folder / entry.name, (st.st_dev, st.st_ino)))
            elif entry.is_file():
                out.append((folder / entry.name, None))
        except OSError:  # gone since the listing
            continue
    return out


def image_files(folder: Path, recursive: bool = True, accept: Callable[[Path], bool] = is_image_file) -> Listing:
    """The image files in ``folder`` (below it too when ``recursive``), by :func:`walk`'s rule;
    ``accept`` widens what counts (e.g. videos too, for `predict`)."""
    images, other = [], 0
    for p in walk(folder, recursive):
        if accept(p):
            images.append(p)
        else:
            other += 1
    return Listing(tuple(images), other)


def class_dirs(folder: Path) -> list[str]:
    """Sorted class-folder names of a split folder, by :func:`walk`'s rule (hidden folders are not
    classes; symlinked ones are)."""
    return [p.name for p in walk(folder, recursive=False, files=False, dirs=True)]


def scan_classes(folder: Path) -> dict[str, Listing]:
    """Class-folder name -> its images (recursive), in sorted class order."""
    return {name: image_files(folder / name) for name in class_dirs(folder)}


def evenly_spaced(items: Any, count: int) -> Any:
    """Up to ``count`` of ``items`` at a regular step from the first (a list, tuple or array):
    spread over a sorted split, so every class is represented roughly equally."""
    return items[:: max(1, len(items) // count)][:count]


def label_index(names: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """The position of each class name in ``labels`` (a model's output order); -1 where it has none."""
    index = {name: i for i, name in enumerate(labels)}
    return np.array([index.get(n, -1) for n in names], dtype=np.int64)


def list_stratified(folder: str | Path, count: int, seed: int = 0) -> list[Path]:
    """Up to ``count`` image paths, round-robin across class subfolders (or from a flat folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "calibration folder not found")
    groups = [list(listing.images) for listing in scan_classes(folder).values()]
    groups = [g for g in groups if g] or [list(image_files(folder, recursive=False).images)]
    if not any(groups):
        raise InputError(folder, "no images to calibrate or check with")
    rng = np.random.default_rng(seed)
    for g in groups:
        rng.shuffle(g)
    chosen: list[Path] = []
    depth = 0
    while len(chosen) < count and any(depth < len(g) for g in groups):
        chosen += [g[depth] for g in groups if depth < len(g)][: count - len(chosen)]
        depth += 1
    return chosen


def load_images(paths: list[Path], size: tuple[int, int], what: str) -> tuple[np.ndarray, list[Path]]:
    """Preprocessed uint8 pixels (N, H, W, 3) of the readable paths, decoded by the decoder pool
    (runtime/decoder.py: contained, and in parallel); unreadable ones are skipped."""
    pixels, kept, bad = [], [], []
    for p, decoded in zip(paths, shared_pool().imap(paths, size)):
        if isinstance(decoded, InputError):
            bad.append(decoded)
        else:
            pixels.append(decoded)
            kept.append(p)
    for skipped in bad[:5]:
        log.warning("%s: skipping %s", what, skipped)
    if bad and not pixels:
        raise InputError(
            paths[0].parent.parent if len(paths) else None,
            f"none of the {len(paths)} {what} images could be read ({bad[0].reason})",
        )
    if not pixels:
        raise InputError(None, f"no {what} images")
    return np.stack(pixels), kept


def full_range(pixels: np.ndarray) -> np.ndarray:
    """Make sure the set spans 0..255, so the int8 model's uint8 input gets scale 1, zero point 0.

    Real photos nearly always do; if not, two pixels of the first image are set to 0 and 255.
    """
    if pixels.min() == 0 and pixels.max() == 255:
        return pixels
    pixels = pixels.copy()
    pixels[0, 0, 0] = 0
    pixels[0, 0, 1] = 255
    return pixels
