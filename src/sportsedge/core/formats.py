"""The export format table: one row per format, read by the exporter, the runtime and the benchmarks.

Kept free of heavy imports: the exporter names its converter by dotted path and imports it
only when that format is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

# Calibration images full int8 fits its activation ranges on: export's default (--calibration-size)
# and the int8-aware training stage's, which must calibrate as the export will.
CALIBRATION_SIZE = 300


class Status(str, Enum):
    """A parity check's verdict on an artifact, as the manifest stores it."""

    PASSED = "passed"  # within the format's tolerances
    WARNING = "warning"  # top-1 agreement below the format's warn level: usable, worth a look
    FAILED = "FAILED"  # outside the tolerances: left out of benchmarks, export exits 1

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__  # type: ignore[assignment]  # f"{status}" prints the value, as str() does


@dataclass(frozen=True)
class Format:
    name: str  # CLI name, e.g. "tflite-int8"; artifacts are named <model>-<name><ext>
    family: str  # runtime backend that loads it: "tflite" or "onnx"
    ext: str  # file extension, with the dot
    input_dtype: str  # dtype of the model's input tensor: raw 0..255 pixels as float32 or uint8
    quantized: bool  # weights (and maybe activations) int8: compared by agreement, not max-abs
    converter: str  # "module:function" in sportsedge.export that writes this format
    max_abs_diff: (
        float | None
    )  # parity: largest |p_keras - p_export| allowed (plus rel_diff's share); None = not checked
    min_agreement: float  # parity: top-1 agreement with Keras below this fails the export
    warn_agreement: float  # parity: top-1 agreement below this prints a warning
    description: str  # one line for `--help` and reports
    in_all: bool = True  # part of `--formats all`; False for opt-in formats that train (QAT)
    options: tuple[str, ...] = ()  # export option groups that shape this format (in its fingerprint)
    verify_atol: float = 1e-5  # golden check: largest |output difference| allowed on another machine
    verify_rel: float = 0.0  # golden check: or this fraction of the golden outputs' range, if larger (golden.py)
    verify_mixed: tuple[float, float] | None = None  # golden (atol, rel) with layers kept float; None: as above
    calibrated: bool = False  # needs real calibration images (full int8): --calibration for user models
    size_ratio: float = 1.0  # the file's size / the float32 model's, about (export's free-space check)
    rel_diff: float = 0.0  # parity: max_abs_diff + rel_diff x the logit scale is allowed (parity.logit_scale)

    def verify_bound(self, mixed: bool) -> tuple[float, float]:
        """The golden check's (atol, rel) for this format; ``mixed``: some layers were kept float."""
        return self.verify_mixed if mixed and self.verify_mixed is not None else (self.verify_atol, self.verify_rel)

    def parity_bound(self, logit_scale: float) -> float | None:
        """The largest |p_source - p_file| allowed when the source's logits span ``logit_scale``."""
        return None if self.max_abs_diff is None else self.max_abs_diff + self.rel_diff * logit_scale

    def artifact_name(self, model: str) -> str:
        """The exported file's name: <model>-<format><ext>."""
        return f"{model}-{self.name}{self.ext}"


def _formats(*rows: Format) -> dict[str, Format]:
    return {f.name: f for f in rows}


# A float32 file is right to float rounding, and rounding grows with the logits: an engine summing in
# another order moves logits by some 20-50 float32 epsilons of their scale (measured: a 40-layer
# hardswish CNN in onnxruntime, 2e-6 to 6e-6 of max |logit|), and a probability by up to half its
# logit's error (two classes tied). So the bound on probabilities is 1e-4 plus 1e-5 x the logit scale
# (2x to 5x that noise): MobileNetV3-Small's 1.2e-4 passes, a weight moved by 1% still fails.
_FLOAT_PARITY: dict[str, Any] = dict(
    quantized=False, max_abs_diff=1e-4, rel_diff=1e-5, min_agreement=1.00, warn_agreement=1.00
)
_INT8_PARITY: dict[str, Any] = dict(quantized=True, max_abs_diff=None, min_agreement=0.80, warn_agreement=0.95)
# A full-int8 file is bit-exact across engines (bound 0), but one with layers kept float is not: float
# kernels differ between x86 and ARM (FMA, XNNPACK's ordering), and a float value that lands on the
# other side of a rounding step at the next quantize op moves by one int8 step from there on
# (measured: efficientnet_lite0 with 8 float layers, 7.9e-3 under emulated Cortex-A72). Held to
# onnx-int8's bound, whose kernels differ between platforms the same way.
_INT8_CROSS_ATOL, _INT8_CROSS_REL = 0.1, 0.15  # onnx-int8's golden bound (its comment below says why)

FORMATS: dict[str, Format] = _formats(
    Format(
        "tflite-fp32",
        "tflite",
        ".tflite",
        "float32",
        converter="sportsedge.export.tflite:convert_fp32",
        description="TFLite, float32 weights and activations",
        verify_atol=1e-5,
        **_FLOAT_PARITY,
    ),
    # float16 weights move MobileNetV2's probabilities by up to 0.03 (measured): judged by agreement.
    Format(
        "tflite-fp16",
        "tflite",
        ".tflite",
        "float32",
        converter="sportsedge.export.tflite:convert_fp16",
        description="TFLite, float16 weights (dequantized to float32 at load)",
        verify_atol=1e-5,
        **{**_FLOAT_PARITY, "max_abs_diff": None, "rel_diff": 0.0, "min_agreement": 0.99, "warn_agreement": 0.995},
        size_ratio=0.5,
    ),
    # Dynamic-range kernels quantize activations on the fly, differently on x86 and ARM (measured:
    # MobileNetV2 scores up to 1.6e-2 apart under emulation): verified to 0.1, like ONNX int8.
    Format(
        "tflite-dynamic",
        "tflite",
        ".tflite",
        "float32",
        converter="sportsedge.export.tflite:convert_dynamic",
        description="TFLite, dynamic-range: int8 weights, float activations",
        verify_atol=0.1,
        **{**_INT8_PARITY, "min_agreement": 0.90, "warn_agreement": 0.97},
        size_ratio=0.3,
    ),
    Format(
        "tflite-int8",
        "tflite",
        ".tflite",
        "uint8",
        converter="sportsedge.export.remedies:convert_int8_accurate",
        calibrated=True,
        description="TFLite, full integer: int8 weights and activations, uint8 pixel input",
        verify_atol=0.0,
        verify_mixed=(_INT8_CROSS_ATOL, _INT8_CROSS_REL),
        options=("accuracy",),
        **_INT8_PARITY,
        size_ratio=0.3,
    ),
    # Opt-in (--qat): fine-tunes the model with fake quantization in a worker process first.
    Format(
        "tflite-int8-qat",
        "tflite",
        ".tflite",
        "uint8",
        converter="sportsedge.export.qat:convert_qat",
        calibrated=True,
        description="TFLite, full integer after quantization-aware fine-tuning (tfmot)",
        verify_atol=0.0,
        in_all=False,
        options=("qat",),
        **_INT8_PARITY,
        size_ratio=0.3,
    ),
    Format(
        "onnx-fp32",
        "onnx",
        ".onnx",
        "float32",
        converter="sportsedge.export.onnx:convert_fp32",
        description="ONNX (opset 17), float32, dynamic batch",
        verify_atol=1e-4,
        **_FLOAT_PARITY,
    ),
    # ONNX Runtime's int8 kernels differ between x86 and ARM, and the file ends at the logits, whose
    # scale grows with training: a fully trained MobileNetV2's logits moved by up to 1.21 (5.9% of
    # the golden outputs' range, 20.5) under emulated Cortex-A72/A76 (docs/arm.md), past the old
    # absolute 0.1. Verified to 15% of the golden range (2.5x that), at least 0.1.
    Format(
        "onnx-int8",
        "onnx",
        ".onnx",
        "float32",
        converter="sportsedge.export.onnx:convert_int8",
        calibrated=True,
        description="ONNX, static QDQ int8 (per-channel QInt8 weights, QUInt8 activations)",
        verify_atol=_INT8_CROSS_ATOL,
        verify_rel=_INT8_CROSS_REL,
        options=("accuracy",),  # --activation-ranges: its fingerprint, so a change re-exports
        **_INT8_PARITY,
        size_ratio=0.3,
    ),
)

# The golden check of a file converted elsewhere (`sportsedge label`): its kernels are unknown, so
# the bound is the loosest of the table's (int8 kernels that differ between x86 and ARM).
FOREIGN_VERIFY_ATOL = FORMATS["onnx-int8"].verify_atol
FOREIGN_VERIFY_REL = FORMATS["onnx-int8"].verify_rel

# Which backend family loads a file, by extension.
FAMILY_BY_EXT: dict[str, str] = {f.ext: f.family for f in FORMATS.values()}


def family_of(path: str | Path) -> str | None:
    """Backend family for a model file, from its extension (None if unknown)."""
    return FAMILY_BY_EXT.get(Path(path).suffix.lower())


def format_groups() -> dict[str, list[Format]]:
    """Names that stand for several formats in --formats: ``all`` (every post-training format) and
    each family (``tflite``, ``onnx``: that family's post-training formats)."""
    post = [f for f in FORMATS.values() if f.in_all]
    families = dict.fromkeys(f.family for f in post)
    return {"all": post, **{fam: [f for f in post if f.family == fam] for fam in families}}
