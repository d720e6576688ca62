"""A frozen ImageNet backbone with a trainable head, split for training from cached features:
the shape shared by the MobileNetV2 and EfficientNet-Lite models.

``features`` (pixels -> pooled backbone output) and ``head`` let the head train on cached
features; with a ``boundary`` (a block boundary inside the backbone), ``lower`` (pixels ->
boundary), ``upper`` (boundary -> probabilities) and the top's ``blocks`` let stage 2 of a
two-stage recipe fine-tune the blocks above it on features cached there.
"""

from __future__ import annotations

from dataclasses import replace

from sportsedge.train.models import Built, keras_api, stack


def transfer(inp, base, num_classes: int, head_layers, boundary: str | None = None) -> Built:
    """``base``: the backbone as a keras.Model from ``inp`` (made non-trainable here, its
    BatchNormalization then in inference mode); built on its tensors, not called as a layer, so
    ``model`` stays one flat graph."""
    keras = keras_api()

    base.trainable = False
    # GAP has no weights: it belongs to the frozen part, so the cache holds one vector per image.
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)
    features = keras.Model(inp, pooled, name="features")
    layers = [*head_layers, keras.layers.Dense(num_classes, activation="softmax")]
    h_in = keras.Input(features.output.shape[1:], name="features_in")
    head = keras.Model(h_in, stack(h_in, layers), name="head")
    built = Built(keras.Model(inp, stack(pooled, layers)), features, head)
    if boundary is None:
        return built
    cut = base.get_layer(boundary).output
    try:
        pool = keras.Model(cut, pooled, name="top_blocks")
    except ValueError:  # tf-keras (QAT worker) cannot start a model at an inner tensor; it needs `model` only
        return built
    b_in = keras.Input(cut.shape[1:], name="boundary_in")
    upper = keras.Model(b_in, stack(pool(b_in), layers), name="upper")
    return replace(built, lower=keras.Model(inp, cut, name="lower"), upper=upper, pool=pool, blocks=block_groups(pool))


def block_groups(top) -> tuple:
    """The top's layers grouped by block ("block_13_expand" -> 13); the layers after the last
    block (the final 1x1 conv, its batch norm and activation) form the last group."""
    keras = keras_api()

    groups: dict[str, list] = {}
    for layer in top.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        parts = layer.name.split("_")
        key = parts[1] if parts[0] == "block" else "top"
        groups.setdefault(key, []).append(layer)
    order = sorted((k for k in groups if k != "top"), key=int) + ["top"]
    return tuple(tuple(groups[k]) for k in order if k in groups)
