"""`sportsedge train`: fit a registered model on a dataset folder and write a run folder.

A run folder holds model.keras, labels.txt, config.json, history.json, history.png and
eval-<split>/ reports. While training, ``checkpoint.weights.h5`` + ``state.json`` are written
after every epoch (atomically), so Ctrl-C or a crash loses at most the epoch in flight and
``--resume`` continues from there (weights, optimizer state, epoch count and history).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

from sportsedge.core.errors import UsageError
from sportsedge.train.config import STRATEGIES, RunRecord, TrainConfig
from sportsedge.train.data import BadImageLog, limit_split, scan_dataset
from sportsedge.train.evaluate import evaluate_model
from sportsedge.train.keras_private import multi_worker_fit
from sportsedge.train.models import get_model
from sportsedge.train.stages import Stage, plan
from sportsedge.util import fileio
from sportsedge.util.envinfo import environment
from sportsedge.util.progress import fmt_seconds

log = logging.getLogger("sportsedge.train")

BEST_WEIGHTS = "early_stopping_best.npz"  # early stopping's best weights while a run is in progress
CHECKPOINT = "checkpoint.weights.h5"  # the weights and optimizer state of the stage named in state.json


def _save_checkpoint(out: Path, stage: Stage, state: dict) -> None:
    """The stage's weights, then state.json naming it: what --resume continues from."""
    with fileio.atomic_path(out / CHECKPOINT) as tmp:
        stage.model.save_weights(str(tmp))
    fileio.write_json(out / "state.json", {**state, "stage": stage.name})


def _epoch_callback(
    keras,
    out: Path,
    stage: Stage,
    total_epochs: int,
    history: dict,
    data_seconds: dict,
    say,
    stopper=None,
    resumed=None,
):
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
            # This stage's epochs only: a head epoch on cached features takes 0.1 s, a top-blocks epoch 15 s.
            recent = history["seconds"][max(stage.first_epoch, done - 3) : done]
            eta = (stage.end - done) * sum(recent) / len(recent)
            shown = "  ".join(
                f"{k} {logs[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in logs
            )
            state = {"epoch": done, "history": history, "data_seconds": data_seconds}
            if stopper is not None and stopper.best is not None:
                state["early_stopping"] = {
                    "wait": stopper.wait,
                    "best": float(stopper.best),
                    "best_epoch": stopper.best_epoch,
                }
                if stopper.best_weights is not None and stopper.best_epoch == epoch:  # a new best: keep it
                    with fileio.atomic_path(out / BEST_WEIGHTS) as tmp, open(tmp, "wb") as f:
                        np.savez(f, **{f"w{i}": w for i, w in enumerate(stopper.best_weights)})
            _save_checkpoint(out, stage, state)
            say(
                f"epoch {done}/{total_epochs} [{stage.name}]  {shown}  "
                f"{history['seconds'][-1]:.1f}s  {'stage ' if stage.end < total_epochs else ''}ETA {fmt_seconds(eta)}"
            )

    return EpochEnd()


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
    state = _start_state(config, out)
    ds = scan_dataset(config.data, require=("train", "valid"))
    train_split = limit_split(ds.split("train"), config.limit_per_class)
    valid_split = limit_split(ds.split("valid"), config.limit_per_class)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    rec = rec.replace(initial_epoch=state["epoch"])
    bad = BadImageLog()
    t_wall = time.monotonic()
    strategy = STRATEGIES[config.strategy][0](tf)
    entry = get_model(config.model)
    name = entry.variant(rec.input_size)  # "mobilenet_v2_ft-160" at another size than its own
    with strategy.scope():
        built = entry.make(len(ds.classes), rec.weights, rec.input_size)
        stages = plan(rec, built, train_split, valid_split, out, bad)
    say(
        f"{name}: {len(ds.classes)} classes, {len(train_split)} train / {len(valid_split)} valid images, "
        f"weights {rec.weights}, cache_features {rec.cache_features}; "
        + "; ".join(f"{s.name}: {s.epochs} epochs, batch {s.batch_size}" for s in stages)
    )
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if multi_worker:
        _check_multi_worker_batches(stages, len(train_split))
    fit_wall = _fit_stages(config, out, stages, state, strategy, multi_worker, say)
    rec = _finished_record(rec, stages, state, fit_wall, time.monotonic() - t_wall, bad, ds)
    save_run(out, built.model, rec, state["history"])
    for split in dict.fromkeys(("valid", ds.eval_split)):
        m = evaluate_model(built.model, out, ds, split, rec, limit_per_class=config.limit_per_class)
        say(
            f"{name} on {split}/: top-1 {m['top1']:.4f}  top-5 {m['top5']:.4f}  "
            f"macro-F1 {m['macro_f1']:.4f}  ({m['n']} images) -> {out / f'eval-{split}'}"
        )
    return out


def _start_state(config: TrainConfig, out: Path) -> dict:
    """The run folder's saved progress (epoch, history, ...) for --resume, or a fresh start;
    refuses an --out that holds a finished or an interrupted run it was not told to resume."""
    state_path = out / "state.json"
    if (out / "model.keras").exists() and not config.resume:
        raise UsageError(f"{out}: already holds a trained model; choose another --out")
    if config.resume and (out / "model.keras").exists() and not state_path.exists():
        raise UsageError(f"{out}: this run finished (model.keras is there); nothing to resume")
    if state_path.exists() and not config.resume:
        raise UsageError(f"{out}: holds an interrupted run; add --resume to continue it or choose another --out")
    state = json.loads(state_path.read_text()) if config.resume and state_path.exists() else {"epoch": 0, "history": {}}
    state.setdefault("data_seconds", {})
    return state


def _check_multi_worker_batches(stages, train_images: int) -> None:
    for stage in stages:
        if train_images % stage.batch_size:  # measured: a short last batch leaves a worker empty
            raise UsageError(
                f"--strategy multi-worker needs --batch-size to divide the {train_images} training images "
                f"(got {stage.batch_size}; Keras 3 fails on a short last batch across workers)"
            )


def _fit_stages(config: TrainConfig, out: Path, stages, state: dict, strategy, multi_worker: bool, say) -> float:
    """Fit every stage not finished yet, resuming inside the one a checkpoint was written in;
    returns the seconds spent in fit this session. ``state`` is updated as epochs finish."""
    import keras
    import tensorflow as tf

    history, data_seconds = state["history"], state["data_seconds"]
    # The checkpoint holds the weights (and optimizer state) of the stage that wrote it; runs from
    # before stages existed had one stage.
    checkpoint = out / CHECKPOINT
    resumed_stage = state.get("stage", stages[0].name) if config.resume and checkpoint.exists() else None
    done, fit_wall, total = state["epoch"], 0.0, stages[-1].end
    optimizer = None  # the last compiled stage's, for a stage that continues it
    for stage in stages:
        if done >= stage.end and stage.name != resumed_stage:
            continue
        with strategy.scope():
            # Resumed inside a continuing stage, a fresh optimizer gets the checkpoint's state.
            if not (stage.continues and optimizer is not None):
                optimizer = keras.optimizers.Adam(stage.learning_rate)
            stage.model.compile(
                optimizer=optimizer,
                loss=_loss(keras, stage.label_smoothing),
                weighted_metrics=["accuracy"],
                jit_compile=config.jit_compile,
            )
        # The multi-worker patches hold for this stage's fit only (train/keras_private.py).
        with multi_worker_fit(stage.model, strategy, tf) if multi_worker else contextlib.nullcontext():
            if stage.name == resumed_stage:
                stage.model.optimizer.build(stage.model.trainable_variables)  # so Adam's moments load too
                stage.model.load_weights(str(checkpoint))
                say(f"resuming after epoch {done}" + (f" ({stage.name})" if len(stages) > 1 else ""))
            if done >= stage.end:
                continue
            first = max(done, stage.first_epoch)
            t0 = time.monotonic()
            train_ds, valid_ds, steps = stage.data(first)
            data_seconds[stage.name] = data_seconds.get(stage.name, 0.0) + time.monotonic() - t0
            stopper = None
            if stage.early_stopping:
                stopper = keras.callbacks.EarlyStopping(
                    "val_loss", patience=stage.early_stopping, restore_best_weights=True
                )
            resumed = state.get("early_stopping") if stage.name == resumed_stage else None
            progress = _epoch_callback(keras, out, stage, total, history, data_seconds, say, stopper, resumed)
            # The stopper and the stage's own callbacks first: progress saves their state.
            callbacks = [c for c in (stopper, *stage.callbacks, progress) if c is not None]
            t0 = time.monotonic()
            _fit(stage, train_ds, valid_ds, first, steps, callbacks, out, say)
            fit_wall += time.monotonic() - t0
            done = stage.end
            if len(stages) > 1:
                # The stage is over (early stopping may have restored its best weights): the next starts here.
                _save_checkpoint(out, stage, {"epoch": done, "history": history, "data_seconds": data_seconds})
                resumed_stage = stage.name
    return fit_wall


def _fit(stage, train_ds, valid_ds, first: int, steps, callbacks, out: Path, say) -> None:
    try:
        with warnings.catch_warnings():
            # Unreadable images are dropped from the validation stream, so its length is
            # unknown until Keras has run it once and says "ran out of data": expected here.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            stage.model.fit(
                train_ds,
                validation_data=valid_ds,
                epochs=stage.end,
                initial_epoch=first,
                steps_per_epoch=steps,
                callbacks=callbacks,
                shuffle=False,
                verbose=0,
            )
    except KeyboardInterrupt:
        state_path = out / "state.json"
        saved = json.loads(state_path.read_text())["epoch"] if state_path.exists() else 0
        say(f"interrupted: checkpoint after epoch {saved} kept in {out}; continue with --resume")
        raise


def _finished_record(rec: RunRecord, stages, state: dict, fit_wall: float, wall: float, bad, ds) -> RunRecord:
    """The run's record with what training measured: times per stage, bad images, classes."""
    seconds = state["history"].get("seconds", [])
    data_seconds = state["data_seconds"]
    return rec.replace(
        fit_seconds=fit_wall + sum(seconds[: rec.initial_epoch]),
        train_wall_seconds=wall,  # this session: build + feature caching + fit
        stages=[
            {
                "name": s.name,
                **s.record,
                "epochs": s.epochs,
                "data_seconds": round(data_seconds.get(s.name, 0.0), 1),
                "fit_seconds": round(sum(seconds[s.first_epoch : s.end]), 1),
            }
            for s in stages
        ],
        bad_images=bad.seen,
        classes=tuple(ds.classes),
        environment=environment(),
    )


def save_run(out: Path, model, rec: RunRecord, history: dict) -> None:
    from sportsedge.train.plots import history_plot

    with fileio.atomic_path(out / "model.keras") as tmp:
        model.save(str(tmp))
    fileio.write_text(out / "labels.txt", "".join(f"{c}\n" for c in rec.classes))
    rec.save(out)
    fileio.write_json(out / "history.json", history)
    history_plot(history, out / "history.png", title=rec.model)
    for leftover in ("state.json", CHECKPOINT, BEST_WEIGHTS):
        (out / leftover).unlink(missing_ok=True)
    # Cached features serve only a resume (up to 1 GB per view for a two-stage model at full size).
    shutil.rmtree(out / "cache", ignore_errors=True)
