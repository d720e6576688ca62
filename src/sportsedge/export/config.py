"""Export settings: every default lives here, and the CLI builds its options and help from it.

Kept free of heavy imports (argparse reads it to build `--help`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from sportsedge.core.errors import UsageError
from sportsedge.core.formats import CALIBRATION_SIZE
from sportsedge.core.options import FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, check_bounds, option

if TYPE_CHECKING:
    from sportsedge.core.input_transform import PixelTransform


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


def _remedies_help() -> str:
    return "remedies to try, in order: " + "; ".join(f"{r.name} ({r.help})" for r in REMEDIES.values()) + "; or none"


# One parity image of the default 200: the smallest bound the ladder meets at <= ~10% latency
# (efficientnet_lite2_ft's plain int8 loses exactly one image in both families; at 0 its TFLite
# file needs 8 float layers, +15%, and its ONNX file none does: docs/quantization.md).
DEFAULT_MAX_DROP = 0.5


@dataclass(frozen=True)
class AccuracyConfig:
    max_drop: float | None = option(  # top-1 points int8 may lose vs Keras on the parity set; None = no remedies
        DEFAULT_MAX_DROP,
        "top-1 points int8 may lose against Keras on the parity set before remedies are tried",
        bound=NON_NEGATIVE,
    )
    remedies: tuple[str, ...] = option(  # tried in this order (--remedies)
        tuple(REMEDIES), _remedies_help, parse=lambda text: parse_remedies(text)
    )
    calibration_factor: int = 4  # the calibration remedy uses this many times --calibration-size images
    activation_ranges: RangeFit = option(  # how tflite-int8 fits activation ranges (--activation-ranges)
        RangeFit.MSE,
        "how each int8 activation's range is fitted to the calibration images: mse (least squared "
        "int8 error, rare outliers clipped) or minmax (the converter's own min..max)",
        parse=RangeFit,
        choices=list(RangeFit),
    )

    float_layers: tuple[str, ...] = option(  # kept float in tflite-int8 and onnx-int8, by layer name (doctor's)
        (),
        "layers kept float in tflite-int8 and onnx-int8, comma-separated, named as `sportsedge doctor` "
        "prints them (the search-free remedy: the others then do not run)",
        parse=lambda text: tuple(n.strip() for n in text.split(",") if n.strip()),
    )

    def __post_init__(self) -> None:
        check_bounds(self)
        unknown = [r for r in self.remedies if r not in REMEDIES]
        if unknown:
            raise UsageError(f"unknown remedy {unknown[0]!r}; choose none or from {', '.join(REMEDIES)}")


@dataclass(frozen=True)
class QatConfig:
    """Options of tflite-int8-qat; on the command line each is --qat-<field> (prefix "qat_")."""

    epochs: int = option(2, "QAT fine-tuning epochs", bound=POSITIVE_INT)  # fine-tuning epochs with fake quantization
    learning_rate: float = option(  # Adam's; small, the float model is already trained
        1e-5, "QAT Adam learning rate", bound=POSITIVE
    )
    batch_size: int = 32  # images per step
    train_size: int | None = option(  # train/ images used, stratified; None = all
        None, "train/ images used for QAT, stratified (default: all)", bound=POSITIVE_INT
    )

    def __post_init__(self) -> None:
        check_bounds(self, prefix="qat_")


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
    calibration: str | None = option(  # folder of real images for int8 calibration; None = the run's train/
        None,
        "folder of real images for int8 calibration (class subfolders or flat; default: the run's train/ "
        "split; required for int8 formats of your own model)",
    )
    calibration_size: int = option(CALIBRATION_SIZE, "calibration images", bound=POSITIVE_INT)  # calibration images
    parity_size: int = option(200, "valid/ images for the parity check", bound=POSITIVE_INT)  # parity images
    min_agreement: float | None = option(  # overrides the table's parity floor for quantized formats
        None,
        "fail quantized formats whose top-1 agreement with Keras is below this (default: the table's)",
        bound=FRACTION,
    )
    force: bool = option(False, "redo artifacts even when nothing changed")  # redo artifacts even when unchanged
    accuracy: AccuracyConfig = field(default_factory=AccuracyConfig)  # accuracy-aware tflite-int8
    qat: QatConfig = field(default_factory=QatConfig)  # tflite-int8-qat
    user: UserModel = field(default_factory=UserModel)  # for models that are not sportsedge runs

    def __post_init__(self) -> None:
        check_bounds(self)


def parse_remedies(text: str) -> tuple[str, ...]:
    """--remedies: "none" or a comma list of REMEDIES names."""
    if text.strip() == "none":
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in REMEDIES]
    if unknown or not names:
        raise UsageError(
            f"unknown remedy {', '.join(map(repr, unknown)) or '(none)'}; choose none or from {', '.join(REMEDIES)}"
        )
    return names
