"""The TFLite converter's building blocks every TFLite format and remedy starts from: a
converter of the source's SavedModel, calibration on real images, and the calibrated (not yet
quantized) float model; the Keras families' steps that a family without a SavedModel (PyTorch:
export/torch_tflite.py) does its own way (export/sources/family.py names both)."""

from __future__ import annotations

from sportsedge.export.families import family_of
from sportsedge.export.representative import representative
from sportsedge.export.sources.family import impl


def converter(ctx, logits: bool = False):
    """(tensorflow, a TFLiteConverter of the source's SavedModel) for one conversion; ``logits``:
    of the model without its final softmax (full int8: the softmax runs in float in the runtime)."""
    import tensorflow as tf

    return tf, tf.lite.TFLiteConverter.from_saved_model(ctx.logits_saved_model if logits else ctx.saved_model)


def calibrated(conv, pixels) -> None:
    """Post-training quantization calibrated on ``pixels`` (what every integer format shares)."""
    import tensorflow as tf

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative(pixels)


def calibrated_float(ctx, pixels=None, logits: bool = True) -> bytes:
    """A float model carrying calibration statistics on ``pixels`` (default: the context's
    calibration set), not yet quantized; see ExportContext. ``logits``: of the model without its
    final softmax, as full int8 converts it (a PyTorch source: its float file as it ends)."""
    return impl(family_of(ctx.source.kind).calibrated_float)(ctx, pixels, logits)


def keras_calibrated_float(ctx, pixels=None, logits: bool = True) -> bytes:
    """``calibrated_float`` through the source's SavedModel and TFLite's converter."""
    _, conv = converter(ctx, logits=logits)
    calibrated(conv, ctx.calibration if pixels is None else pixels)
    from sportsedge.export.tf_private import calibrate_only

    calibrate_only(conv)  # TF's own switch (no public one): calibrate, do not quantize
    return conv.convert()


def keras_int16(ctx) -> bytes:
    """16-bit activations, int8 weights, float32 pixels in (the int16 remedy), by the converter."""
    import tensorflow as tf

    _, conv = converter(ctx, logits=True)
    calibrated(conv, ctx.calibration)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return conv.convert()


def keras_debug_source(ctx) -> dict:
    """What TensorFlow's QuantizationDebugger quantizes: a calibrated converter of the logits model."""
    _, conv = converter(ctx, logits=True)
    calibrated(conv, ctx.calibration)
    return {"converter": conv}
