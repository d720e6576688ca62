"""Issue 17's ablation, step 1: cache the shared subset at MobileNetV2's block_12_add (float16, one
file per train view: clean, mirrored, three mild augmentations) for probe.py.

    KERAS_HOME=<copy of ../shared/keras_home> FT_WORK=/tmp/ft .venv/bin/python experiments/ft_ablation/cache.py

A probe, not the product: `sportsedge train --model mobilenet_v2_ft` is the recipe; this script
and probe.py let one view cache serve many stage-2 variants (docs/training.md has the table).
"""

import os
import time

import numpy as np

WORK = os.environ.get("FT_WORK", "/tmp/ft")
DATA = os.environ.get("DATA", "../shared/data/sports100-dev")
os.makedirs(WORK, exist_ok=True)
os.environ.setdefault("KERAS_HOME", "/tmp/kh")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from sportsedge.train.data import image_stream, scan_dataset  # noqa: E402
from sportsedge.train.models import Augment, augmentation_layers  # noqa: E402

CUT = "block_12_add"
ds = scan_dataset(DATA, require=("train", "valid"))
inp = keras.Input((224, 224, 3))
x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
base = keras.applications.MobileNetV2(include_top=False, weights="imagenet", input_tensor=x, input_shape=(224, 224, 3))
lower = keras.Model(inp, base.get_layer(CUT).output)
run = tf.function(lambda x: lower(x, training=False))
views = {
    "clean": None,
    "flip": "flip",
    "mild1": Augment(rotation=10, shift=0.1, zoom=0.1, flip=True),
    "mild2": Augment(rotation=10, shift=0.1, zoom=0.1, flip=True),
    "mild3": Augment(rotation=10, shift=0.1, zoom=0.1, flip=True),
}


def extract(split, aug, seed):
    s = image_stream(split, (224, 224), 50)
    F, Y = [], []
    for xb, yb in s:
        xb = tf.cast(xb, tf.float32)
        if aug == "flip":
            xb = xb[:, :, ::-1, :]
        elif aug is not None:
            xb = aug(xb, training=True)
        F.append(run(xb).numpy().astype(np.float16))
        Y.append(yb.numpy())
    return np.concatenate(F), np.concatenate(Y)


t0 = time.time()
f, y = extract(ds.split("valid"), None, 0)
np.savez(WORK + "/valid.npz", f=f, y=y)
print("valid", time.time() - t0, flush=True)
for i, (name, aug) in enumerate(views.items()):
    t0 = time.time()
    layer = augmentation_layers(aug, seed=100 + i) if isinstance(aug, Augment) else aug
    f, y = extract(ds.split("train"), layer, i)
    np.savez(f"{WORK}/train_{name}.npz", f=f, y=y)
    print(name, time.time() - t0, len(y) / (time.time() - t0), "img/s", flush=True)
