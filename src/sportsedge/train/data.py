"""Datasets in the Kaggle layout (``train/``, ``valid/``, ``test/``, one folder per class).

Scanning is TF-free; :func:`image_stream` builds the tf.data pipeline, decoding each image with
the runtime's own :func:`~sportsedge.runtime.load_pixels` so that training sees the very pixels
the device will. Unreadable images are reported once and skipped, never fatal.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sportsedge.core.errors import InputError, UsageError
from sportsedge.runtime.imagesets import SPLITS, class_dirs, image_files
from sportsedge.runtime.preprocess import load_pixels as load_contained
from sportsedge.runtime.preprocess import load_pixels_here as load_pixels  # its own dataset: in process (decoder.py)

log = logging.getLogger("sportsedge.data")


@dataclass(frozen=True)
class Split:
    name: str  # "train", "valid" or "test"
    paths: tuple[str, ...]  # image files, sorted by class then name
    labels: tuple[int, ...]  # class index of each path, in the dataset's class order
    skipped: int  # non-image files ignored while scanning

    def __len__(self) -> int:
        return len(self.paths)


def limit_split(split: Split, per_class: int | None) -> Split:
    """The first ``per_class`` images of each class (all when None: quick trials)."""
    if not per_class:
        return split
    keep: list[int] = []
    counts: dict[int, int] = {}
    for i, y in enumerate(split.labels):
        counts[y] = counts.get(y, 0) + 1
        if counts[y] <= per_class:
            keep.append(i)
    return Split(split.name, tuple(split.paths[i] for i in keep), tuple(split.labels[i] for i in keep), split.skipped)


@dataclass(frozen=True)
class Dataset:
    root: Path  # the folder holding the splits
    classes: tuple[str, ...]  # sorted folder names of train/ = output order of every model
    splits: dict  # split name -> Split, for the splits present

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise UsageError(f"{self.root}: no {name}/ split (found: {', '.join(self.splits)})")
        return self.splits[name]

    @property
    def eval_split(self) -> str:
        """The split to report final numbers on: test/ when present, else valid/."""
        return "test" if "test" in self.splits else "valid"


def scan_split(folder: Path, classes: tuple[str, ...]) -> Split:
    """A split folder whose class folders are exactly ``classes``; each must hold images."""
    paths, labels, skipped = [], [], 0
    for idx, name in enumerate(classes):
        listing = image_files(folder / name)
        skipped += listing.other
        if not listing.images:
            raise InputError(folder / name, "class folder has no images")
        paths += [str(p) for p in listing.images]
        labels += [idx] * len(listing.images)
    return Split(folder.name, tuple(paths), tuple(labels), skipped)


def scan_dataset(root: str | Path, require: tuple[str, ...] = ("train",)) -> Dataset:
    """Scan a dataset folder; class order is the sorted folder names of ``train/``.

    Every other split must hold exactly the same class folders (the error names the difference).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset folder not found")
    present = [s for s in SPLITS if (root / s).is_dir()]
    for name in require:
        if name not in present:
            raise InputError(
                root, f"missing the {name}/ split (expected {'/, '.join(SPLITS)}/ with one folder per class)"
            )
    reference = "train" if "train" in present else present[0] if present else None
    if reference is None:
        raise InputError(root, "no train/, valid/ or test/ folder")
    classes = tuple(class_dirs(root / reference))
    if not classes:
        raise InputError(root / reference, "no class folders")
    splits = {}
    for name in present:
        found = tuple(class_dirs(root / name))
        if found != classes:
            missing, extra = sorted(set(classes) - set(found)), sorted(set(found) - set(classes))
            parts = ([f"missing {_few(missing)}"] if missing else []) + ([f"extra {_few(extra)}"] if extra else [])
            raise InputError(root / name, f"class folders differ from {reference}/: {'; '.join(parts)}")
        splits[name] = scan_split(root / name, classes)
        if splits[name].skipped:
            log.info("%s: skipped %d non-image files", root / name, splits[name].skipped)
    return Dataset(root, classes, splits)


def _few(names: list[str], n: int = 5) -> str:
    shown = ", ".join(repr(x) for x in names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


class BadImageLog:
    """Collects unreadable images met while streaming; each is logged once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seen: dict[str | None, str] = {}  # path -> reason (None: an error that names no file)

    def add(self, err: InputError) -> None:
        with self._lock:
            if err.path not in self.seen:
                self.seen[err.path] = err.reason
                log.warning("skipping unreadable image %s", err)


def _loader(size: tuple[int, int], bad: BadImageLog, contained: bool = False):
    """path -> (uint8 pixels, ok) through the runtime's preprocessing, as a tf.data map function;
    ``contained``: decoded by the runtime's decoder processes (a split someone else gave: evaluate)."""
    import tensorflow as tf

    h, w = size

    def load(path):
        path = path.decode() if isinstance(path, bytes) else str(path)
        try:
            return (load_contained if contained else load_pixels)(path, size), True
        except InputError as err:
            bad.add(err)
            return np.zeros((h, w, 3), np.uint8), False

    def tf_load(path):
        pixels, ok = tf.numpy_function(load, [path], [tf.uint8, tf.bool], stateful=False)
        pixels.set_shape((h, w, 3))
        ok.set_shape(())
        return pixels, ok

    return tf_load


def image_stream(
    split: Split,
    size: tuple[int, int],
    batch: int,
    bad: BadImageLog | None = None,
    with_index: bool = False,
    contained: bool = False,
):
    """tf.data of (uint8 pixels (B, H, W, 3), int labels[, index into split]) in file order.

    Unreadable images are dropped (and logged once), so ``with_index`` tells which survived;
    ``contained``: decoded in the runtime's decoder processes (see _loader).
    """
    import tensorflow as tf

    load = _loader(size, bad or BadImageLog(), contained)

    def tf_load(path, label, index):
        pixels, ok = load(path)
        return pixels, label, index, ok

    def readable(x, y, i, ok):
        return ok

    def drop_flag(x, y, i, ok):
        return (x, y, i) if with_index else (x, y)

    ds = tf.data.Dataset.from_tensor_slices(
        (list(split.paths), np.array(split.labels, np.int32), np.arange(len(split), dtype=np.int32))
    )
    ds = ds.map(tf_load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.filter(readable).map(drop_flag).batch(batch).prefetch(tf.data.AUTOTUNE)


def epoch_order(n: int, seed: int, epoch):
    """The shuffled order of epoch ``epoch``: a pure function of (seed, epoch), so a resumed run
    or a distributed one sees the same order as an uninterrupted, single-device run."""
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        tf.range(n), seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    )


def training_stream(
    split: Split,
    size: tuple[int, int],
    batch: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    augment=None,
    bad: BadImageLog | None = None,
):
    """One dataset for epochs first_epoch..epochs-1 of (pixels, labels, weights), batched per epoch.

    Unreadable images get weight 0 rather than being dropped, so every epoch has exactly
    ceil(n / batch) steps.
    """
    import tensorflow as tf

    load = _loader(size, bad or BadImageLog())
    paths = tf.constant(list(split.paths))
    labels = tf.constant(np.array(split.labels, np.int32))

    def sample(i):
        pixels, ok = load(tf.gather(paths, i))
        return pixels, tf.gather(labels, i), tf.cast(ok, tf.float32)

    def epoch_data(e):
        ds = tf.data.Dataset.from_tensor_slices(epoch_order(len(split), seed, e))
        return ds.map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch)

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_data)
    if augment is not None:

        def augmented(x, y, w):
            return augment(tf.cast(x, tf.float32), training=True), y, w

        ds = ds.map(augmented, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
