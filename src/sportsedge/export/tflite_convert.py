"""The TFLite converter's building blocks every TFLite format and remedy starts from: a
converter of the source's SavedModel, calibration on real images, and the calibrated (not yet
quantized) float model. Below the converters and the context, so that neither imports the other."""

from __future__ import annotations

from sportsedge.export.representative import representative
from sportsedge.export.source import SourceKind


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
    if ctx.source.kind is SourceKind.TORCH:  # no SavedModel: TFLite's calibrator on litert-torch's file
        from sportsedge.export.torch_tflite import calibrate

        return calibrate(ctx.tflite_float, ctx.calibration if pixels is None else pixels)
    _, conv = converter(ctx, logits=logits)
    calibrated(conv, ctx.calibration if pixels is None else pixels)
    from sportsedge.export.tf_private import calibrate_only

    calibrate_only(conv)  # TF's own switch (no public one): calibrate, do not quantize
    return conv.convert()
