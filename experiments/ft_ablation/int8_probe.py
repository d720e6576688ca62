"""Issue 17, int8 after fine-tuning: extra int8-aware epochs on a finished mobilenet_v2_ft run,
on cache.py's views, with train/int8aware.py's rounding; saves the result as a run of its own for
`sportsedge export`. Compares what rounding weights and activations while training buys:

    FT_WORK=/tmp/ft .venv/bin/python experiments/ft_ablation/int8_probe.py RUN OUT_RUN --epochs 1 --lr 1e-4 [--acts 0]
    sportsedge export OUT_RUN --out OUT_EXPORTS --formats tflite-int8 --remedies none --parity-size 500

The recipe itself runs its last fine-tuning epochs int8-aware instead (`--finetune-int8-epochs`).
"""

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np

WORK = os.environ.get("FT_WORK", "/tmp/ft")
p = argparse.ArgumentParser()
p.add_argument("run")
p.add_argument("out")
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--lr", type=float, default=3e-5)  # cosine decay to 0 over the epochs
p.add_argument("--acts", type=int, default=1)  # 0: round the kernels only
p.add_argument("--views", default="clean,flip,mild1,mild2,mild3")
a = p.parse_args()

import keras  # noqa: E402

from sportsedge.train import int8aware  # noqa: E402
from sportsedge.train.stages import epoch_batches  # noqa: E402

model = keras.models.load_model(Path(a.run) / "model.keras")
upper = keras.Model(model.get_layer("block_12_add").output, model.output)
TUNED = ("block_13_", "block_14_", "block_15_", "block_16_", "Conv_1", "dense")
for layer in model.layers:
    layer.trainable = layer.name.startswith(TUNED) and not isinstance(layer, keras.layers.BatchNormalization)
valid = np.load(f"{WORK}/valid.npz")
vf, vy = valid["f"].astype(np.float32), valid["y"]
views = [np.load(f"{WORK}/train_{v}.npz") for v in a.views.split(",")]
ty, tv = views[0]["y"], [v["f"] for v in views]
qm = upper
if a.acts:
    qm = int8aware.int8_model(upper)
    int8aware.calibrate(qm, tv[0][:: len(ty) // 300][:300])


def smoothed(y, p):
    onehot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y, (-1,)), "int32"), p.shape[-1])
    return keras.losses.categorical_crossentropy(onehot, p, label_smoothing=0.1)


steps = int(np.ceil(len(ty) / 32))
qm.compile(
    keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(a.lr, a.epochs * steps)), smoothed, ["accuracy"]
)
print("rounded model before:", qm.evaluate(vf, vy, batch_size=100, verbose=0))
t0 = time.time()
rounding = int8aware.kernel_rounding(int8aware.quantized_kernels(upper), a.epochs)
qm.fit(
    epoch_batches(tv, ty, 0, 0, a.epochs, 32), epochs=a.epochs, steps_per_epoch=steps, callbacks=[rounding], verbose=2
)
print(f"fit {time.time() - t0:.0f} s; rounded model after:", qm.evaluate(vf, vy, batch_size=100, verbose=0))
shutil.copytree(a.run, a.out, dirs_exist_ok=True)
model.save(Path(a.out) / "model.keras")
