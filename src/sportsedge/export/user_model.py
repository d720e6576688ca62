"""Someone else's classifier as an export source: load it, check it is one image in and one score
per class out, and wrap it so that it takes raw 0..255 RGB pixels, NHWC, like every sportsedge model.

Keras (.keras, .h5, SavedModel) models are wrapped in Keras (a pixel-transform layer in front);
ONNX models in ONNX (Mul/Add, and Gather/Transpose when needed, in front of the graph).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sportsedge.core.errors import InputError, ModelError, UsageError, first_line
from sportsedge.core.input_transform import PixelTransform
from sportsedge.core.outputs import OutputKind, looks_like_probabilities
from sportsedge.export.config import UserModel
from sportsedge.export.families import family_of
from sportsedge.export.source import Source, fixed_size, image_layout, model_sha256
from sportsedge.export.sources.family import impl
from sportsedge.runtime.modelspec import read_labels

DETECT_IMAGES = 16  # real images the output kind (probabilities or logits) is detected on
_MISSING = (re.compile(r"Could not locate class '([^']+)'"), re.compile(r"Unknown \w+: '([^']+)'"))


@dataclass(frozen=True)
class Loaded:
    """A user's model, wrapped to take raw NHWC pixels."""

    model: object  # the wrapped Keras model, the wrapped float ONNX model's bytes, or the wrapped nn.Module
    logits: object = None  # the wrapped Keras model without its final softmax, when it comes off
    names: tuple[str, ...] = ()  # a PyTorch model's submodule names (its layers'); Keras' come from the model


# ------------------------------------------------------------------ Keras


def load_keras(path: Path):
    """The user's model as a Keras model (a SavedModel folder through TFSMLayer)."""
    import keras

    if path.is_dir():
        return _saved_model(path)
    damaged = _damaged_keras_archive(path)
    if damaged:
        raise ModelError(path, damaged)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # safe_mode: a Lambda layer's Python bytecode is refused, never run (Keras' default, said here)
            return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises TypeError, ValueError or its own errors per failure
        text = str(err)
        if "safe_mode" in text or "arbitrary code execution" in text:
            raise ModelError(
                path,
                "holds a Python lambda (a Lambda layer), which sportsedge never runs from a model file: "
                "replace it with a registered layer or function (keras.saving.register_keras_serializable)",
            ) from err
        for pattern in _MISSING:
            found = pattern.search(text)
            if found:
                raise ModelError(
                    path,
                    f"needs the custom class {found.group(1)!r}, which Keras cannot find: save the model without it, "
                    "or register it (keras.saving.register_keras_serializable) in an imported module",
                ) from err
        raise ModelError(path, f"not a loadable Keras model ({first_line(err)})") from err


def _damaged_keras_archive(path: Path) -> str | None:
    """Why a .keras file is damaged, or None: it is a ZIP archive (config.json, model.weights.h5),
    and Keras reports a cut one as "File not found", which sends a user looking in the wrong place."""
    import zipfile

    if path.suffix.lower() != ".keras":
        return None
    if path.stat().st_size == 0:
        return "empty file: damaged or truncated .keras"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f"damaged or truncated .keras (not a readable ZIP archive: {first_line(err)})"
    if bad is not None:
        return f"damaged .keras: {bad} inside it fails its CRC check"
    if "config.json" not in names:
        return "not a Keras 3 .keras archive (no config.json inside)"
    return None


def _saved_model(path: Path):
    import keras
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        sig = loaded.signatures["serving_default"]
    except Exception as err:
        raise ModelError(
            path, f"not a loadable SavedModel with a serving_default signature ({first_line(err)})"
        ) from err
    args, kwargs = sig.structured_input_signature
    specs = list(args) + list(kwargs.values())
    outputs = sig.structured_outputs
    n_out = len(outputs) if isinstance(outputs, dict) else 1
    if len(specs) != 1 or n_out != 1:
        raise ModelError(
            path, f"has {len(specs)} inputs and {n_out} outputs: only one image in and one score vector out"
        )
    spec = specs[0]
    channels_first, size = image_layout(spec.shape.as_list(), path)
    shape = (3, *size) if channels_first else (*size, 3)
    inp = keras.Input(shape, name="pixels")
    out = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")(inp)
    if isinstance(out, dict):
        out = next(iter(out.values()))
    return keras.Model(inp, out, name=path.name)


def check_keras(model, path: Path) -> tuple[bool, tuple[int | None, int | None], int]:
    """(channels_first, native size, classes) of a one-input, one-output image classifier."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(
            path,
            f"has {len(model.inputs)} inputs and {len(model.outputs)} outputs: only one image in, one score vector out",
        )
    channels_first, size = image_layout(tuple(model.inputs[0].shape), path)
    out = tuple(model.outputs[0].shape)
    if len(out) != 2 or not out[1]:
        raise ModelError(path, f"output is not one score per class: shape {out}")
    return channels_first, size, int(out[1])


def wrap_keras(model, transform: PixelTransform, size: tuple[int, int], channels_first: bool):
    """Raw NHWC pixels -> transform (-> NCHW) -> the user's model."""
    import keras

    inp = keras.Input((*size, 3), name="pixels")
    x = _pixel_layer_class()(transform.scale, transform.offset, transform.bgr, channels_first)(inp)
    return keras.Model(inp, model(x), name=model.name)


def _pixel_layer_class():
    import keras

    class PixelLayer(keras.layers.Layer):
        """pixel * scale + offset per channel (after RGB->BGR when asked), then NCHW when asked."""

        def __init__(self, scale, offset, bgr=False, channels_first=False, **kwargs):
            super().__init__(**kwargs)
            self.scale, self.offset = tuple(scale), tuple(offset)
            self.bgr, self.channels_first = bool(bgr), bool(channels_first)

        def call(self, x):
            ops = keras.ops
            if self.bgr:
                x = ops.flip(x, axis=-1)
            x = x * ops.convert_to_tensor(self.scale, x.dtype) + ops.convert_to_tensor(self.offset, x.dtype)
            return ops.transpose(x, (0, 3, 1, 2)) if self.channels_first else x

        def get_config(self):
            return {
                **super().get_config(),
                "scale": self.scale,
                "offset": self.offset,
                "bgr": self.bgr,
                "channels_first": self.channels_first,
            }

    return PixelLayer


def split_softmax(model, keras=None):
    """The model without its final softmax (a model that outputs logits), or None when the graph does
    not end in one we can take off: a Softmax layer, an Activation("softmax"), or a layer whose
    activation is softmax (Dense, Conv). ``keras``: the Keras module of ``model`` (tf_keras in QAT)."""
    if keras is None:
        import keras as keras_module  # the parameter's name shadows the module's

        keras = keras_module

    if not model.layers:
        return None
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    try:
        feed = last.input
    except (AttributeError, ValueError):  # a layer used more than once, or a nested model's input
        return None
    if isinstance(last, keras.layers.Softmax) or (isinstance(last, keras.layers.Activation) and _is_softmax(act)):
        return keras.Model(model.inputs, feed, name=f"{model.name}_logits")
    if act is None or not _is_softmax(act) or isinstance(last, keras.Model):
        return None
    config = {**last.get_config(), "activation": "linear", "name": f"{last.name}_logits"}
    linear = type(last).from_config(config)
    out = linear(feed)
    linear.set_weights(last.get_weights())
    return keras.Model(model.inputs, out, name=f"{model.name}_logits")


def _is_softmax(act) -> bool:
    return getattr(act, "__name__", "") == "softmax"


# ------------------------------------------------------------------ resolving a source


def check_user_options(path, opts: UserModel, calibration: str | None) -> tuple[tuple[str, ...], Path | None, Path]:
    """(labels, calibration folder, parity folder) of a user model's options (its transform is
    then set), or one line saying what is missing."""
    if opts.labels is None:
        raise UsageError(f"{path}: a model that is not a sportsedge run needs --labels FILE|DIR")
    if opts.transform is None:
        raise UsageError(
            f"{path}: say what the model expects: --preprocess raw|unit|symmetric|caffe|torch, or --scale/--offset"
        )
    labels = read_labels(opts.labels)
    calibration_dir = Path(calibration) if calibration else None
    parity_dir = Path(opts.parity_data) if opts.parity_data else calibration_dir
    if parity_dir is None:
        raise UsageError(f"{path}: give --parity-data DIR (and --calibration DIR for int8 formats) to check the export")
    for d in (calibration_dir, parity_dir):
        if d is not None and not d.is_dir():
            raise InputError(d, "image folder not found")
    return labels, calibration_dir, parity_dir


def resolve_keras(path: Path, kind: str, opts: UserModel, calibration: str | None):
    """(Source, Loaded) for a user's .keras, .h5 or SavedModel (the Keras-file family's resolve)."""
    labels, calibration_dir, parity_dir = check_user_options(path, opts, calibration)
    transform = opts.transform
    assert transform is not None  # for the type checker: check_user_options refused None
    model = load_keras(path)
    channels_first, native, classes = check_keras(model, path)
    size = fixed_size(native, opts.input_size, path)
    logits = split_softmax(model)
    loaded = Loaded(
        wrap_keras(model, transform, size, channels_first),
        wrap_keras(logits, transform, size, channels_first) if logits is not None else None,
    )
    return user_source(path, kind, loaded, size, classes, labels, opts, calibration_dir, parity_dir), loaded


def resolve_onnx(path: Path, kind: str, opts: UserModel, calibration: str | None):
    """(Source, Loaded) for a user's float .onnx (the ONNX family's resolve)."""
    from sportsedge.export.onnx_wrap import load_onnx

    labels, calibration_dir, parity_dir = check_user_options(path, opts, calibration)
    assert opts.transform is not None  # for the type checker: check_user_options refused None
    wrapped, size, classes = load_onnx(path, opts.transform, opts.input_size)
    loaded = Loaded(wrapped)
    return user_source(path, kind, loaded, size, classes, labels, opts, calibration_dir, parity_dir), loaded


def user_source(
    path: Path, kind: str, loaded: Loaded, size, classes: int, labels, opts: UserModel, calibration_dir, parity_dir
) -> Source:
    """The Source of a user's model once loaded, its classes checked against --labels."""
    if classes != len(labels):
        raise UsageError(
            f"{path}: the model outputs {classes} scores but --labels {opts.labels} names {len(labels)} classes"
        )
    return Source(
        path=path,
        kind=kind,
        name=opts.name or path.stem,
        labels=labels,
        input_size=size,
        transform=opts.transform,
        output=output_kind(loaded, kind, opts, parity_dir, size),
        calibration_dir=calibration_dir,
        parity_dir=parity_dir,
        sha256=model_sha256(path),
    )


def output_kind(loaded, kind: str, opts: UserModel, images: Path, size) -> OutputKind:
    """--output, or detected on real images: probabilities when every row sums to one."""
    if opts.output != "auto":
        return OutputKind(opts.output)
    from sportsedge.runtime.imagesets import list_stratified, load_images

    pixels, _ = load_images(list_stratified(images, DETECT_IMAGES, 0), size, "output detection")
    out = impl(family_of(kind).run)(loaded.model, pixels)
    return OutputKind.PROBABILITIES if looks_like_probabilities(out) else OutputKind.LOGITS


def run_keras(model, pixels: np.ndarray) -> np.ndarray:
    """A Keras model's raw outputs for uint8 pixels (the Keras families' ``run``)."""
    return model.predict(pixels.astype(np.float32), batch_size=32, verbose=0)
