"""Training stages: what one `fit` trains, on which data, with which learning rate.

A one-stage model trains ``model`` on images, or its head on cached features. A two-stage model
(a recipe with ``finetune``) first trains its head on pooled features, then unfreezes its top
blocks and trains them with the head on features cached at a block boundary: the frozen lower
part runs once per image and view; only the top blocks and the head run per step. Both stages
read one boundary cache (the pooled features come from it through the frozen top blocks). The
last fine-tuning epochs can run int8-aware (a third stage on the same cache and schedule: see
int8aware). Epochs are numbered across stages, so state.json's epoch count says where a resumed run is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sportsedge.core.errors import UsageError
from sportsedge.core.formats import CALIBRATION_SIZE
from sportsedge.train.config import RunRecord
from sportsedge.train.data import Split, epoch_order, image_stream, training_stream
from sportsedge.train.features import cache_key, cached_extract
from sportsedge.train.models import Augment, Built, FineTune, augmentation_layers


class StageName:
    """The names stages are recorded under (state.json, config.json, progress lines)."""

    TRAIN = "train"  # the whole model on images
    HEAD = "head"  # the head on cached features
    TOP = "top blocks"  # the unfrozen top blocks and the head on boundary features
    INT8 = "int8-aware"  # the same, with kernels (and optionally activations) rounded as full int8 will


@dataclass(frozen=True)
class Stage:
    name: str  # a StageName
    model: Any  # the keras.Model this stage fits (Keras ships no type information); its layers are the run's model's
    first_epoch: int  # the global epoch this stage starts at
    epochs: int  # epochs of this stage
    batch_size: int  # images per step
    learning_rate: Any  # a float or a keras LearningRateSchedule
    label_smoothing: float  # of this stage's loss
    early_stopping: int | None  # patience on val_loss; None = off
    data: Callable  # (first global epoch to train) -> (train_ds, valid_ds, steps per epoch)
    record: dict = field(default_factory=dict)  # this stage's settings, for config.json
    callbacks: tuple = ()  # keras callbacks of this stage's fit, run before the checkpoint's
    continues: bool = False  # trains on with the previous stage's optimizer (Adam's moments and step count)

    @property
    def end(self) -> int:
        return self.first_epoch + self.epochs


MIRROR = "mirror"  # a cached view mirrored left-right (the lower part runs on the flipped image)


def _view_layer(aug, seed: int):
    """The callable a cached view's images go through: None (clean), mirrored, or augmented."""
    if aug == MIRROR:
        return lambda x, training=True: x[:, :, ::-1, :]
    return augmentation_layers(aug, seed=seed) if isinstance(aug, Augment) else None


def _augment(rec: RunRecord) -> Augment:
    return Augment(**rec.augmentation) if rec.augmentation else Augment()


def epoch_batches(views: list, labels: np.ndarray, seed: int, first: int, last: int, batch: int):
    """tf.data of (features, labels) for epochs first..last-1: epoch e reads view e % len(views) in
    epoch_order(seed, e), batched per epoch (no batch straddles two views)."""
    import tensorflow as tf

    n = len(labels)

    def gen():
        for e in range(first, last):
            data, order = views[e % len(views)], epoch_order(n, seed, e).numpy()
            for i in range(0, n, batch):
                idx = order[i : i + batch]
                yield data[idx], labels[idx]

    spec = (tf.TensorSpec((None, *views[0].shape[1:]), tf.float32), tf.TensorSpec((None,), labels.dtype))
    return tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(2)


def _feature_streams(views: list, labels, vfeats, vlabels, seed: int, first: int, last: int, batch: int):
    """(train_ds, valid_ds, steps per epoch) of cached features: a Stage's data."""
    import tensorflow as tf

    valid_ds = tf.data.Dataset.from_tensor_slices((vfeats, vlabels)).batch(batch)
    return epoch_batches(views, labels, seed, first, last, batch), valid_ds, math.ceil(len(labels) / batch)


def _cached_views(
    rec: RunRecord, model, train: Split, valid: Split, out: Path, bad, views: list, tag: dict
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """(train views, labels, valid features, valid labels) of ``model`` over the splits, cached on
    disk. ``views`` lists each train view's augmentation: None = clean, MIRROR, or an Augment."""
    size, batch = rec.input_size, rec.batch_size
    base = {"model": rec.model, "weights": rec.weights, "size": size, **tag}
    arrays = []
    for v, aug in enumerate(views):
        layer = _view_layer(aug, rec.seed + v)
        key = cache_key(
            train, {**base, "augment": asdict(aug) if isinstance(aug, Augment) else aug, "view": v, "seed": rec.seed}
        )
        feats, labels = cached_extract(
            Path(out) / "cache",
            key,
            features=model,
            split=train,
            size=size,
            batch=batch,
            augment=layer,
            bad=bad,
            label=f"train view {v + 1}/{len(views)}",
        )
        arrays.append(feats)
    vfeats, vlabels = cached_extract(
        Path(out) / "cache",
        cache_key(valid, base),
        features=model,
        split=valid,
        size=size,
        batch=batch,
        bad=bad,
        label="valid",
    )
    return arrays, labels, vfeats, vlabels


def _one_stage(rec: RunRecord, built: Built, train: Split, valid: Split, out: Path, bad) -> Stage:
    aug = _augment(rec)
    common: dict[str, Any] = {
        "learning_rate": rec.learning_rate,
        "label_smoothing": rec.label_smoothing,
        "early_stopping": rec.early_stopping,
    }
    if rec.cache_features and built.features is not None:
        # View 0 is the clean image; the others are augmented draws.
        views = [None] + [aug if aug.active else None] * (rec.cache_features - 1)

        def cached(first):
            arrays, labels, vfeats, vlabels = _cached_views(rec, built.features, train, valid, out, bad, views, {})
            return _feature_streams(arrays, labels, vfeats, vlabels, rec.seed, first, rec.epochs, rec.batch_size)

        return Stage(StageName.HEAD, built.head, 0, rec.epochs, rec.batch_size, **common, data=cached)

    def images(first):
        layer = augmentation_layers(aug, seed=rec.seed) if aug.active else None
        size, batch = rec.input_size, rec.batch_size
        train_ds = training_stream(train, size, batch, rec.seed, first, rec.epochs, layer, bad)
        # float32 pixels (the model casts to them anyway): MultiWorkerMirroredStrategy cannot all-reduce uint8.
        return _as_float(train_ds), _as_float(image_stream(valid, size, batch, bad=bad)), math.ceil(len(train) / batch)

    return Stage(StageName.TRAIN, built.model, 0, rec.epochs, rec.batch_size, **common, data=images)


def _as_float(ds):
    import tensorflow as tf

    return ds.map(lambda x, *rest: (tf.cast(x, tf.float32), *rest))


def unfreeze(built: Built, blocks: int) -> int:
    """Make the top ``blocks`` groups trainable, BatchNorm excepted (it stays in inference mode:
    batch statistics of 32 images would wreck ImageNet's); returns the weights now trainable."""
    import keras

    for group in built.blocks[-blocks:]:
        for layer in group:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    return sum(int(np.prod(w.shape)) for w in built.upper.trainable_weights)


def warmup_cosine(peak: float, warmup_steps: int, total_steps: int):
    """Linear warm-up from 0 to ``peak``, then cosine decay to 0 at ``total_steps``."""
    import keras

    return keras.optimizers.schedules.CosineDecay(
        0.0, max(1, total_steps - warmup_steps), warmup_target=peak, warmup_steps=warmup_steps
    )


def _two_stages(rec: RunRecord, built: Built, train: Split, valid: Split, out: Path, bad) -> list[Stage]:
    assert rec.finetune is not None  # for the type checker: plan() sends only runs with a second stage here
    ft = FineTune(**{**rec.finetune, "augment": Augment(**rec.finetune["augment"])})
    if not 1 <= ft.blocks <= len(built.blocks):
        raise UsageError(f"--finetune-blocks must be 1..{len(built.blocks)} for {rec.model}, got {ft.blocks}")
    # Augmented views pay on small data and cost a full lower pass each: on a big train split the
    # budget leaves the clean and mirrored views only.
    count = min(ft.views, max(2, ft.view_images // max(1, len(train))))
    views = [None, MIRROR, *[ft.augment] * (count - 2)][:count]

    # Both stages read it: computed once per process, cached on disk across runs.
    @functools.cache
    def boundary() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        return _cached_views(rec, built.lower, train, valid, out, bad, views, {"boundary": built.lower.output.name})

    def head_data(first):
        arrays, labels, vfeats, vlabels = boundary()
        pooled = built.pool.predict(arrays[0], batch_size=rec.batch_size, verbose=0)
        vpooled = built.pool.predict(vfeats, batch_size=rec.batch_size, verbose=0)
        return _feature_streams([pooled], labels, vpooled, vlabels, rec.seed, first, rec.epochs, rec.batch_size)

    steps = math.ceil(len(train) / ft.batch_size)  # per epoch, for the schedule (made before the data)
    trainable = unfreeze(built, ft.blocks)
    # One schedule over all fine-tuning epochs; the int8-aware stage runs its last ones.
    schedule = warmup_cosine(ft.learning_rate, round(ft.warmup_epochs * steps), ft.epochs * steps)
    float_epochs = ft.epochs - ft.int8_epochs
    head_record = {"learning_rate": rec.learning_rate, "batch_size": rec.batch_size, "trainable": "head"}
    top_record = {
        **asdict(ft),
        "trainable": f"top {ft.blocks} blocks + head (BatchNorm frozen)",
        "trainable_weights": trainable,
        "views_cached": count,
        "schedule": "peak; linear warm-up, cosine decay to 0",
    }
    stages = [
        Stage(
            StageName.HEAD,
            built.head,
            0,
            rec.epochs,
            rec.batch_size,
            rec.learning_rate,
            rec.label_smoothing,
            early_stopping=None,
            data=head_data,
            record=head_record,
        )
    ]
    if float_epochs:
        stages.append(
            Stage(
                StageName.TOP,
                built.upper,
                rec.epochs,
                float_epochs,
                ft.batch_size,
                schedule,
                ft.label_smoothing,
                early_stopping=None,
                data=lambda first: _feature_streams(
                    *boundary(), rec.seed, first, rec.epochs + float_epochs, ft.batch_size
                ),
                record=top_record,
            )
        )
    if ft.int8_epochs:
        stages.append(_int8_stage(built, ft, rec.epochs + float_epochs, schedule, boundary, rec.seed, top_record))
    return stages


# Boundary features the int8-aware stage calibrates activation ranges on: the export's default.
CALIBRATION = CALIBRATION_SIZE


def _int8_stage(built: Built, ft: FineTune, first: int, schedule, boundary: Callable, seed: int, top: dict) -> Stage:
    """The last fine-tuning epochs, with the top blocks and head as full int8 computes them (see
    int8aware), on the same views and schedule."""
    import keras

    from sportsedge.train import int8aware

    # One flat graph from the boundary up (``upper`` nests the top blocks as a model), sharing the layers.
    flat = keras.Model(built.lower.output, built.model.output)
    qmodel = int8aware.int8_model(flat) if ft.int8_activations else flat
    end = first + ft.int8_epochs

    def data(start):
        arrays, labels, vfeats, vlabels = boundary()
        if ft.int8_activations and start == first:  # a resume inside the stage loads the calibrated ranges
            every = max(1, len(labels) // CALIBRATION)
            int8aware.calibrate(qmodel, arrays[0][::every][:CALIBRATION])
        return _feature_streams(arrays, labels, vfeats, vlabels, seed, start, end, ft.batch_size)

    record = {
        **top,
        "trainable": top["trainable"] + ", int8-aware",
        "schedule": f"the top blocks' schedule, its last {ft.int8_epochs} epochs",
        "rounding": "kernels on the per-channel int8 grid"
        + (", activations over calibrated ranges" if ft.int8_activations else "")
        + " (straight-through)",
    }
    if ft.int8_activations:
        record["calibration_features"] = CALIBRATION
    rounding = int8aware.kernel_rounding(int8aware.quantized_kernels(flat), last_epoch=end)
    return Stage(
        StageName.INT8,
        qmodel,
        first,
        ft.int8_epochs,
        ft.batch_size,
        schedule,
        ft.label_smoothing,
        early_stopping=None,
        data=data,
        record=record,
        callbacks=(rounding,),
        # A fresh Adam first moves every weight by about the learning rate whatever its gradient
        # (its moments start at 0): with one, the int8-aware epochs cost 1-2 points of float top-1.
        continues=ft.int8_epochs < ft.epochs,
    )


def plan(rec: RunRecord, built: Built, train: Split, valid: Split, out: Path, bad) -> list[Stage]:
    """The stages of this run, in order."""
    if rec.finetune and rec.finetune["epochs"] and built.upper is not None:
        return _two_stages(rec, built, train, valid, out, bad)
    return [_one_stage(rec, built, train, valid, out, bad)]
