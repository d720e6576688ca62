"""The unoptimized baseline row: the Keras model itself (`bench --keras RUN_DIR`, needs the train extra).

Timed like the artifacts (batch 1, fresh spawned process, same inputs), with TensorFlow's own
thread pools set to the thread count; TensorFlow is only ever imported in that child.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from sportsedge.bench.timing import TimingJob, time_calls


def measure_keras(job: TimingJob) -> dict:
    """Runs in the child: load the run's model.keras, time it, and score ``job.score_pixels`` (for accuracy)."""
    from sportsedge.runtime.preprocess import load_pixels
    from sportsedge.train import require_tensorflow

    tf = require_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(job.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    t0 = time.perf_counter_ns()
    model = keras.models.load_model(Path(job.path) / "model.keras", compile=False, safe_mode=True)
    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    call(tf.constant(job.pixels[:1].astype(np.float32)))  # trace once: part of loading
    load_ns = time.perf_counter_ns() - t0
    inputs = [tf.constant(p[None].astype(np.float32)) for p in job.pixels]
    size = (int(job.pixels.shape[1]), int(job.pixels.shape[2]))

    def e2e(path):
        return call(tf.constant(load_pixels(path, size)[None].astype(np.float32))).numpy()

    row = time_calls(job, lambda x: call(x).numpy(), inputs, e2e, load_ns)
    if job.score_pixels is not None:  # the first round only
        row["probs"] = model.predict(job.score_pixels.astype(np.float32), batch_size=32, verbose=0)
    return row


def run_info(run_dir: str | Path) -> dict:
    """(model name, labels, input size) of a run, from its config.json (no TensorFlow)."""
    from sportsedge.core.errors import UsageError
    from sportsedge.train.config import RunRecord

    rec = RunRecord.load(run_dir)
    if not (Path(run_dir) / "model.keras").is_file():
        raise UsageError(f"{run_dir}: not a training run (no model.keras)")
    return {"model": rec.model, "labels": rec.classes, "input_size": rec.input_size}
