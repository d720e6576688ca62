"""Export settings: every default lives here, and the CLI builds its options and help from it.

Kept free of heavy imports (argparse reads it to build `--help`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..input_transform import PixelTransform


@dataclass(frozen=True)
class Remedy:
    name: str  # --remedies name; remedies.CANDIDATES maps it to its generator of candidates
    help: str  # one line for --help


# Accuracy-aware int8 remedies, in their default order.
REMEDIES: dict[str, Remedy] = {
    r.name: r
    for r in (
        Remedy("calibration", "calibration_factor times the calibration images"),
        Remedy("fallback", "the most sensitive ops kept float"),
        Remedy("int16", "16-bit activations, int8 weights"),
    )
}


class RangeFit(str, Enum):
    """How full-int8 TFLite fits each activation's range to the calibration images (export/ranges.py)."""

    MSE = "mse"  # least squared int8 error over the activation's histogram: rare outliers clipped
    MINMAX = "minmax"  # the converter's own: min..max over the calibration images

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class AccuracyConfig:
    max_drop: float | None = 1.0  # top-1 points int8 may lose vs Keras on the parity set; None = no remedies
    remedies: tuple[str, ...] = tuple(REMEDIES)  # tried in this order (--remedies)
    calibration_factor: int = 4  # the calibration remedy uses this many times --calibration-size images
    activation_ranges: RangeFit = RangeFit.MSE  # how tflite-int8 fits activation ranges (--activation-ranges)


@dataclass(frozen=True)
class QatConfig:
    epochs: int = 2  # fine-tuning epochs with fake quantization (--qat-epochs)
    learning_rate: float = 1e-5  # Adam's; small, the float model is already trained (--qat-learning-rate)
    batch_size: int = 32  # images per step
    train_size: int | None = None  # train/ images used, stratified; None = all (--qat-train-size)


@dataclass(frozen=True)
class UserModel:
    """How to read a model that is not a sportsedge run (ignored for run folders)."""

    labels: str | None = None  # --labels: labels.txt (one per line, output order) or a folder of class folders
    transform: PixelTransform | None = None  # --preprocess / --scale --offset: what the model expects
    input_size: tuple[int, int] | None = None  # --input-size HxW: for models with a dynamic size
    output: str = "auto"  # --output: auto (detected on real images), probabilities or logits
    parity_data: str | None = None  # --parity-data: class folders (accuracy + agreement) or flat (agreement)
    name: str | None = None  # --name: artifacts are <name>-<format>; default the file's stem


@dataclass(frozen=True)
class ExportConfig:
    calibration: str | None = None  # folder of real images for int8 calibration; None = the run's train/
    calibration_size: int = 300  # calibration images
    parity_size: int = 200  # valid/ images for the parity check
    min_agreement: float | None = None  # overrides the table's parity floor for quantized formats
    force: bool = False  # redo artifacts even when nothing changed
    accuracy: AccuracyConfig = field(default_factory=AccuracyConfig)  # accuracy-aware tflite-int8
    qat: QatConfig = field(default_factory=QatConfig)  # tflite-int8-qat
    user: UserModel = field(default_factory=UserModel)  # for models that are not sportsedge runs


def parse_remedies(text: str) -> tuple[str, ...]:
    """--remedies: "none" or a comma list of REMEDIES names."""
    from ..errors import UsageError

    if text.strip() == "none":
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in REMEDIES]
    if unknown or not names:
        raise UsageError(
            f"unknown remedy {', '.join(map(repr, unknown)) or '(none)'}; choose none or from {', '.join(REMEDIES)}"
        )
    return names
