"""Issue 17's budget, measured before building the recipe: how fast the frozen lower MobileNetV2
runs once per image and view (the block-boundary cache), and how fast a training step of the
unfrozen top blocks + head runs on cached tensors, against a full-model step.

    KERAS_HOME=... .venv/bin/python experiments/ft_feasibility.py [CUT_LAYER ...]

CUT_LAYER: the block boundary to cache at (default block_12_add (14x14x96) and
block_13_project_BN (7x7x160)); everything above it trains, BatchNorm in inference mode.
"""

import sys
import time

import keras
import numpy as np

N_IMAGES, BATCH, CLASSES, FULL = 64, 32, 100, 13572

base = keras.applications.MobileNetV2(input_shape=(224, 224, 3), include_top=False, weights="imagenet")
x = np.random.default_rng(0).uniform(-1, 1, (N_IMAGES, 224, 224, 3)).astype("float32")
y = np.random.default_rng(1).integers(0, CLASSES, N_IMAGES)


def rate(fn, items):
    fn()  # trace and warm up
    t0 = time.perf_counter()
    fn()
    return items / (time.perf_counter() - t0)


for cut_name in sys.argv[1:] or ["block_12_add", "block_13_project_BN"]:
    cut = base.get_layer(cut_name).output
    lower = keras.Model(base.input, cut)
    upper = keras.Model(cut, base.output)
    for layer in upper.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    inp = keras.Input(cut.shape[1:])
    h = keras.layers.Dense(CLASSES)(keras.layers.Dropout(0.2)(keras.layers.GlobalAveragePooling2D()(upper(inp))))
    head = keras.Model(inp, h)
    head.compile(keras.optimizers.Adam(1e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    feats = lower.predict(x, batch_size=BATCH, verbose=0)
    cache_rate = rate(lambda m=lower: m.predict(x, batch_size=BATCH, verbose=0), N_IMAGES)
    step_rate = rate(lambda m=head, f=feats: m.fit(f, y, batch_size=BATCH, epochs=1, verbose=0), N_IMAGES)
    per_image_kb = feats[0].nbytes / 1024
    print(
        f"{cut_name} {tuple(cut.shape[1:])}: cache {cache_rate:.1f} img/s ({per_image_kb:.0f} KB/img), "
        f"top blocks + head training {step_rate:.1f} img/s; at {FULL} images: "
        f"{FULL / cache_rate / 60:.1f} min per cached view, {FULL / step_rate / 60:.1f} min per epoch, "
        f"{FULL * per_image_kb / 1024 / 1024:.2f} GB per view"
    )
full = keras.Model(base.input, keras.layers.Dense(CLASSES)(keras.layers.GlobalAveragePooling2D()(base.output)))
full.compile(keras.optimizers.Adam(1e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
full_rate = rate(lambda: full.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), N_IMAGES)
print(f"whole network training (no cache): {full_rate:.1f} img/s; {FULL / full_rate / 60:.1f} min per epoch at {FULL}")
