"""Keras -> float32 ONNX through tf2onnx: below the ONNX converters and the context, so that
neither imports the other."""

from __future__ import annotations

from sportsedge.core.errors import MissingDependencyError

OPSET = 17  # tf2onnx fails on all three models from opset 19 on (measured)


def keras_onnx(ctx) -> bytes:
    """A Keras source's float32 ONNX (its family's ``float_onnx``)."""
    return keras_to_onnx(ctx.model, ctx.input_size)


def keras_to_onnx(model, input_size) -> bytes:
    import tensorflow as tf

    try:
        import tf2onnx
    except ImportError as err:
        raise MissingDependencyError("tf2onnx", "train") from err
    spec = (tf.TensorSpec((None, *input_size, 3), tf.float32, name="pixels"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    return proto.SerializeToString()
