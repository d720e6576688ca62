"""The unoptimized baseline row: the Keras model itself (`bench --keras RUN_DIR`, needs the train extra).

Timed like the artifacts (batch 1, fresh spawned process, same inputs), with TensorFlow's own
thread pools set to the thread count; TensorFlow is only ever imported in that child.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .timing import _peak_rss_mb, percentiles


def measure_keras(run_dir: str, threads: int, timing_px: np.ndarray, image_paths: list[str], all_px: np.ndarray,
                  runs: int, warmup: int, e2e_runs: int) -> dict:
    """Runs in the child: load the run's model.keras, time it, and score all pixels (for accuracy)."""
    from ..runtime.preprocess import load_pixels
    from ..train import require_tensorflow

    tf = require_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    t0 = time.perf_counter_ns()
    model = keras.models.load_model(Path(run_dir) / "model.keras", compile=False)
    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    call(tf.constant(timing_px[:1].astype(np.float32)))  # trace once: part of loading
    load_ns = time.perf_counter_ns() - t0
    inputs = [tf.constant(p[None].astype(np.float32)) for p in timing_px]
    for i in range(warmup):
        call(inputs[i % len(inputs)]).numpy()
    timings, clock = [0] * runs, time.perf_counter_ns
    for i in range(runs):
        x = inputs[i % len(inputs)]
        t = clock()
        call(x).numpy()
        timings[i] = clock() - t
    e2e = [0] * e2e_runs
    size = tuple(int(v) for v in timing_px.shape[1:3])
    for i in range(e2e_runs):
        t = clock()
        call(tf.constant(load_pixels(image_paths[i % len(image_paths)], size)[None].astype(np.float32))).numpy()
        e2e[i] = clock() - t
    probs = model.predict(all_px.astype(np.float32), batch_size=32, verbose=0)
    lat = percentiles(timings)
    return {
        "load_ms": load_ns / 1e6, "latency_ms_p50": lat["p50"], "latency_ms_p90": lat["p90"],
        "latency_ms_p99": lat["p99"], "latency_ms_mean": lat["mean"], "images_per_s": 1000.0 / lat["mean"],
        "e2e_ms_p50": percentiles(e2e)["p50"] if e2e else None, "peak_rss_mb": _peak_rss_mb(),
        "runs": runs, "warmup": warmup, "probs": probs,
    }


def run_info(run_dir: str | Path) -> dict:
    """(model name, labels, input size) of a run, from its config.json (no TensorFlow)."""
    from ..errors import UsageError

    cfg_path = Path(run_dir) / "config.json"
    if not cfg_path.is_file() or not (Path(run_dir) / "model.keras").is_file():
        raise UsageError(f"{run_dir}: not a training run (needs config.json and model.keras)")
    cfg = json.loads(cfg_path.read_text())
    return {"model": cfg["model"], "labels": tuple(cfg["classes"]), "input_size": tuple(cfg["input_size"])}
