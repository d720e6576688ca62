"""TFLite formats: SavedModel -> TFLiteConverter, float32 / float16 / dynamic-range / full int8."""

from __future__ import annotations


def _converter(ctx):
    import tensorflow as tf

    return tf, tf.lite.TFLiteConverter.from_saved_model(ctx.saved_model)


def convert_fp32(ctx) -> bytes:
    _, conv = _converter(ctx)
    return conv.convert()


def convert_fp16(ctx) -> bytes:
    tf, conv = _converter(ctx)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    return conv.convert()


def convert_dynamic(ctx) -> bytes:
    tf, conv = _converter(ctx)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    return conv.convert()


def representative(pixels):
    """The converter's representative dataset: real images one at a time, as float32 0..255."""

    def gen():
        for img in pixels:
            yield [img[None].astype("float32")]

    return gen


def calibrated(conv, pixels) -> None:
    """Post-training quantization calibrated on ``pixels`` (what every integer format shares)."""
    import tensorflow as tf

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative(pixels)


def int8_settings(conv, pixels) -> None:
    """Full integer, uint8 pixels in (scale 1: calibration spans 0..255), uint8 out; shared with QAT."""
    import tensorflow as tf

    calibrated(conv, pixels)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8


def convert_int8(ctx, pixels=None) -> bytes:
    """Full integer, calibrated on ``pixels`` (default: the context's calibration set)."""
    _, conv = _converter(ctx)
    int8_settings(conv, ctx.calibration if pixels is None else pixels)
    return conv.convert()
