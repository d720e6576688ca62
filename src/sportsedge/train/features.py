"""Cache a frozen backbone's outputs so the head trains in seconds per epoch instead of minutes.

The frozen part runs in inference mode, so its output for an image (and augmentation draw) never
changes: computing it once per cached view and training the head on the stored features gives
the same model as pushing every image through the backbone every epoch, with the augmentation
draws fixed to the cached views.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sportsedge.train.data import BadImageLog, Split, image_stream
from sportsedge.util import fileio
from sportsedge.util.progress import Progress


def cache_key(split: Split, settings: dict) -> str:
    """Changes when the files, the backbone or the augmentation change."""
    return fileio.fingerprint(settings, split.paths)[:16]


def extract(
    features,
    split: Split,
    size,
    batch: int,
    augment=None,
    seed: int = 0,
    bad: BadImageLog | None = None,
    label: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, D) float32, labels (N,)) for the readable images of ``split``."""
    import tensorflow as tf

    ds = image_stream(split, size, batch, bad=bad)
    if augment is not None:
        # Same seed every call; each view still differs because the generator state advances.
        ds = ds.map(lambda x, y: (augment(tf.cast(x, tf.float32), training=True), y))

    @tf.function(reduce_retracing=True)
    def run(x):
        return features(x, training=False)

    feats, labels = [], []
    progress = Progress(f"features {label or split.name}", total=len(split), unit="img")
    for x, y in ds:
        feats.append(run(x).numpy())
        labels.append(y.numpy())
        progress.update(len(y))
    progress.close()
    return np.concatenate(feats).astype(np.float32), np.concatenate(labels)


def cached_extract(cache_dir: Path, key: str, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """extract(), stored under ``cache_dir`` so a resumed or repeated run skips the work."""
    path = Path(cache_dir) / f"{key}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["features"], z["labels"]
    t0 = time.perf_counter()
    feats, labels = extract(**kwargs)
    with fileio.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, features=feats, labels=labels, seconds=time.perf_counter() - t0)
    return feats, labels
