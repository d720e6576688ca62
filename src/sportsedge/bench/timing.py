"""Latency and memory of one artifact, measured in a fresh child process.

Each (artifact, threads) pair runs in its own spawned process so that one model's memory or
warm caches cannot inflate another's numbers; peak RSS is that process's high-water mark
(Python, numpy, the engine, the model and its buffers: what a device would pay).
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sportsedge.bench.media import MediaSet


@dataclass(frozen=True)
class TimingJob:
    """What one child process measures (pickled across the process boundary)."""

    path: str  # the model file; for the Keras baseline, the run folder
    threads: int  # inference threads
    pixels: np.ndarray  # preprocessed uint8 images (N, H, W, 3) the timed inferences cycle through
    image_paths: tuple[str, ...]  # image files for the end-to-end timings
    runs: int  # timed inferences (in this round)
    warmup: int  # untimed inferences first
    e2e_runs: int  # end-to-end timings from a file
    score_pixels: np.ndarray | None = None  # Keras baseline: also return its outputs on these
    media: MediaSet | None = None  # the camera-size JPEG and 1080p clip; None = no such columns
    camera_runs: int = 0  # predict() calls on the camera-size JPEG (with media)
    throughput_images: int = 0  # images classified by `threads` classifiers in as many threads; 0 = skip

    def later_round(self) -> TimingJob:
        """Rounds after the first time latency and throughput again, not the once-per-row extras."""
        return replace(self, e2e_runs=0, media=None, camera_runs=0, score_pixels=None)


def percentiles(ns: list[int]) -> dict:
    ms = np.asarray(ns, dtype=np.float64) / 1e6
    return {
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
    }


def _peak_rss_mb() -> float:
    # Linux: VmHWM belongs to this process image; ru_maxrss would also count the parent's
    # pages that the spawning fork touched before exec.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def measure(job: TimingJob) -> dict:
    """Runs in the child: load, time inference on preprocessed inputs, then end-to-end from files."""
    from sportsedge.core.outputs import probabilities
    from sportsedge.runtime import Classifier

    t0 = time.perf_counter_ns()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(job.path, threads=job.threads, verify=False)  # bench verified it once
    load_ns = time.perf_counter_ns() - t0
    # Inputs converted to the model's dtype up front: the loop times inference and the output rule
    # (the float softmax of files that end at logits: part of what a user's call costs).
    inputs = [clf.to_input(p[None]) for p in job.pixels]

    def infer(x):
        return probabilities(clf.infer(x), clf.output)

    row = time_calls(job, infer, inputs, lambda p: clf.predict(p, top_k=5), load_ns)  # peak RSS taken here
    if job.throughput_images:
        row.update(throughput(job))
    if job.media is not None:
        from sportsedge.bench.media import measure_media

        row.update(measure_media(clf, job.media, job.camera_runs))
    return row


def time_calls(job: TimingJob, infer, inputs: list, e2e, load_ns: int) -> dict:
    """The timing fields of a row: ``infer`` on prepared inputs, ``e2e`` on the job's image files."""
    runs, warmup, e2e_runs, image_paths = job.runs, job.warmup, job.e2e_runs, job.image_paths
    n_in, clock = len(inputs), time.perf_counter_ns
    for i in range(warmup):
        infer(inputs[i % n_in])
    timings = [0] * runs
    for i in range(runs):
        x = inputs[i % n_in]
        t = clock()
        infer(x)
        timings[i] = clock() - t
    e2e_ns = [0] * e2e_runs
    for i in range(e2e_runs):
        p = image_paths[i % len(image_paths)]
        t = clock()
        e2e(p)
        e2e_ns[i] = clock() - t
    return {
        "timings_ns": timings,
        "load_ms": load_ns / 1e6,
        "e2e_ms_p50": percentiles(e2e_ns)["p50"] if e2e_ns else None,
        "peak_rss_mb": _peak_rss_mb(),
    }


def throughput(job: TimingJob) -> dict:
    """Measured images per second, end to end from decoded pixels (input conversion, inference,
    output rule): ``job.threads`` classifiers in as many threads over ``job.throughput_images``
    images; for ONNX Runtime also one session shared by those threads."""
    from sportsedge.runtime import Classifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = [Classifier.load(job.path, threads=1, verify=False) for _ in range(job.threads)]
    out = {"throughput_img_s": _images_per_s(own, job), "throughput_files_img_s": _files_per_s(own, job)}
    if own[0].thread_safe and job.threads > 1:
        out["throughput_shared_img_s"] = _images_per_s([own[0]] * job.threads, job)
    return out


def _files_per_s(classifiers: list, job: TimingJob) -> float:
    """Images per second from the image files: the decoder pool decodes ahead while the
    classifiers infer (runtime/folder.py, what `predict` does with a folder)."""
    from sportsedge.runtime.decoder import shared_pool
    from sportsedge.runtime.folder import classify_all

    paths = [Path(job.image_paths[i % len(job.image_paths)]) for i in range(job.throughput_images)]
    list(classify_all(classifiers, paths[: 2 * len(classifiers)], shared_pool()))  # start the decoders
    t0 = time.perf_counter()
    for scores in classify_all(classifiers, paths, shared_pool()):
        if isinstance(scores, Exception):
            raise scores
    return len(paths) / (time.perf_counter() - t0)


def _images_per_s(classifiers: list, job: TimingJob) -> float:
    pixels, count, workers = job.pixels, job.throughput_images, len(classifiers)
    for clf in classifiers:
        clf.scores(pixels[:1])  # warm each engine up

    def work(k: int) -> None:
        clf = classifiers[k]
        for i in range(k, count, workers):
            clf.scores(pixels[i % len(pixels)][None])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    return count / (time.perf_counter() - t0)


def measure_in_child(fn, job: TimingJob) -> dict:
    """fn(job) (measure, or another module-level function) in a fresh spawned interpreter."""
    pool = multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1)
    try:
        return pool.apply(fn, (job,))
    finally:  # wait for the child to exit, so its teardown cannot overlap the next measurement
        pool.close()
        pool.join()
