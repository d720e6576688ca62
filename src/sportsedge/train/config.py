"""Training configuration (CLI flags mirror the field names) and what a run folder records."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UsageError
from .models import Recipe, get_model

STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclass(frozen=True)
class TrainConfig:
    model: str  # registry name: cnn, cnn_v1, efficientnet_b0, mobilenet_v2
    data: str  # dataset folder with train/, valid/ and optionally test/
    out: str  # run folder to write
    weights: str | None = None  # imagenet, none, auto (imagenet if on disk) or a file; None = the model's default
    epochs: int | None = None  # None = the recipe's
    batch_size: int | None = None  # None = the recipe's
    learning_rate: float | None = None  # None = the recipe's
    augment: bool = True  # apply the recipe's augmentation to the training stream
    cache_features: int | None = None  # train views of the frozen backbone's output to cache; 0 = off; None = recipe
    early_stopping: int | None = None  # patience on val_loss; 0 = off; None = the recipe's
    label_smoothing: float = 0.0  # cross-entropy label smoothing; 0 = the seed's plain loss
    strategy: str = "default"  # default, mirrored (all local GPUs) or multi-worker (TF_CONFIG)
    seed: int = 0  # seeds Python, numpy, TF, shuffling and augmentation
    resume: bool = False  # continue an interrupted run in `out`
    jit_compile: bool = False  # XLA for fit; off: measured 1.46x slower steps with it on here
    limit_per_class: int | None = None  # use at most N images per class and split (quick trials)

    def resolved(self) -> dict:
        """The settings actually used, recipe defaults filled in."""
        entry = get_model(self.model)
        recipe: Recipe = entry.recipe
        if self.strategy not in STRATEGIES:
            raise UsageError(f"unknown strategy {self.strategy!r} (choose from {', '.join(STRATEGIES)})")
        cache = recipe.cache_views if self.cache_features is None else self.cache_features
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for name, value in (("epochs", self.epochs), ("batch_size", self.batch_size), ("cache_features", cache)):
            if value is not None and value < (0 if name == "cache_features" else 1):
                raise UsageError(f"{name} must be positive, got {value}")
        patience = recipe.early_stopping if self.early_stopping is None else (self.early_stopping or None)
        return {
            **asdict(self),
            "weights": entry.resolve_weights(self.weights),
            "epochs": self.epochs or recipe.epochs,
            "batch_size": self.batch_size or recipe.batch_size,
            "learning_rate": self.learning_rate or recipe.learning_rate,
            "cache_features": cache,
            "early_stopping": patience,
            "augmentation": asdict(recipe.augment) if self.augment else None,
            "input_size": list(entry.input_size),
        }


def load_run_config(run_dir: Path) -> dict:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UsageError(f"{run_dir}: not a training run (no config.json)")
    return json.loads(path.read_text())
