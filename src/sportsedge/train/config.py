"""Training configuration (CLI flags mirror the field names) and the run record a run folder keeps."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .. import fileio
from ..errors import UsageError
from .models import FineTune, Recipe, get_model

# tf.distribute strategy by --strategy name: (factory taking the tensorflow module, help text).
STRATEGIES = {
    "default": (lambda tf: tf.distribute.get_strategy(), "one device, TensorFlow's default"),
    "mirrored": (lambda tf: tf.distribute.MirroredStrategy(), "all local GPUs"),
    "multi-worker": (lambda tf: tf.distribute.MultiWorkerMirroredStrategy(), "workers named by TF_CONFIG"),
}


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
    strategy: str = "default"  # a STRATEGIES name
    seed: int = 0  # seeds Python, numpy, TF, shuffling and augmentation
    resume: bool = False  # continue an interrupted run in `out`
    jit_compile: bool = False  # XLA for fit; off: measured 1.46x slower steps with it on here
    limit_per_class: int | None = None  # use at most N images per class and split (quick trials)
    finetune_epochs: int | None = None  # stage 2 of a two-stage model; 0 = stage 1 only; None = the recipe's
    finetune_learning_rate: float | None = None  # stage 2's peak learning rate; None = the recipe's
    finetune_blocks: int | None = None  # top blocks stage 2 unfreezes; None = the recipe's
    finetune_views: int | None = None  # train views cached at the block boundary; None = the recipe's
    finetune_int8_epochs: int | None = None  # of those, the last ones int8-aware; 0 = none; None = the recipe's
    input_size: int | None = None  # square input side in px (resizable models); None = the model's own

    def resolved(self) -> RunRecord:
        """The settings actually used, recipe defaults filled in (results still empty)."""
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
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise UsageError(f"learning_rate must be positive, got {self.learning_rate}")
        finetune = self._finetune(recipe)
        patience = recipe.early_stopping if self.early_stopping is None else (self.early_stopping or None)
        return RunRecord(
            **{
                **{k: v for k, v in asdict(self).items() if k not in _FOLDED},
                "weights": entry.resolve_weights(self.weights),
                "epochs": recipe.epochs if self.epochs is None else self.epochs,
                "batch_size": recipe.batch_size if self.batch_size is None else self.batch_size,
                "learning_rate": recipe.learning_rate if self.learning_rate is None else self.learning_rate,
                "cache_features": cache,
                "early_stopping": patience,
                "augmentation": asdict(recipe.augment) if self.augment else None,
                "input_size": entry.size(self.input_size),
                "finetune": finetune and asdict(finetune),
            }
        )

    def _finetune(self, recipe: Recipe) -> FineTune | None:
        """The recipe's stage 2 with the finetune_* overrides; None for one-stage models."""
        given = {
            "epochs": self.finetune_epochs,
            "learning_rate": self.finetune_learning_rate,
            "blocks": self.finetune_blocks,
            "views": self.finetune_views,
            "int8_epochs": self.finetune_int8_epochs,
        }
        given = {k: v for k, v in given.items() if v is not None}
        if recipe.finetune is None:
            if given:
                raise UsageError(f"{self.model} has one training stage: --finetune-* options do not apply")
            return None
        if any(v < 0 for v in given.values()) or 0 in (
            given.get("blocks"),
            given.get("views"),
            given.get("learning_rate"),
        ):
            raise UsageError(f"--finetune-* values must be positive (epochs may be 0), got {given}")
        ft = replace(recipe.finetune, **given)
        if "int8_epochs" not in given:  # the recipe's int8-aware epochs are the last of fewer epochs too
            ft = replace(ft, int8_epochs=min(ft.int8_epochs, ft.epochs))
        if ft.int8_epochs > ft.epochs:
            raise UsageError(
                f"--finetune-int8-epochs ({ft.int8_epochs}) must be at most --finetune-epochs ({ft.epochs}): "
                "they are its last epochs"
            )
        return ft


@dataclass(frozen=True)
class RunRecord:
    """A run folder's config.json: the resolved settings, then what the run found and measured."""

    model: str  # registry name
    data: str  # dataset folder trained on (absolute once trained, so export finds it from anywhere)
    input_size: tuple[int, int]  # (height, width) the model takes
    out: str = ""  # the run folder as given to train
    weights: str = "none"  # resolved: imagenet, none or a file
    epochs: int = 0  # maximum epochs
    batch_size: int = 0  # images per step
    learning_rate: float = 0.0  # Adam's
    augment: bool = True  # --no-augment not given
    cache_features: int = 0  # views of the frozen backbone's output cached; 0 = off
    early_stopping: int | None = None  # patience on val_loss; None = off
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    strategy: str = "default"  # a STRATEGIES name
    seed: int = 0  # training seed
    resume: bool = False  # the last session resumed an interrupted run
    jit_compile: bool = False  # XLA for fit
    limit_per_class: int | None = None  # images per class and split used; None = all
    augmentation: dict | None = None  # the recipe's Augment fields, None without augmentation
    finetune: dict | None = None  # stage 2's resolved FineTune fields; None = a one-stage model
    initial_epoch: int = 0  # epochs already done when the last session started
    fit_seconds: float | None = None  # time in fit, all sessions
    train_wall_seconds: float | None = None  # the last session: build + feature caching + fit
    stages: list = field(default_factory=list)  # per stage: its settings, data_seconds (caching), fit_seconds
    bad_images: dict = field(default_factory=dict)  # unreadable image -> reason
    classes: tuple[str, ...] = ()  # output order of the model
    environment: dict = field(default_factory=dict)  # library versions, machine, git commit
    extra: dict = field(default_factory=dict)  # keys of the file this version does not know (kept on save)

    def settings(self) -> dict:
        """The resolved settings as a JSON-ready dict (the pipeline's training fingerprint)."""
        # `finetune` only when set: one-stage runs keep the fingerprint they had before stages existed.
        keys = [k for k in _SETTING_KEYS if k != "finetune" or self.finetune is not None]
        return {k: _jsonable(getattr(self, k)) for k in keys}

    def to_dict(self) -> dict:
        """config.json: the settings first, then the results, then keys kept from an older file."""
        rest = {f.name: _jsonable(getattr(self, f.name)) for f in fields(self) if f.name not in _SETTING_KEYS}
        del rest["extra"]
        return {**self.settings(), **rest, **{k: v for k, v in self.extra.items() if k not in rest}}

    def replace(self, **changes) -> RunRecord:
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config.json") -> RunRecord:
        known = {f.name for f in fields(cls)} - {"extra"}
        missing = [k for k in ("model", "data", "input_size") if k not in raw]
        if missing:
            raise UsageError(f"{source}: not a run record (missing {', '.join(missing)})")
        values = {k: v for k, v in raw.items() if k in known}
        values["input_size"] = tuple(int(v) for v in raw["input_size"])
        values["classes"] = tuple(raw.get("classes", ()))
        return cls(**values, extra={k: v for k, v in raw.items() if k not in known})

    @classmethod
    def load(cls, run_dir: str | Path) -> RunRecord:
        path = Path(run_dir) / "config.json"
        if not path.is_file():
            raise UsageError(f"{run_dir}: not a training run (no config.json)")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise UsageError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
        return cls.from_dict(raw, str(path))

    def save(self, run_dir: str | Path) -> None:
        fileio.write_json(Path(run_dir) / "config.json", self.to_dict())


# TrainConfig fields resolved() folds into the record's `finetune`.
_FOLDED = ("finetune_epochs", "finetune_learning_rate", "finetune_blocks", "finetune_views", "finetune_int8_epochs")
# What resolved() settles: every TrainConfig field, then what the recipe and registry add.
_SETTING_KEYS = (
    *(f.name for f in fields(TrainConfig) if f.name not in _FOLDED and f.name != "input_size"),
    "augmentation",
    "input_size",
    "finetune",
)


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value
