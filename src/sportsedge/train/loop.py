"""`sportsedge train`: fit a registered model on a dataset folder and write a run folder.

A run folder holds model.keras, labels.txt, config.json, history.json, history.png and
eval-<split>/ reports. While training, ``checkpoint.weights.h5`` + ``state.json`` are written
after every epoch (atomically), so Ctrl-C or a crash loses at most the epoch in flight and
``--resume`` continues from there (weights, optimizer state, epoch count and history).
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from pathlib import Path

import numpy as np

from .. import fileio
from ..envinfo import environment
from ..errors import UsageError
from ..progress import fmt_seconds
from .config import STRATEGIES, RunRecord, TrainConfig
from .data import BadImageLog, Split, epoch_order, image_stream, limit_split, scan_dataset, training_stream
from .evaluate import evaluate_model
from .features import cache_key, cached_extract
from .models import Augment, augmentation_layers, get_model

log = logging.getLogger("sportsedge.train")

BEST_WEIGHTS = "early_stopping_best.npz"  # early stopping's best weights while a run is in progress


def _epoch_callback(keras, out: Path, trainable, total_epochs: int, history: dict, say, stopper=None, resumed=None):
    """Progress with ETA, then checkpoint + state after every epoch.

    With early stopping (``stopper``, which must run before this callback), its count of epochs
    without improvement, best value and best weights are saved too and restored on resume, so an
    interrupted run stops where an uninterrupted one would.
    """

    class EpochEnd(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):  # after the stopper's own reset
            if stopper is not None and resumed:
                stopper.wait, stopper.best, stopper.best_epoch = resumed["wait"], resumed["best"], resumed["best_epoch"]
                best = out / BEST_WEIGHTS
                if stopper.restore_best_weights and best.is_file():
                    with np.load(best) as f:
                        stopper.best_weights = [f[f"w{i}"] for i in range(len(f.files))]

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            for k, v in logs.items():
                history.setdefault(k, []).append(float(v))
            history.setdefault("seconds", []).append(time.monotonic() - self.t0)
            done = epoch + 1
            recent = history["seconds"][-3:]
            eta = (total_epochs - done) * sum(recent) / len(recent)
            shown = "  ".join(
                f"{k} {logs[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in logs
            )
            with fileio.atomic_path(out / "checkpoint.weights.h5") as tmp:
                trainable.save_weights(str(tmp))
            state = {"epoch": done, "history": history}
            if stopper is not None and stopper.best is not None:
                state["early_stopping"] = {
                    "wait": stopper.wait,
                    "best": float(stopper.best),
                    "best_epoch": stopper.best_epoch,
                }
                if stopper.best_weights is not None and stopper.best_epoch == epoch:  # a new best: keep it
                    with fileio.atomic_path(out / BEST_WEIGHTS) as tmp, open(tmp, "wb") as f:
                        np.savez(f, **{f"w{i}": w for i, w in enumerate(stopper.best_weights)})
            fileio.write_json(out / "state.json", state)
            say(f"epoch {done}/{total_epochs}  {shown}  {history['seconds'][-1]:.1f}s  ETA {fmt_seconds(eta)}")

    return EpochEnd()


def _augment(rec: RunRecord) -> Augment:
    return Augment(**rec.augmentation) if rec.augmentation else Augment()


def _cached_streams(rec: RunRecord, built, train: Split, valid: Split, out: Path, bad):
    """tf.data of cached features: each epoch trains on view (epoch % views) of the train set."""
    import tensorflow as tf

    size, batch, views = rec.input_size, rec.batch_size, rec.cache_features
    aug = _augment(rec)
    base = {"model": rec.model, "weights": rec.weights, "size": size}
    train_views = []
    for v in range(views):
        # View 0 is the clean image; the others are augmented draws.
        layer = augmentation_layers(aug, seed=rec.seed + v) if v and aug.active else None
        key = cache_key(train, {**base, "augment": layer is not None and vars(aug), "view": v, "seed": rec.seed})
        feats, labels = cached_extract(
            out / "cache",
            key,
            features=built.features,
            split=train,
            size=size,
            batch=batch,
            augment=layer,
            bad=bad,
            label=f"train view {v + 1}/{views}",
        )
        train_views.append(feats)
    vfeats, vlabels = cached_extract(
        out / "cache",
        cache_key(valid, base),
        features=built.features,
        split=valid,
        size=size,
        batch=batch,
        bad=bad,
        label="valid",
    )
    stacked = tf.constant(np.stack(train_views))
    y = tf.constant(labels)
    n = len(labels)

    def epoch_data(e):
        idx = epoch_order(n, rec.seed, e)
        data = tf.data.Dataset.from_tensor_slices((tf.gather(stacked[e % views], idx), tf.gather(y, idx)))
        return data.batch(batch)  # batched per epoch: no batch straddles two views

    train_ds = tf.data.Dataset.range(rec.initial_epoch, rec.epochs).flat_map(epoch_data)
    valid_ds = tf.data.Dataset.from_tensor_slices((vfeats, vlabels)).batch(batch)
    return train_ds.prefetch(2), valid_ds, math.ceil(n / batch)


def _image_streams(rec: RunRecord, built, train: Split, valid: Split, out: Path, bad):
    """tf.data of images through the whole model, augmented on the training side."""
    size, batch = rec.input_size, rec.batch_size
    aug = _augment(rec)
    layer = augmentation_layers(aug, seed=rec.seed) if aug.active else None
    train_ds = training_stream(train, size, batch, rec.seed, rec.initial_epoch, rec.epochs, layer, bad)
    valid_ds = image_stream(valid, size, batch, bad=bad)
    # float32 pixels (the model casts to them anyway): MultiWorkerMirroredStrategy cannot all-reduce uint8.
    return _as_float(train_ds), _as_float(valid_ds), math.ceil(len(train) / batch)


def _as_float(ds):
    import tensorflow as tf

    return ds.map(lambda x, *rest: (tf.cast(x, tf.float32), *rest))


def _build_from_local_batch(model, strategy, tf) -> None:
    """keras-team/keras#20585 (open; Keras 3.15 here): `fit` builds a distributed model from the first
    batch all-reduced across replicas, which MultiWorkerMirroredStrategy cannot do ("Attempt to
    convert a value (PerReplica ...)"). Only the batch's shapes and dtypes matter to that build, so
    it is done from this worker's own part of the batch."""

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = next(it)
                break

        def local(x):
            return strategy.experimental_local_results(x)[0] if isinstance(x, tf.distribute.DistributedValues) else x

        with strategy.scope():
            model._symbolic_build(data_batch=tf.nest.map_structure(local, data_batch))

    model._maybe_symbolic_build = build
    # The same bug again when fit reduces the per-step logs (scalar metrics all-reduced over axis 0:
    # "Invalid reduction dimension 0 for input with 0 dimensions"): logs are reduced over this
    # worker's replicas; gradients are still all-reduced across workers by the optimizer.
    from keras.src.backend.tensorflow import trainer

    trainer._collective_all_reduce_multi_worker = lambda strategy: False


def _loss(keras, smoothing: float):
    if not smoothing:
        return "sparse_categorical_crossentropy"

    def smoothed(y_true, y_pred):  # labels stay integers in the streams
        onehot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), y_pred.shape[-1])
        return keras.losses.categorical_crossentropy(onehot, y_pred, label_smoothing=smoothing)

    return smoothed


def train(config: TrainConfig, say=print) -> Path:
    """Train, save the run folder, evaluate on valid/ (and test/); returns the run folder."""
    import keras
    import tensorflow as tf

    # The data folder is stored absolute: export and evaluate find it from any folder.
    rec = config.resolved().replace(data=str(Path(config.data).resolve()))
    out = Path(config.out)
    state_path = out / "state.json"
    if (out / "model.keras").exists() and not config.resume:
        raise UsageError(f"{out}: already holds a trained model; choose another --out")
    if config.resume and (out / "model.keras").exists() and not state_path.exists():
        raise UsageError(f"{out}: this run finished (model.keras is there); nothing to resume")
    if state_path.exists() and not config.resume:
        raise UsageError(f"{out}: holds an interrupted run; add --resume to continue it or choose another --out")
    ds = scan_dataset(config.data, require=("train", "valid"))
    train_split = limit_split(ds.split("train"), config.limit_per_class)
    valid_split = limit_split(ds.split("valid"), config.limit_per_class)
    entry = get_model(config.model)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    state = json.loads(state_path.read_text()) if config.resume and state_path.exists() else {"epoch": 0, "history": {}}
    rec = rec.replace(initial_epoch=state["epoch"])
    history = state["history"]
    say(
        f"{config.model}: {len(ds.classes)} classes, {len(train_split)} train / {len(valid_split)} valid images, "
        f"weights {rec.weights}, {rec.epochs} epochs, batch {rec.batch_size}, cache_features {rec.cache_features}"
    )
    bad = BadImageLog()
    t_wall = time.monotonic()
    strategy = STRATEGIES[config.strategy][0](tf)
    with strategy.scope():
        built = entry.build(len(ds.classes), rec.weights)
        use_cache = bool(rec.cache_features) and built.features is not None
        trainable = built.head if use_cache else built.model
        trainable.compile(
            optimizer=keras.optimizers.Adam(rec.learning_rate),
            loss=_loss(keras, config.label_smoothing),
            weighted_metrics=["accuracy"],
            jit_compile=config.jit_compile,
        )
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        if len(train_split) % rec.batch_size:  # measured: a short last batch leaves a worker empty and fit fails
            raise UsageError(
                f"--strategy multi-worker needs --batch-size to divide the {len(train_split)} training images "
                f"(got {rec.batch_size}; Keras 3 fails on a short last batch across workers)"
            )
        _build_from_local_batch(trainable, strategy, tf)
    if config.resume and (out / "checkpoint.weights.h5").exists():
        trainable.optimizer.build(trainable.trainable_variables)  # so Adam's moments load too
        trainable.load_weights(str(out / "checkpoint.weights.h5"))
        say(f"resuming after epoch {state['epoch']}")
    streams = _cached_streams if use_cache else _image_streams
    train_ds, valid_ds, steps = streams(rec, built, train_split, valid_split, out, bad)
    stopper = None
    if rec.early_stopping:
        stopper = keras.callbacks.EarlyStopping("val_loss", patience=rec.early_stopping, restore_best_weights=True)
    progress = _epoch_callback(keras, out, trainable, rec.epochs, history, say, stopper, state.get("early_stopping"))
    callbacks = [c for c in (stopper, progress) if c is not None]  # the stopper first: progress saves its state
    t0 = time.monotonic()
    if rec.initial_epoch < rec.epochs:
        try:
            with warnings.catch_warnings():
                # Unreadable images are dropped from the validation stream, so its length is
                # unknown until Keras has run it once and says "ran out of data": expected here.
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                trainable.fit(
                    train_ds,
                    validation_data=valid_ds,
                    epochs=rec.epochs,
                    initial_epoch=rec.initial_epoch,
                    steps_per_epoch=steps,
                    callbacks=callbacks,
                    shuffle=False,
                    verbose=0,
                )
        except KeyboardInterrupt:
            done = json.loads(state_path.read_text())["epoch"] if state_path.exists() else 0
            say(f"interrupted: checkpoint after epoch {done} kept in {out}; continue with --resume")
            raise
    rec = rec.replace(
        fit_seconds=time.monotonic() - t0 + sum(history.get("seconds", [])[: rec.initial_epoch]),
        train_wall_seconds=time.monotonic() - t_wall,  # this session: build + feature caching + fit
        bad_images=bad.seen,
        classes=tuple(ds.classes),
        environment=environment(),
    )
    save_run(out, built.model, rec, history)
    for split in dict.fromkeys(("valid", ds.eval_split)):
        m = evaluate_model(built.model, out, ds, split, rec, limit_per_class=config.limit_per_class)
        say(
            f"{config.model} on {split}/: top-1 {m['top1']:.4f}  top-5 {m['top5']:.4f}  "
            f"macro-F1 {m['macro_f1']:.4f}  ({m['n']} images) -> {out / f'eval-{split}'}"
        )
    return out


def save_run(out: Path, model, rec: RunRecord, history: dict) -> None:
    from .plots import history_plot

    with fileio.atomic_path(out / "model.keras") as tmp:
        model.save(str(tmp))
    fileio.write_text(out / "labels.txt", "".join(f"{c}\n" for c in rec.classes))
    rec.save(out)
    fileio.write_json(out / "history.json", history)
    history_plot(history, out / "history.png", title=rec.model)
    for leftover in ("state.json", "checkpoint.weights.h5", BEST_WEIGHTS):
        (out / leftover).unlink(missing_ok=True)
