"""Accuracy of an artifact through the runtime on a whole split, and its agreement with float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sportsedge.core import metrics
from sportsedge.core.errors import InputError
from sportsedge.runtime.imagesets import image_files, label_index, scan_classes


def labelled_images(folder) -> tuple[list[str], list[str] | None]:
    """(image paths, class-folder names) of a split folder with one subfolder per class; a folder
    of images without class folders gives names None (unlabelled: timed, not scored)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "data folder not found (expected a split folder with one folder per class)")
    paths, names = [], []
    for name, listing in scan_classes(folder).items():
        paths += [str(f) for f in listing.images]
        names += [name] * len(listing.images)
    if paths:
        return paths, names
    flat = image_files(folder, recursive=False).images
    if not flat:
        raise InputError(folder, "no images in it or in class subfolders")
    return [str(f) for f in flat], None


def label_indices(names: list[str], labels: tuple[str, ...], model_path) -> np.ndarray:
    """Class indices of the images' folder names in the model's labels; every name must be known."""
    y = label_index(names, labels)
    unknown = sorted({n for n, i in zip(names, y) if i < 0})
    if unknown:
        hint = (
            " (pass one split folder, e.g. DATA/test, not the dataset root)"
            if set(unknown) <= {"train", "valid", "test"}
            else ""
        )
        raise InputError(model_path, f"the data has classes the model does not know: {', '.join(unknown[:5])}{hint}")
    return y


def score(probs: np.ndarray, y: np.ndarray | None) -> dict:
    if y is None:  # unlabelled images: the accuracy columns stay empty
        return {"top1": None, "top5": None, "macro_f1": None, "n_images": len(probs)}
    s = metrics.summary(probs, y)
    return {"top1": s["top1"], "top5": s["top5"], "macro_f1": s["macro_f1"], "n_images": s["n"]}


def compare(probs: np.ndarray, ref: np.ndarray, y: np.ndarray | None, labels, worst: int = 5) -> dict:
    """Top-1 agreement and top-5 set overlap with the reference, and the classes whose recall
    dropped the most (needs labels: none for unlabelled images)."""
    n = len(labels)
    if y is None:
        return {
            "agreement_vs_fp32": metrics.agreement(probs, ref),
            "top5_overlap_vs_fp32": metrics.topk_overlap(probs, ref, 5),
            "worst_classes": [],
        }

    def recall(p):
        return np.diag(metrics.confusion_matrix(metrics.predicted(p), y, n)) / np.maximum(
            np.bincount(y, minlength=n), 1
        )

    drop = recall(ref) - recall(probs)
    order = [i for i in metrics.ranked(drop, worst) if drop[i] > 0]
    return {
        "agreement_vs_fp32": metrics.agreement(probs, ref),
        "top5_overlap_vs_fp32": metrics.topk_overlap(probs, ref, 5),
        "worst_classes": [{"class": labels[i], "recall_drop": float(drop[i])} for i in order],
    }
