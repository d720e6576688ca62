"""Classification metrics in plain numpy (TF-free: shared by training reports, export parity checks,
benchmarks and the runtime's ranking).

The prediction rule, used everywhere a score vector becomes classes: classes ranked by descending
score, ties going to the lower class index. Top-1 is therefore ``argmax`` (the first of tied
maxima), and top-k is its extension; int8 outputs tie often, so the rule must be one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def ranked(scores: np.ndarray, k: int | None = None) -> np.ndarray:
    """Class indices by descending score along the last axis, ties to the lower index; the first k."""
    order = np.argsort(-np.asarray(scores), axis=-1, kind="stable")
    return order if k is None else order[..., :k]


def predicted(scores: np.ndarray) -> np.ndarray:
    """The top-1 class of each row: the first ``ranked`` class (argmax, first of tied maxima)."""
    top: np.ndarray = np.asarray(scores).argmax(axis=-1)
    return top


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    if len(labels) == 0:
        return float("nan")
    top = ranked(probs, min(k, probs.shape[1]))
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=1)))


def top1_known(probs: np.ndarray, labels: np.ndarray) -> float | None:
    """Top-1 over the images whose class is known (label -1: unknown); None if there are none."""
    known = labels >= 0
    return float(np.mean(predicted(probs)[known] == labels[known])) if known.any() else None


def agreement(probs: np.ndarray, reference: np.ndarray) -> float:
    """Share of rows whose top-1 class is the reference's."""
    return float(np.mean(predicted(probs) == predicted(reference)))


def topk_overlap(probs: np.ndarray, reference: np.ndarray, k: int = 5) -> float:
    """Mean share of the reference's top-k classes that are also in the rows' top-k (ranking parity)."""
    k = min(k, probs.shape[-1])
    a, b = ranked(probs, k), ranked(reference, k)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))


def topk_order_match(probs: np.ndarray, reference: np.ndarray, k: int = 5) -> float:
    """Share of rows whose top-k classes are the reference's, in the same order."""
    k = min(k, probs.shape[-1])
    return float(np.mean(np.all(ranked(probs, k) == ranked(reference, k), axis=-1)))


def log_loss(probs: np.ndarray, labels: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(probs[np.arange(len(labels)), labels], eps, 1.0)
    return float(-np.mean(np.log(p)))


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (labels, pred), 1)
    return cm


def per_class(cm: np.ndarray, classes: Sequence[str] | range) -> dict[Any, dict[str, float]]:
    """precision, recall, f1, support per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(actual[i]),
        }
        for i, name in enumerate(classes)
    }


def macro_f1(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the classes present in ``labels`` (absent classes would only add zeros)."""
    cm = confusion_matrix(pred, labels, n_classes)
    present = cm.sum(axis=1) > 0
    rows = per_class(cm, range(n_classes))
    return float(np.mean([rows[i]["f1"] for i in np.flatnonzero(present)])) if present.any() else float("nan")


def summary(probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The standard numbers: top1, top5, loss, macro_f1, n."""
    pred = predicted(probs)
    return {
        "top1": top_k_accuracy(probs, labels, 1),
        "top5": top_k_accuracy(probs, labels, 5),
        "loss": log_loss(probs, labels),
        "macro_f1": macro_f1(pred, labels, probs.shape[1]),
        "n": int(len(labels)),
    }


def report_text(rows: dict[str, Any]) -> str:
    """A scikit-learn-style text classification report."""
    width = max(12, *(len(str(k)) for k in rows))
    lines = [f"{'':>{width}}  precision    recall  f1-score   support", ""]
    for name, r in rows.items():
        lines.append(f"{name:>{width}}  {r['precision']:9.3f} {r['recall']:9.3f} {r['f1']:9.3f} {r['support']:9d}")
    total = sum(r["support"] for r in rows.values())
    present = [r for r in rows.values() if r["support"]]
    macro = {k: float(np.mean([r[k] for r in present])) if present else 0.0 for k in ("precision", "recall", "f1")}
    lines += [
        "",
        f"{'macro avg':>{width}}  {macro['precision']:9.3f} {macro['recall']:9.3f} {macro['f1']:9.3f} {total:9d}",
    ]
    return "\n".join(lines) + "\n"
