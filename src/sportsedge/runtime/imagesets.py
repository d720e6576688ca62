"""Folders of images and sets drawn from them (TF-free).

The one folder scanner: every command that lists images (training splits, calibration, parity,
benchmark data, `data check`, `predict` on a folder) goes through :func:`image_files` and
:func:`scan_classes`, with one rule: names starting with "." (``.ipynb_checkpoints``,
``.DS_Store``, ``.git``) are never classes or images, at any depth.

Sets drawn from them are stratified over class folders and reproducible: int8 calibration,
parity checks and benchmark inputs. Never random noise: activation ranges calibrated on noise
do not match real photos.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sportsedge.core.errors import InputError
from sportsedge.runtime.preprocess import is_image_file, load_pixels

log = logging.getLogger("sportsedge.images")

SPLITS = ("train", "valid", "test")  # the Kaggle layout's split folders


def _hidden(name: str) -> bool:
    return name.startswith(".")


@dataclass(frozen=True)
class Listing:
    """A folder's image files, and how many other files it held."""

    images: tuple[Path, ...]  # image files, sorted by path
    other: int  # files that are not images (by extension), hidden ones not counted


def image_files(folder: Path, recursive: bool = True, accept: Callable[[Path], bool] = is_image_file) -> Listing:
    """The image files in ``folder`` (below it too when ``recursive``), hidden entries skipped;
    ``accept`` widens what counts (e.g. videos too, for `predict`)."""
    images, other = [], 0
    for p in sorted(folder.rglob("*") if recursive else folder.iterdir()):
        if any(_hidden(part) for part in p.relative_to(folder).parts) or not p.is_file():
            continue
        if accept(p):
            images.append(p)
        else:
            other += 1
    return Listing(tuple(images), other)


def class_dirs(folder: Path) -> list[str]:
    """Sorted class-folder names of a split folder (hidden folders are not classes)."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not _hidden(p.name))


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
    """Preprocessed uint8 pixels (N, H, W, 3) of the readable paths; unreadable ones are skipped."""
    pixels, kept, bad = [], [], []
    for p in paths:
        try:
            pixels.append(load_pixels(p, size))
            kept.append(p)
        except InputError as err:
            bad.append(err)
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
