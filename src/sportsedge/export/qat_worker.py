"""The QAT worker: runs in its own spawned process (see ``qat``), where tf-keras is the Keras.

Rebuilds the run's model from the registry with tf-keras (one flat graph), loads the trained
weights in graph order, checks it reproduces the Keras 3 model's outputs, wraps every layer
except input scaling in tfmot's fake quantization, fine-tunes on train/, and converts with the
same full-int8 settings as `tflite-int8` (uint8 pixels in).
"""

from __future__ import annotations

import os
import time


def main(spec: dict, messages) -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow loads: tfmot needs tf.keras == tf-keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log = os.open(spec["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(log, 1), os.dup2(log, 2)  # converter and TensorFlow chatter: export.log
    try:
        messages.put(("done", run(spec, lambda m: messages.put(("say", m)))))
    except BaseException as err:  # noqa: BLE001 - every failure goes back as one line
        from ..errors import first_line

        import traceback

        traceback.print_exc()
        messages.put(("error", f"{type(err).__name__}: {first_line(err)}"))


def run(spec: dict, say) -> dict:
    import importlib
    from pathlib import Path

    import numpy as np
    import tensorflow as tf
    import tf_keras
    import tensorflow_model_optimization as tfmot

    from ..errors import ModelError
    from ..imagesets import list_stratified, load_images
    from ..train.models import get_model, leaf_layers, use_keras
    from .tflite import int8_settings

    t0 = time.monotonic()
    job = Path(spec["job"])
    importlib.import_module(spec["registry_module"])  # registers models defined outside sportsedge
    with use_keras(tf_keras):
        model = get_model(spec["model"]).build(spec["num_classes"], spec["build_weights"]).model
    _load_weights(model, spec["layers"], np.load(job / "weights.npz"), leaf_layers, ModelError)
    ref = np.load(job / "reference.npz")
    diff = float(np.abs(model.predict(ref["pixels"].astype("float32"), verbose=0) - ref["probs"]).max())
    if diff > 1e-3:
        raise ModelError(None, f"the tf-keras rebuild of {spec['model']} differs from the trained model "
                               f"(max |diff| {diff:.2e})")

    q = tfmot.quantization.keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg)

    registry = reg.Default8BitQuantizeRegistry()
    scaling = (tf_keras.layers.Rescaling, tf_keras.layers.Normalization, tf_keras.layers.InputLayer)
    float_layers = []

    def annotate(layer):
        # Input scaling stays float (tfmot rejects it); layers tfmot cannot wrap are left to the
        # converter's post-training calibration, and listed.
        if isinstance(layer, scaling):
            return layer
        if not registry.supports(layer):
            float_layers.append(layer.name)
            return layer
        return q.quantize_annotate_layer(layer)

    annotated = tf_keras.models.clone_model(model, clone_function=annotate)  # wraps the trained layers
    with q.quantize_scope():
        qmodel = q.quantize_apply(annotated)
    start = qmodel.predict(ref["pixels"].astype("float32"), verbose=0)
    start_agreement = float(np.mean(start.argmax(1) == ref["probs"].argmax(1)))
    qmodel.compile(tf_keras.optimizers.Adam(spec["learning_rate"]),
                   loss=tf_keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])

    train = Path(spec["train_dir"])
    paths = list_stratified(train, spec["train_size"] or 10**9, spec["seed"])
    pixels, kept = load_images(paths, tuple(spec["input_size"]), "QAT training")
    index = {name: i for i, name in enumerate(spec["labels"])}
    labels = np.array([index.get(p.relative_to(train).parts[0], -1) for p in kept])
    pixels, labels = pixels[labels >= 0], labels[labels >= 0]
    if not len(pixels):
        raise ModelError(train, "no training images in the run's class folders")
    say(f"  QAT: {len(pixels)} training images, {len(float_layers)} layer(s) tfmot cannot wrap"
        + (f" ({', '.join(float_layers[:5])}{'...' if len(float_layers) > 5 else ''})" if float_layers else ""))

    def flip(x, y):
        return tf.image.random_flip_left_right(tf.cast(x, tf.float32), seed=spec["seed"]), y

    ds = (tf.data.Dataset.from_tensor_slices((pixels, labels)).shuffle(len(pixels), seed=spec["seed"])
          .map(flip).batch(spec["batch_size"]).prefetch(2))
    history = []

    class Report(tf_keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            history.append({"epoch": epoch + 1, **logs, "seconds": round(time.monotonic() - self.start, 1)})
            say(f"  QAT epoch {epoch + 1}/{spec['epochs']}: loss {logs.get('loss', 0):.3f}, "
                f"accuracy {logs.get('accuracy', 0):.3f} ({history[-1]['seconds']:.0f}s)")

    qmodel.fit(ds, epochs=spec["epochs"], verbose=0, callbacks=[Report()])
    conv = tf.lite.TFLiteConverter.from_keras_model(qmodel)
    int8_settings(conv, np.load(job / "calibration.npy"))
    (job / "model.tflite").write_bytes(conv.convert())
    return {"epochs": spec["epochs"], "learning_rate": spec["learning_rate"], "train_images": int(len(pixels)),
            "history": history, "float_layers": float_layers, "rebuild_max_abs_diff": diff,
            "fake_quant_agreement_before": start_agreement,
            "seconds": round(time.monotonic() - t0, 1)}


def _load_weights(model, layers: list[dict], arrays, leaf_layers, error) -> None:
    """Trained weights into the rebuilt model, layer by layer in graph order, checked by shape."""
    targets = [layer for layer in leaf_layers(model) if layer.weights]
    if len(targets) != len(layers):
        raise error(None, f"rebuilt model has {len(targets)} layers with weights, the trained one {len(layers)}")
    for i, (layer, src) in enumerate(zip(targets, layers)):
        shapes = [list(w.shape) for w in layer.get_weights()]
        if shapes != src["shapes"]:
            raise error(None, f"layer {i} ({layer.name} vs {src['name']}): weight shapes {shapes} != {src['shapes']}")
        layer.set_weights([arrays[f"{i:04d}_{j}"] for j in range(len(shapes))])
