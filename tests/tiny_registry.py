"""The "tiny" registered model for tests: importable by name, so a spawned worker (QAT) registers it too."""

from __future__ import annotations

from sportsedge.train.models import MODELS, SEED_AUGMENT, Built, Recipe, keras_api, register_model, stack

TINY_SIZE = (32, 32)

if "tiny" not in MODELS:

    @register_model("tiny", TINY_SIZE, Recipe(4, 2, 1e-2, None, SEED_AUGMENT, cache_views=2), default_weights="none")
    def tiny(num_classes: int, weights: str = "none") -> Built:
        """A tiny frozen-backbone model for tests."""
        keras = keras_api()

        inp = keras.Input((*TINY_SIZE, 3), name="pixels")
        x = keras.layers.Rescaling(1 / 255.0)(inp)
        conv = keras.layers.Conv2D(4, 3, activation="relu")
        conv.trainable = False
        pooled = keras.layers.GlobalAveragePooling2D()(conv(x))
        features = keras.Model(inp, pooled, name="features")
        layers = [keras.layers.Dense(num_classes, activation="softmax")]
        h_in = keras.Input(features.output.shape[1:])
        head = keras.Model(h_in, stack(h_in, layers), name="head")
        return Built(keras.Model(inp, stack(pooled, layers)), features, head)


if "tiny_ft" not in MODELS:
    from dataclasses import replace

    from sportsedge.train.models import Augment, FineTune

    TINY_FT = FineTune(
        blocks=1,
        epochs=4,
        learning_rate=1e-2,
        warmup_epochs=0.5,
        batch_size=4,
        views=3,
        view_images=1000,
        augment=Augment(flip=True, brightness=0.1),
        label_smoothing=0.1,
        int8_epochs=2,
    )

    @register_model(
        "tiny_ft",
        TINY_SIZE,
        Recipe(4, 2, 1e-2, None, SEED_AUGMENT, cache_views=1, finetune=TINY_FT),
        default_weights="none",
    )
    def tiny_ft(num_classes: int, weights: str = "none") -> Built:
        """A tiny two-stage model for tests: a frozen conv, a block boundary, one unfreezable block."""
        keras = keras_api()

        L = keras.layers
        inp = keras.Input((*TINY_SIZE, 3), name="pixels")
        cut = L.Conv2D(4, 3, activation="relu", name="lower_conv")(L.Rescaling(1 / 255.0)(inp))
        block = (
            L.Conv2D(6, 3, name="block_1_conv"),
            L.BatchNormalization(name="block_1_bn"),
            L.ReLU(name="block_1_relu"),
        )
        pooled = L.GlobalAveragePooling2D()(stack(cut, block))
        dense = L.Dense(num_classes, activation="softmax")
        model = keras.Model(inp, dense(pooled))
        for layer in model.layers[:-1]:
            layer.trainable = False
        pool = keras.Model(cut, pooled, name="top_blocks")
        h_in, b_in = keras.Input(pooled.shape[1:]), keras.Input(cut.shape[1:])
        return replace(
            Built(model, keras.Model(inp, pooled), keras.Model(h_in, dense(h_in))),
            lower=keras.Model(inp, cut),
            upper=keras.Model(b_in, dense(pool(b_in))),
            pool=pool,
            blocks=(block,),
        )

    # The same model with int8-aware epochs that round the kernels only (mobilenet_v2_ft's recipe).
    register_model(
        "tiny_ft_kernels",
        TINY_SIZE,
        Recipe(4, 2, 1e-2, None, SEED_AUGMENT, cache_views=1, finetune=replace(TINY_FT, int8_activations=False)),
        default_weights="none",
    )(tiny_ft)
