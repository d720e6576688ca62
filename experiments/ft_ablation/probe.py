"""Issue 17's ablation, step 2: stage 1 (the linear head on pooled features, 30 epochs) then one
stage-2 variant on cache.py's views; prints valid/ top-1 after every epoch and a RESULT line.

    FT_WORK=/tmp/ft .venv/bin/python experiments/ft_ablation/probe.py --first 13 --epochs 8 --lr 1e-4 \
        --views clean,flip --ls 0.1          (see --help; --first is the first trainable block)
"""

import argparse
import json
import os
import time

import numpy as np

WORK = os.environ.get("FT_WORK", "/tmp/ft")
os.environ.setdefault("KERAS_HOME", "/tmp/kh")
p = argparse.ArgumentParser()
p.add_argument("--first", type=int, default=13)  # first trainable block
p.add_argument("--epochs", type=int, default=8)
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--views", default="clean,flip")
p.add_argument("--fflip", action="store_true")
p.add_argument("--ls", type=float, default=0.0)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--warmup", type=float, default=1.0)
p.add_argument("--s1epochs", type=int, default=30)
p.add_argument("--bn", default="frozen")
p.add_argument("--wd", type=float, default=0.0)
p.add_argument("--mixup", type=float, default=0.0)
p.add_argument("--drop", type=float, default=0.2)
a = p.parse_args()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

keras.utils.set_random_seed(a.seed)
CUT = "block_12_add"
base = keras.applications.MobileNetV2(include_top=False, weights="imagenet", input_shape=(224, 224, 3))
cut = base.get_layer(CUT).output
upper = keras.Model(cut, base.output)
for layer in upper.layers:
    layer.trainable = False
drop = keras.layers.Dropout(a.drop)
dense = keras.layers.Dense(100, activation="softmax")
gap = keras.layers.GlobalAveragePooling2D()
V = np.load(WORK + "/valid.npz")
vf, vy = V["f"].astype(np.float32), V["y"]
views = [np.load(f"{WORK}/train_{v}.npz") for v in a.views.split(",")]
ty = views[0]["y"]
tv = [v["f"] for v in views]
n = len(ty)
# stage 1: pooled features of clean view through frozen upper
pool = keras.Model(cut, gap(base.output))
t0 = time.time()
P = pool.predict(tv[0].astype(np.float32), batch_size=100, verbose=0)
VP = pool.predict(vf, batch_size=100, verbose=0)
print("pooled", time.time() - t0, flush=True)
hin = keras.Input((1280,))
head = keras.Model(hin, dense(drop(hin)))
head.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
head.fit(P, ty, batch_size=100, epochs=a.s1epochs, verbose=0, shuffle=True)
s1 = head.evaluate(VP, vy, verbose=0)[1]
print(f"stage1 valid {s1:.4f}", flush=True)
# stage 2
for layer in upper.layers:
    blk = layer.name.split("_")
    k = int(blk[1]) if layer.name.startswith("block_") else 99
    bn = isinstance(layer, keras.layers.BatchNormalization)
    layer.trainable = (k >= a.first) and (not bn or a.bn == "train")
fin = keras.Input(cut.shape[1:])
model = keras.Model(fin, dense(drop(gap(upper(fin)))))
steps = int(np.ceil(n / a.batch))
total = steps * a.epochs
warm = int(steps * a.warmup)
sched = (
    keras.optimizers.schedules.CosineDecay(
        0.0 if warm else a.lr, total - warm, warmup_target=a.lr if warm else None, warmup_steps=warm
    )
    if warm
    else keras.optimizers.schedules.CosineDecay(a.lr, total)
)
opt = keras.optimizers.AdamW(sched, weight_decay=a.wd) if a.wd else keras.optimizers.Adam(sched)


def loss(yt, yp):
    return keras.losses.categorical_crossentropy(yt, yp, label_smoothing=a.ls)


model.compile(opt, loss, metrics=["accuracy"])
ntrain = sum(layer.trainable for layer in upper.layers)
print("trainable weights", sum(np.prod(w.shape) for w in model.trainable_weights), flush=True)


def gen(e):
    f = tv[e % len(tv)]
    idx = np.random.default_rng(a.seed * 1000 + e).permutation(n)
    return f, idx


res = []
for e in range(a.epochs):
    t0 = time.time()
    f, idx = gen(e)

    def batches(f=f, idx=idx, e=e):
        for i in range(0, n, a.batch):
            b = idx[i : i + a.batch]
            x = f[b].astype(np.float32)
            if a.fflip:
                m = np.random.default_rng(e * 7919 + i).random(len(b)) < 0.5
                x[m] = x[m, :, ::-1, :]
            yb = np.eye(100, dtype=np.float32)[ty[b]]
            if a.mixup:
                r = np.random.default_rng(e * 31 + i)
                lam = r.beta(a.mixup, a.mixup, size=(len(b), 1)).astype(np.float32)
                perm = r.permutation(len(b))
                x = lam[:, :, None, None] * x + (1 - lam[:, :, None, None]) * x[perm]
                yb = lam * yb + (1 - lam) * yb[perm]
            yield x, yb

    dset = tf.data.Dataset.from_generator(
        batches,
        output_signature=(tf.TensorSpec((None, *cut.shape[1:]), tf.float32), tf.TensorSpec((None, 100), tf.float32)),
    )
    h = model.fit(dset, epochs=1, verbose=0)
    va = model.evaluate(vf, np.eye(100, dtype=np.float32)[vy], batch_size=100, verbose=0)
    print(
        f"e{e + 1} loss {h.history['loss'][0]:.3f} acc {h.history['accuracy'][0]:.3f} "
        f"val {va[1]:.4f} {time.time() - t0:.0f}s",
        flush=True,
    )
    res.append(va[1])
print("RESULT", json.dumps({**vars(a), "stage1": s1, "final": res[-1], "curve": res}), flush=True)
