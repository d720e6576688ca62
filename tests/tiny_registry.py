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
