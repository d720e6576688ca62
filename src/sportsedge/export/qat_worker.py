"""The QAT worker: runs in its own spawned process (see ``qat``), where tf-keras is the Keras.

Rebuilds the run's model from the registry with tf-keras (one flat graph), loads the trained
weights in graph order, checks it reproduces the Keras 3 model's outputs, wraps the layers tfmot
handles well in fake quantization (``_left_float`` says which not), starts from calibrated ranges,
fine-tunes on train/, and converts with the same full-int8 settings as `tflite-int8`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import Enum


class MessageKind(Enum):
    SAY = "say"  # a progress line for the user
    ERROR = "error"  # the worker failed; text is one line
    DONE = "done"  # the worker finished; result holds its figures


@dataclass(frozen=True)
class Message:
    """What the worker sends its parent through the queue."""

    kind: MessageKind
    text: str = ""  # SAY, ERROR
    result: dict = field(default_factory=dict)  # DONE


def main(spec: dict, messages) -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow loads: tfmot needs tf.keras == tf-keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log = os.open(spec["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(log, 1), os.dup2(log, 2)  # converter and TensorFlow chatter: export.log
    try:
        result = run(spec, lambda m: messages.put(Message(MessageKind.SAY, m)))
        messages.put(Message(MessageKind.DONE, result=result))
    except BaseException as err:
        import traceback

        from sportsedge.core.errors import first_line

        traceback.print_exc()
        messages.put(Message(MessageKind.ERROR, f"{type(err).__name__}: {first_line(err)}"))


def run(spec: dict, say) -> dict:
    """Rebuild the run's model in tf-keras, wrap it in tfmot's fake quantization, fine-tune it and
    convert it to full int8; returns what the manifest records."""
    from pathlib import Path

    import numpy as np
    import tensorflow as tf

    from sportsedge.core import metrics
    from sportsedge.core.outputs import probabilities
    from sportsedge.export.tflite import int8_settings

    t0 = time.monotonic()
    job = Path(spec["job"])
    model, diff = _rebuild(spec, job)
    parity = np.load(job / "parity.npy")  # uint8 pixels
    ref_probs = np.load(job / "reference_probs.npy")
    calibration = np.load(job / "calibration.npy")
    qmodel, output, left_float = _fake_quantized(model, calibration)
    start_agreement = metrics.agreement(
        qmodel.predict(parity[: len(ref_probs)].astype("float32"), verbose=0), ref_probs
    )
    say(
        f"  QAT: before fine-tuning, the fake-quantized model agrees with float on {start_agreement:.0%} "
        f"of {len(ref_probs)} reference images"
    )
    pixels, labels = _training_set(spec)
    unsupported = [n for n, why in left_float.items() if why == "unsupported"]
    say(
        f"  QAT: {len(pixels)} training images; {len(left_float)} layers left to post-training calibration"
        + (
            f", {len(unsupported)} of them unsupported by tfmot ({', '.join(unsupported[:4])}...)"
            if unsupported
            else ""
        )
    )
    history = _fine_tune(qmodel, output, pixels, labels, spec, say)
    # The fine-tuned model's own outputs on the parity set: the int8 file's reference.
    np.save(job / "parity_probs.npy", probabilities(qmodel.predict(parity.astype("float32"), verbose=0), output))
    conv = tf.lite.TFLiteConverter.from_keras_model(qmodel)
    int8_settings(conv, calibration)  # ranges for the layers QAT left float
    (job / "model.tflite").write_bytes(conv.convert())
    return {
        "epochs": spec["epochs"],
        "learning_rate": spec["learning_rate"],
        "train_images": int(len(pixels)),
        "history": history,
        "left_to_calibration": left_float,
        "rebuild_max_abs_diff": diff,
        "fake_quant_agreement_before": start_agreement,
        "seconds": round(time.monotonic() - t0, 1),
        "output": str(output),
    }


def _rebuild(spec: dict, job):
    """The run's model rebuilt in tf-keras from the registry with the trained weights, and how far
    its outputs are from the trained model's (ModelError past 1e-3)."""
    import importlib

    import numpy as np
    import tf_keras

    from sportsedge.core.errors import ModelError
    from sportsedge.train.models import get_model, leaf_layers, use_keras

    importlib.import_module(spec["registry_module"])  # registers models defined outside sportsedge
    _keras_home_for_tf_keras(job)
    with use_keras(tf_keras):
        # A clone holds only this graph: layers the builder shares with `features`/`head` get one node.
        model = tf_keras.models.clone_model(
            get_model(spec["model"]).make(spec["num_classes"], spec["build_weights"], spec["input_size"]).model
        )
    _load_weights(model, spec["layers"], np.load(job / "weights.npz"), leaf_layers, ModelError)
    ref_probs = np.load(job / "reference_probs.npy")
    ref_pixels = np.load(job / "parity.npy")[: len(ref_probs)].astype("float32")
    diff = float(np.abs(model.predict(ref_pixels, verbose=0) - ref_probs).max())
    if diff > 1e-3:
        raise ModelError(
            None, f"the tf-keras rebuild of {spec['model']} differs from the trained model (max |diff| {diff:.2e})"
        )
    return model, diff


def _fake_quantized(model, calibration):
    """(the model wrapped in tfmot's fake quantization, its output kind, the layers left float).
    Without the final softmax where it comes off: the int8 file ends at the logits like
    tflite-int8 (runtime/outputs.py), and the loss takes logits, the same objective."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from sportsedge.core.outputs import OutputKind
    from sportsedge.export.tf_private import default_8bit_registry
    from sportsedge.export.user_model import split_softmax

    q = tfmot.quantization.keras
    logits = split_softmax(model, tf_keras)
    output = OutputKind.LOGITS if logits is not None else OutputKind.PROBABILITIES
    model = logits or model
    left_float = _left_float(model, default_8bit_registry(), tf_keras.layers)

    def annotate(layer):
        return layer if layer.name in left_float else q.quantize_annotate_layer(layer)

    annotated = tf_keras.models.clone_model(model, clone_function=annotate)  # wraps the trained layers
    with q.quantize_scope():
        qmodel = q.quantize_apply(annotated)
    _init_ranges(qmodel, model, calibration[:64], tf_keras)
    return qmodel, output, left_float


def _training_set(spec: dict):
    """(uint8 pixels, class indices) of the stratified train/ images QAT fine-tunes on."""
    from pathlib import Path

    from sportsedge.core.errors import ModelError
    from sportsedge.runtime.imagesets import label_index, list_stratified, load_images

    train = Path(spec["train_dir"])
    paths = list_stratified(train, spec["train_size"] or 10**9, spec["seed"])
    pixels, kept = load_images(paths, tuple(spec["input_size"]), "QAT training")
    labels = label_index([p.relative_to(train).parts[0] for p in kept], spec["labels"])
    pixels, labels = pixels[labels >= 0], labels[labels >= 0]
    if not len(pixels):
        raise ModelError(train, "no training images in the run's class folders")
    return pixels, labels


def _fine_tune(qmodel, output, pixels, labels, spec: dict, say) -> list[dict]:
    """Fine-tune the fake-quantized model (mirrored images, Adam); the per-epoch history."""
    import tensorflow as tf
    import tf_keras

    from sportsedge.core.outputs import OutputKind

    qmodel.compile(
        tf_keras.optimizers.Adam(spec["learning_rate"]),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=output is OutputKind.LOGITS),
        metrics=["accuracy"],
    )

    def flip(x, y):
        return tf.image.random_flip_left_right(tf.cast(x, tf.float32), seed=spec["seed"]), y

    ds = (
        tf.data.Dataset.from_tensor_slices((pixels, labels))
        .shuffle(len(pixels), seed=spec["seed"])
        .map(flip)
        .batch(spec["batch_size"])
        .prefetch(2)
    )
    history = []

    class Report(tf_keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            history.append({"epoch": epoch + 1, **logs, "seconds": round(time.monotonic() - self.start, 1)})
            say(
                f"  QAT epoch {epoch + 1}/{spec['epochs']}: loss {logs.get('loss', 0):.3f}, "
                f"accuracy {logs.get('accuracy', 0):.3f} ({history[-1]['seconds']:.0f}s)"
            )

    qmodel.fit(ds, epochs=spec["epochs"], verbose=0, callbacks=[Report()])
    return history


def _left_float(model, registry, L) -> dict[str, str]:
    """Layers QAT does not wrap (name -> why); the converter calibrates them post-training.

    - input scaling (Rescaling/Normalization): tfmot rejects it;
    - depthwise convolutions and the BatchNormalization after each: tfmot's "per-axis" kernel
      quantizer works on the last axis, which for a depthwise kernel (h, w, C, 1) has size 1, so the
      whole kernel shares one range. Measured on MobileNetV2: the fake-quantized model then agreed
      with float on 3% of images; the converter quantizes these kernels per channel instead;
    - layers tfmot has no quantize config for (BatchNormalization is folded, so it counts as supported).
    """
    from sportsedge.export import tf_private

    why = {}
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        if isinstance(layer, (L.Rescaling, L.Normalization)):
            why[layer.name] = "input scaling"
        elif isinstance(layer, L.DepthwiseConv2D):
            why[layer.name] = "depthwise"
        elif isinstance(layer, L.BatchNormalization):
            src = tf_private.inbound_layer(layer)
            if isinstance(src, L.DepthwiseConv2D):
                why[layer.name] = "depthwise"
        elif not registry.supports(layer):
            why[layer.name] = "unsupported"
    return why


def _init_ranges(qmodel, model, pixels, tf_keras, batch: int = 8) -> None:
    """Start QAT from calibrated ranges, not tfmot's defaults.

    Kernel ranges are set by one training-mode pass (tfmot's LastValueQuantizer); activation ranges
    would start at [-6, 6] and move by an EMA of decay 0.999 (thousands of steps), so they are set
    to the float model's min/max on calibration images.
    """
    import numpy as np

    qmodel(pixels[:batch].astype("float32"), training=True)
    targets = []  # (min var, max var, layer name, pre-activation?)
    for w in qmodel.layers:
        inner = getattr(w, "layer", None)
        byname = {v.name.split("/")[-1].rsplit(":", 1)[0]: v for v in w.weights}
        for kind in ("output", "post_activation", "pre_activation"):
            if inner is not None and f"{kind}_min" in byname:
                targets.append((byname[f"{kind}_min"], byname[f"{kind}_max"], inner.name, kind == "pre_activation"))
    names = sorted({t[2] for t in targets})
    # Pre-activation ranges (e.g. logits before softmax) come from a linear copy of the layer.
    linear = {}
    for name in {t[2] for t in targets if t[3]}:
        src = model.get_layer(name)
        lin = type(src).from_config({**src.get_config(), "activation": "linear"})
        lin.build(src.input_shape)
        lin.set_weights(src.get_weights())
        linear[name] = lin
    probe = tf_keras.Model(
        model.input, [model.get_layer(n).output for n in names] + [model.get_layer(n).input for n in linear]
    )
    lo: dict[object, float] = {}  # by layer name, or ("pre", name) for a linear layer's input
    hi: dict[object, float] = {}
    for b in range(0, len(pixels), batch):
        outs = probe(pixels[b : b + batch].astype("float32"), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        values = dict(zip(names, outs))
        values.update({("pre", n): linear[n](x) for n, x in zip(linear, outs[len(names) :])})
        for key, v in values.items():
            v = np.asarray(v)
            lo[key] = min(lo.get(key, 0.0), float(v.min()))  # ranges must hold 0
            hi[key] = max(hi.get(key, 0.0), float(v.max()))
    for vmin, vmax, name, pre in targets:
        key = ("pre", name) if pre else name
        vmin.assign(lo[key])
        vmax.assign(hi[key])


def _keras_home_for_tf_keras(job) -> None:
    """tf-keras looks for ImageNet weights only under ~/.keras (it ignores KERAS_HOME): in this
    process only, point ~ at a folder whose .keras is KERAS_HOME, so both Keras find the same files."""
    home = os.environ.get("KERAS_HOME")
    if home:
        fake = job / "home"
        fake.mkdir(exist_ok=True)
        if not (fake / ".keras").exists():
            (fake / ".keras").symlink_to(os.path.abspath(home), target_is_directory=True)
        os.environ["HOME"] = str(fake)


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
