"""Int8-aware training (stage 3 of a two-stage model): the kernel grid, the rounded graph, the callback."""

from __future__ import annotations

import numpy as np
import pytest

from sportsedge.train import int8aware

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


def test_snap_puts_each_channel_on_its_symmetric_int8_grid():
    rng = np.random.default_rng(0)
    conv = rng.normal(size=(3, 3, 4, 5)).astype(np.float32)
    snapped = int8aware.snap(conv, 3)
    for c in range(5):
        scale = np.abs(conv[..., c]).max() / 127
        steps = snapped[..., c] / scale
        assert np.allclose(steps, np.round(steps), atol=1e-4) and np.abs(steps).max() == pytest.approx(127)
        assert np.abs(snapped[..., c] - conv[..., c]).max() <= scale / 2 + 1e-7
    assert np.array_equal(int8aware.snap(snapped, 3), snapped)  # idempotent
    # Depthwise (h, w, channels, multiplier): one scale per channel x multiplier, as TFLite's.
    dw = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)
    dw[..., 1, 0] *= 100  # one big channel must not coarsen the others
    snapped = int8aware.snap(dw, 2)
    assert np.abs(snapped[..., 0, 0] - dw[..., 0, 0]).max() <= np.abs(dw[..., 0, 0]).max() / 254 + 1e-7


@pytest.fixture(scope="module")
def residual():
    """conv-BN-ReLU, a projection conv-BN, a residual add, pooling, dropout and a dense layer."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 4))
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 1)(inp)))
    x = L.BatchNormalization()(L.Conv2D(4, 1)(x))
    x = L.GlobalAveragePooling2D()(L.Add()([inp, x]))
    return keras.Model(inp, L.Dense(3, activation="softmax")(L.Dropout(0.2)(x)))


def test_int8_model_rounds_the_tensors_int8_stores(residual):
    import keras

    qmodel = int8aware.int8_model(residual)
    fqs = [layer for layer in qmodel.layers if layer.name.startswith("int8_")]
    # The input, the ReLU's output, the projection's BN output, the add's output, the pooled
    # features; not a conv's output (BN fuses into it), not the BN before the ReLU, not dropout's.
    consumers = sorted(type(n.operation).__name__ for f in fqs for n in f._outbound_nodes)
    assert len(fqs) == 5  # the input feeds the first conv and the add: rounded once
    assert consumers == ["Add", "Add", "Conv2D", "Conv2D", "Dropout", "GlobalAveragePooling2D"]
    x = np.random.default_rng(1).uniform(-2, 2, size=(16, 8, 8, 4)).astype(np.float32)
    # Off until calibrated: the same function as the float model, on the same layers.
    assert np.allclose(qmodel(x), residual(x), atol=1e-6)
    assert all(a is b for a, b in zip(residual.trainable_weights, qmodel.trainable_weights))
    int8aware.calibrate(qmodel, x)
    lo, hi = fqs[0].range.numpy()
    assert lo == pytest.approx(x.min()) and hi == pytest.approx(x.max())
    assert all(f.range.numpy()[0] <= 0 <= f.range.numpy()[1] for f in fqs)
    out, ref = np.asarray(qmodel(x)), np.asarray(residual(x))
    assert not np.allclose(out, ref, atol=1e-6) and np.abs(out - ref).max() < 0.05
    # Gradients pass straight through the rounding.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.ops.sum(qmodel(x) ** 2)
    grads = tape.gradient(loss, qmodel.trainable_weights)
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


def test_kernel_rounding_trains_the_float_kernels_and_ends_on_the_grid(residual):
    import keras

    model = keras.models.clone_model(residual)
    model.set_weights(residual.get_weights())
    kernels = int8aware.quantized_kernels(model)
    assert [r for _, r in kernels] == [3, 3, 1]  # two convs and the dense layer
    before = [v.numpy().copy() for v, _ in kernels]
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-2, 2, size=(32, 8, 8, 4)).astype(np.float32), rng.integers(0, 3, 32)
    seen = []

    class Spy(keras.callbacks.Callback):  # runs after the rounding: what the forward pass sees
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(all(np.array_equal(int8aware.snap(v.numpy(), r), v.numpy()) for v, r in kernels))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch end", epoch, [v.numpy().copy() for v, _ in kernels]))

    model.fit(x, y, batch_size=8, epochs=2, callbacks=[int8aware.kernel_rounding(kernels, 2), Spy()], verbose=0)
    assert all(s is True for s in seen if not isinstance(s, tuple))
    ends = [s for s in seen if isinstance(s, tuple)]
    # After epoch 1 the checkpoint would hold the float kernels, moved; after the last, the grid.
    assert not all(np.array_equal(int8aware.snap(w, r), w) for w, (_, r) in zip(ends[0][2], kernels))
    assert all(np.array_equal(int8aware.snap(v.numpy(), r), v.numpy()) for v, r in kernels)
    assert all(not np.allclose(b, v.numpy()) for b, (v, _) in zip(before, kernels))
