"""Training configuration (CLI flags mirror the field names) and the run record a run folder keeps."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sportsedge.core.errors import UsageError
from sportsedge.core.options import (
    BELOW_ONE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    check_bounds,
    int_between,
    one_of,
    option,
)
from sportsedge.train.mobilenet import FT_STAGE2
from sportsedge.train.models import MAX_SIDE, MIN_SIDE, MODELS, FineTune, Recipe, get_model
from sportsedge.util import fileio

# tf.distribute strategy by --strategy name: (factory taking the tensorflow module, help text).
STRATEGIES = {
    "default": (lambda tf: tf.distribute.get_strategy(), "one device, TensorFlow's default"),
    "mirrored": (lambda tf: tf.distribute.MirroredStrategy(), "all local GPUs"),
    "multi-worker": (lambda tf: tf.distribute.MultiWorkerMirroredStrategy(), "workers named by TF_CONFIG"),
}


def _models_help() -> str:
    return f"one of: {', '.join(MODELS)}"


RESIZABLE = "mobilenet_v2* and efficientnet_lite*"
INPUT_SIDE = int_between(MIN_SIDE, MAX_SIDE)  # --input-size of train, each of pipeline's --input-sizes
_FT = FT_STAGE2  # the two-stage recipe's stage 2, whose defaults the --finetune-* help quotes


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Each field's option (core.options) is its --flag on `train`, and on
    `pipeline` too unless PIPELINE_SKIPS names it: a new field reaches both with this one edit."""

    # model, data and out are blank in a template (PipelineConfig.train) and required on `train`.
    model: str = option("", _models_help, parse=one_of(MODELS, "model"), metavar="NAME", required=True)  # registry name
    data: str = option("", "dataset folder with train/ and valid/ (and test/)", required=True)  # the dataset folder
    out: str = option("", "run folder to create", required=True)  # run folder to write
    weights: str | None = option(  # imagenet, none, auto (imagenet if on disk) or a file; None = the model's default
        None,
        "imagenet, none, auto (imagenet if already on disk) or a weights file (default: imagenet for "
        "transfer models, none for the CNNs)",
    )
    epochs: int | None = option(None, "default: the recipe's", bound=POSITIVE_INT)  # None = the recipe's
    batch_size: int | None = option(None, "default: the recipe's", bound=POSITIVE_INT)  # None = the recipe's
    learning_rate: float | None = option(None, "default: the recipe's", bound=POSITIVE)  # None = the recipe's
    augment: bool = option(True, "train without augmentation", negate=True)  # the recipe's augmentation on
    cache_features: int | None = option(  # train views of the frozen backbone's output to cache; 0 = off
        None,
        "cache the frozen backbone's outputs for VIEWS views of the train set (view 1 clean, the rest "
        "augmented); 0 = off (default: the recipe's; 1 for mobilenet_v2)",
        bound=NON_NEGATIVE_INT,
        metavar="VIEWS",
    )
    early_stopping: int | None = option(  # patience on val_loss; 0 = off; None = the recipe's
        None, "patience on val_loss; 0 = off (default: the recipe's)", bound=NON_NEGATIVE_INT, metavar="PATIENCE"
    )
    label_smoothing: float = option(  # cross-entropy label smoothing; 0 = the seed's plain loss
        0.0,
        "label smoothing of the loss (0 is the seed's); 0.1 measured +0.9 points for mobilenet_v2",
        bound=BELOW_ONE,
    )
    strategy: str = option(  # a STRATEGIES name
        "default",
        "tf.distribute strategy: " + "; ".join(f"{k} = {h}" for k, (_, h) in STRATEGIES.items()),
        choices=tuple(STRATEGIES),
    )
    seed: int = option(0, "random seed", parse=int)  # seeds Python, numpy, TF, shuffling and augmentation
    resume: bool = option(False, "continue an interrupted run in --out")  # continue an interrupted run in `out`
    jit_compile: bool = option(False, "XLA-compile training steps (slower on CPU here)")  # measured 1.46x slower
    limit_per_class: int | None = option(  # use at most N images per class and split (quick trials)
        None, "use at most N images per class", bound=POSITIVE_INT
    )
    finetune_epochs: int | None = option(  # stage 2 of a two-stage model; 0 = stage 1 only; None = the recipe's
        None,
        f"two-stage models: epochs of stage 2 (the top blocks); 0 = head only (default {_FT.epochs})",
        bound=NON_NEGATIVE_INT,
        metavar="N",
    )
    finetune_learning_rate: float | None = option(  # stage 2's peak learning rate; None = the recipe's
        None,
        f"two-stage models: stage 2's peak learning rate, after warm-up (default {_FT.learning_rate:g})",
        bound=POSITIVE,
        metavar="LR",
    )
    finetune_blocks: int | None = option(  # top blocks stage 2 unfreezes; None = the recipe's
        None,
        f"two-stage models: top blocks stage 2 unfreezes (default: the recipe's, {_FT.blocks})",
        bound=POSITIVE_INT,
        metavar="N",
    )
    finetune_views: int | None = option(  # train views cached at the block boundary; None = the recipe's
        None,
        "two-stage models: most train views cached at the block boundary: 1 clean, 2 mirrored, 3+ augmented; "
        f"fewer when views x train images exceeds {_FT.view_images:,} (default {_FT.views})",
        bound=POSITIVE_INT,
        metavar="N",
    )
    finetune_int8_epochs: int | None = option(  # of those, the last ones int8-aware; 0 = none; None = the recipe's
        None,
        "two-stage models: the last N of the --finetune-epochs train the top blocks with their kernels "
        "rounded as full int8 will round them (activations too if the recipe says so), so int8 exports "
        f"lose less; 0 = none (default {_FT.int8_epochs})",
        bound=NON_NEGATIVE_INT,
        metavar="N",
    )
    input_size: int | None = option(  # square input side in px (resizable models); None = the model's own
        None,
        f"square input side for {RESIZABLE}: the same network and ImageNet weights at another size, a "
        f"multiple of 32 from {MIN_SIDE} to {MAX_SIDE} (default: the model's own)",
        bound=INPUT_SIDE,
        metavar="PX",
    )

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.strategy not in STRATEGIES:
            raise UsageError(f"unknown strategy {self.strategy!r} (choose from {', '.join(STRATEGIES)})")

    def resolved(self) -> RunRecord:
        """The settings actually used, recipe defaults filled in (results still empty)."""
        entry = get_model(self.model)
        recipe: Recipe = entry.recipe
        cache = recipe.cache_views if self.cache_features is None else self.cache_features
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
        given: dict[str, Any] = {
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
        # Each value's bound (epochs 0 or more, the others positive) was checked in __post_init__.
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
            raise UsageError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from err
        return cls.from_dict(raw, str(path))

    def save(self, run_dir: str | Path) -> None:
        fileio.write_json(Path(run_dir) / "config.json", self.to_dict())


# TrainConfig fields `pipeline` does not take: it names the model, data and run folder of each
# run itself, resumes by its own state, and sweeps sizes with --input-sizes.
PIPELINE_SKIPS = ("model", "data", "out", "resume", "input_size")
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
