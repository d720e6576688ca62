"""`sportsedge evaluate`: the seed deck's evaluation reports for a run on one split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sportsedge.core import metrics
from sportsedge.core.errors import UsageError
from sportsedge.train.config import RunRecord
from sportsedge.train.data import BadImageLog, Dataset, limit_split, scan_dataset
from sportsedge.train.plots import confusion_plot, misclassified_grid
from sportsedge.util import fileio


def predict_split(model, ds: Dataset, split: str, size, batch: int = 32, limit_per_class: int | None = None):
    """(probabilities, labels, paths) for the readable images of a split, in file order."""
    import tensorflow as tf

    from sportsedge.train.data import image_stream

    s = limit_split(ds.split(split), limit_per_class)
    run = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    probs, labels, index = [], [], []
    for x, y, i in image_stream(s, size, batch, bad=BadImageLog(), with_index=True, contained=True):
        probs.append(run(x).numpy())
        labels.append(y.numpy())
        index.append(i.numpy())
    order = np.concatenate(index)
    return np.concatenate(probs), np.concatenate(labels), [s.paths[i] for i in order]


def evaluate_model(model, run_dir: Path, ds: Dataset, split: str, rec: RunRecord, limit_per_class=None) -> dict:
    """Write eval-<split>/: metrics.json, report.txt/.json, confusion_matrix.png, misclassified.png."""
    probs, labels, paths = predict_split(model, ds, split, rec.input_size, limit_per_class=limit_per_class)
    out = Path(run_dir) / f"eval-{split}"
    summary = metrics.summary(probs, labels)
    pred = metrics.predicted(probs)
    cm = metrics.confusion_matrix(pred, labels, len(ds.classes))
    rows = metrics.per_class(cm, ds.classes)
    fileio.write_json(out / "metrics.json", {**summary, "split": split, "data": str(ds.root)})
    fileio.write_json(out / "report.json", rows)
    fileio.write_text(out / "report.txt", metrics.report_text(rows))
    confusion_plot(cm, ds.classes, out / "confusion_matrix.png", title=f"{rec.model} on {split}/")
    misclassified_grid(paths, labels, pred, ds.classes, out / "misclassified.png")
    return summary


def evaluate(run_dir: str | Path, data: str | Path | None = None, split: str = "test", limit_per_class=None) -> dict:
    """Evaluate a saved run on a split of ``data`` (default: the dataset it was trained on)."""
    import keras

    rec = RunRecord.load(run_dir)
    ds = scan_dataset(data or rec.data, require=(split,))
    if tuple(ds.classes) != rec.classes:
        raise UsageError(f"{ds.root}: its classes differ from the run's ({len(ds.classes)} vs {len(rec.classes)})")
    model = keras.models.load_model(Path(run_dir) / "model.keras", compile=False, safe_mode=True)
    return evaluate_model(model, Path(run_dir), ds, split, rec, limit_per_class)
