"""Int8-aware training of a model's top part: train it as TFLite's full-int8 graph will compute it.

Post-training int8 cost the fine-tuned MobileNetV2 up to 0.8 points (issue 17): its fine-tuned
kernels land between int8 steps, and its activations get rounded too. Rounding the kernels
alone after training cost the float model 0.4 points and left int8 changing 2.4% of the
predictions, so neither the weights nor the activations alone explain the drop. Here both are
simulated while the top part trains, with straight-through gradients:

- kernels: per output channel, symmetric, 127 steps of max|w| per side. That is the grid the
  converter uses; BatchNorm folding multiplies each channel by a constant, which this grid
  survives. The forward pass sees the rounded kernels, the update lands on the float ones (the
  "shadow"), and the stage ends with the kernels on the grid, so the saved Keras model is the one
  int8 computes.
- activations: every tensor the int8 graph stores (not a conv's output that a BatchNorm or ReLU
  fuses into) is fake-quantized over its min..max on calibration features, as the converter's
  calibration measures it.
"""

from __future__ import annotations

import functools

import numpy as np

# Kernel axes reduced into one scale per output channel, by layer class: the rest are TFLite's channels.
REDUCED_AXES = {"Conv2D": 3, "DepthwiseConv2D": 2, "Dense": 1}
# (producer, consumer) class pairs TFLite fuses into one op: the tensor between them is never int8.
FUSED = {
    ("Conv2D", "BatchNormalization"),
    ("DepthwiseConv2D", "BatchNormalization"),
    ("BatchNormalization", "ReLU"),
    ("Conv2D", "ReLU"),
    ("DepthwiseConv2D", "ReLU"),
}
# Layers that pass int8 values through unchanged: their outputs need no second rounding.
PASS_THROUGH = {"Dropout", "ZeroPadding2D"}


def snap(kernel: np.ndarray, reduced: int) -> np.ndarray:
    """``kernel`` rounded to its per-channel symmetric int8 grid (scale max|w| / 127)."""
    flat = kernel.reshape(int(np.prod(kernel.shape[:reduced])), -1)
    scale = np.abs(flat).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return (np.round(flat / scale) * scale).reshape(kernel.shape).astype(kernel.dtype)


def quantized_kernels(model) -> list:
    """(variable, reduced axes) of each trainable kernel in ``model`` int8 will round."""
    return [
        (layer.kernel, REDUCED_AXES[type(layer).__name__])
        for layer in model.layers
        if layer.trainable and type(layer).__name__ in REDUCED_AXES
    ]


@functools.cache
def _fake_quant_class():
    import keras
    import tensorflow as tf

    class FakeQuant(keras.layers.Layer):
        """Rounds a tensor to 256 levels over a calibrated min..max, as TFLite's int8 does;
        gradients pass straight through. Off (the identity) until calibrated."""

        def build(self, shape):
            self.range = self.add_weight(shape=(2,), initializer="zeros", trainable=False, name="range")
            self.on = self.add_weight(shape=(), initializer="zeros", trainable=False, name="on")

        def call(self, x):
            q = tf.quantization.fake_quant_with_min_max_vars(x, self.range[0], self.range[1], num_bits=8)
            return x + self.on * (q - x)

    return FakeQuant


def int8_model(model):
    """A model sharing ``model``'s layers with the int8 graph's activation rounding inserted; the
    rounding is off until ``calibrate`` sets its ranges."""
    import keras

    fake_quant = _fake_quant_class()
    producer: dict[int, object] = {}  # id(tensor) -> the layer that made it, in the new graph
    rounded: dict[int, object] = {}  # id(tensor) -> its fake-quantized version

    def quantize(t, consumer):
        maker = producer.get(id(t))
        pair = (type(maker).__name__, type(consumer).__name__)
        if maker is not None and (pair in FUSED or pair[0] in PASS_THROUGH):
            return t
        if id(t) not in rounded:
            rounded[id(t)] = fake_quant(name=f"int8_{len(rounded) + 1}")(t)
        return rounded[id(t)]

    def call(layer, *args, **kwargs):
        args = keras.tree.map_structure(lambda a: quantize(a, layer) if isinstance(a, keras.KerasTensor) else a, args)
        out = layer(*args, **kwargs)
        producer[id(out)] = layer
        return out

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


def calibrate(qmodel, features: np.ndarray, batch: int = 64) -> None:
    """Sets each rounding's range to min..max of its tensor over ``features`` and turns it on."""
    import keras

    fqs = [layer for layer in qmodel.layers if isinstance(layer, _fake_quant_class())]
    for layer in fqs:  # the converter measures the float graph
        layer.on.assign(0.0)
    probe = keras.Model(qmodel.input, [layer.input for layer in fqs])
    lo, hi = np.full(len(fqs), np.inf), np.full(len(fqs), -np.inf)
    for i in range(0, len(features), batch):
        outs = probe(features[i : i + batch].astype(np.float32), training=False)
        lo = np.minimum(lo, [float(keras.ops.min(o)) for o in outs])
        hi = np.maximum(hi, [float(keras.ops.max(o)) for o in outs])
    for layer, a, b in zip(fqs, lo, hi, strict=True):
        # TFLite's ranges always hold 0 (zero must be exact).
        layer.range.assign(np.array([min(a, 0.0), max(b, 0.0)], np.float32))
        layer.on.assign(1.0)


def kernel_rounding(kernels: list, last_epoch: int):
    """A Keras callback: every step's forward pass sees the kernels on their int8 grid, the
    update lands on the float kernels; validation sees the grid; from the end of ``last_epoch``
    (global, 1-based) on, the kernels stay on it, so the checkpoint written then holds them."""
    import keras

    class KernelRounding(keras.callbacks.Callback):
        def _round(self):
            self.shadow = [v.numpy() for v, _ in kernels]
            self.snapped = [snap(w, r) for w, (_, r) in zip(self.shadow, kernels, strict=True)]
            for (v, _), s in zip(kernels, self.snapped, strict=True):
                v.assign(s)

        def _unround(self):  # the step's update, moved onto the float kernels
            for (v, _), w, s in zip(kernels, self.shadow, self.snapped, strict=True):
                v.assign(w + (v.numpy() - s))

        def on_train_batch_begin(self, batch, logs=None):
            self._round()

        def on_train_batch_end(self, batch, logs=None):
            self._unround()

        def on_test_begin(self, logs=None):
            self._round()

        def on_test_end(self, logs=None):
            self._unround()

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 >= last_epoch:
                self._round()

    return KernelRounding()
