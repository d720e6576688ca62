"""TFLite formats: SavedModel -> TFLiteConverter, float32 / float16 / dynamic-range / full int8."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sportsedge.export.converted import Converted
from sportsedge.export.tflite_convert import calibrated, calibrated_float, converter

if TYPE_CHECKING:
    from sportsedge.export.context import ExportContext
    from sportsedge.export.converted import Tell


def convert_fp32(ctx: ExportContext, tell: Tell) -> Converted:
    _, conv = converter(ctx)
    return Converted(conv.convert())


def convert_fp16(ctx: ExportContext, tell: Tell) -> Converted:
    tf, conv = converter(ctx)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    return Converted(conv.convert())


def convert_dynamic(ctx: ExportContext, tell: Tell) -> Converted:
    tf, conv = converter(ctx)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    return Converted(conv.convert())


def int8_settings(conv, pixels) -> None:
    """Full integer, uint8 pixels in (scale 1: calibration spans 0..255), uint8 out (the logits,
    where the model's softmax could be taken off: docs/export.md): QAT's conversion; the
    post-training one quantizes a calibrated float model instead (``quantize``)."""
    import tensorflow as tf

    calibrated(conv, pixels)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8


def quantize(calibrated_model: bytes, denylisted: list[str] | None = None) -> bytes:
    """Full int8 of a calibrated float model (uint8 pixels in, uint8 out, as int8_settings), with
    the ``denylisted`` ops' outputs left float."""
    import tensorflow as tf

    from sportsedge.export.tf_private import mlir_quantize  # the quantizer the converter itself ends with

    return mlir_quantize(calibrated_model, tf.uint8, tf.uint8, denylisted)


def keras_minmax_int8(ctx, pixels=None) -> bytes:
    """Full int8 with the converter's own min..max ranges: its public path alone."""
    _, conv = converter(ctx, logits=True)
    int8_settings(conv, ctx.calibration if pixels is None else pixels)
    return conv.convert()


def int8_bytes(ctx, pixels=None, tell=None) -> bytes:
    """Full integer, calibrated on ``pixels`` (default: the context's calibration set), with the
    activation ranges fitted as the export's AccuracyConfig says (export/ranges.py)."""
    from sportsedge.export.config import RangeFit
    from sportsedge.export.sources.family import impl

    if ctx.activation_ranges is RangeFit.MINMAX:  # the min..max ranges, as the family's path records them
        return impl(ctx.family.minmax_int8)(ctx, pixels)
    if pixels is None:
        return quantize(ctx.fitted_float(tell)[0])
    from sportsedge.export.ranges import fit

    fitted, _ = fit(calibrated_float(ctx, pixels), pixels, ctx.activation_ranges, tell)
    return quantize(fitted)
