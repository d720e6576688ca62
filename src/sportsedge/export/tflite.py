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


def convert_int8(ctx) -> bytes:
    """Full integer with uint8 pixel input (scale 1: the calibration spans 0..255) and uint8 output."""
    tf, conv = _converter(ctx)
    pixels = ctx.calibration

    def representative():
        for img in pixels:
            yield [img[None].astype("float32")]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    return conv.convert()
