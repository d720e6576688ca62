"""The seed deck's figures: training curves, confusion matrix, misclassified examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sportsedge.runtime.preprocess import load_pixels
from sportsedge.util.figures import pyplot as _pyplot
from sportsedge.util.figures import save_png as _save


def history_plot(history: dict, path: Path, title: str = "") -> None:
    """Training/validation loss and accuracy per epoch, side by side."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, key, name in ((axes[0], "loss", "Loss"), (axes[1], "accuracy", "Accuracy")):
        ax.plot(epochs, history.get(key, []), label=f"training {name.lower()}")
        if history.get(f"val_{key}"):
            ax.plot(epochs, history[f"val_{key}"], label=f"validation {name.lower()}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(f"{title} {name}".strip())
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def confusion_plot(cm: np.ndarray, classes, path: Path, title: str = "") -> None:
    plt = _pyplot()
    n = len(classes)
    size = max(6, min(30, n * 0.25))
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ticks = np.arange(n)
    fontsize = 8 if n <= 30 else 4
    ax.set_xticks(ticks, labels=classes, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, labels=classes, fontsize=fontsize)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(title or "Confusion matrix")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(
                        j,
                        i,
                        int(cm[i, j]),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if cm[i, j] > cm.max() / 2 else "black",
                    )
    _save(fig, path)


def misclassified_grid(paths, true, pred, classes, path: Path, limit: int = 16) -> None:
    """A grid of wrongly classified images titled "True: X / Predicted: Y" (empty note if none)."""
    plt = _pyplot()
    wrong = [(p, t, q) for p, t, q in zip(paths, true, pred) if t != q][:limit]
    cols = 4
    rows = max(1, (len(wrong) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 3.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if not wrong:
        axes[0, 0].text(0, 0.5, "no misclassified images", fontsize=12)
    for ax, (p, t, q) in zip(axes.flat, wrong):
        ax.imshow(load_pixels(p))
        ax.set_title(f"True: {classes[t]}\nPredicted: {classes[q]}", fontsize=9)
    _save(fig, path)
