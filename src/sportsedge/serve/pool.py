"""Inference for the service: decoder processes, then worker threads with one interpreter each,
behind a bounded queue, and the served model swapped atomically on reload.

A request's image is decoded first, in a decoder process the kernel caps and a deadline kills
(runtime/decoder.py: one decode thread waits on each), then inferred by a worker thread (the
engines release the GIL), so the event loop only moves bytes, a hostile image costs at most one
decoder for one deadline while inference goes on, and the next image decodes while this one is
inferred. A full pool is refused at once (the caller answers 503); a job still queued when its
caller gave up is skipped.

Admission counts jobs in flight (waiting or running) and frees a place the moment a worker sets
its answer: counting only the waiting queue refused a client whose next request arrived before
the worker had picked up the one behind it, at a load the queue was sized for.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sportsedge.core.builtin import resolve
from sportsedge.core.errors import InputError, ModelError
from sportsedge.runtime import Classifier
from sportsedge.runtime.decoder import DecoderPool
from sportsedge.runtime.golden import GoldenResult
from sportsedge.serve.config import ServeConfig
from sportsedge.util import fileio

# Tests only: every job takes this long more, so saturation, timeouts and draining are reached
# by counts on any machine, whatever its speed.
_TEST_DELAY_S = float(os.environ.get("SPORTSEDGE_TEST_INFER_DELAY_S", "0") or 0)


class QueueFull(Exception):
    """Every worker is busy and ``queue_limit`` more requests wait for one."""


@dataclass(frozen=True)
class Served:
    """One loaded model: what a request runs on from start to end, even across a reload."""

    path: Path  # the file
    sha256: str  # of the file's bytes, as `sha256sum` prints it
    classifiers: tuple[Any, ...]  # one Classifier per worker
    golden: GoldenResult | None  # its golden check on this machine; None: the file carries none
    loaded_at: float  # time.time() of the load

    @property
    def ready(self) -> bool:
        """True when the model's golden check passed here (or it carries none)."""
        return self.golden is not None and self.golden.ok

    @property
    def reason(self) -> str:
        """Why the model is not ready (empty when it is)."""
        if self.golden is None:
            return f"{self.path}: carries no golden check, so this machine's engine is unverified"
        return "" if self.golden.ok else f"{self.path}: golden check FAILED ({self.golden.describe()})"


def load_served(path: str | Path, config: ServeConfig) -> Served:
    """``config.workers`` classifiers of one file and its golden check; ModelError for a file that
    cannot be served at all (missing, damaged: its digest is checked at load)."""
    path = resolve(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing labels: the metadata endpoint says so
        classifiers = tuple(Classifier.load(path, threads=config.threads, verify=False) for _ in range(config.workers))
    golden = classifiers[0].verify() if classifiers[0].metadata.golden is not None else None
    return Served(path, fileio.sha256_file(path), classifiers, golden, time.time())


@dataclass
class _Job:
    data: bytes  # the encoded image (dropped once decoded)
    top_k: int
    future: Future[dict[str, Any]]
    queued: float  # time.perf_counter() at submit
    pixels: Any = None  # HxWx3 uint8, once decoded
    decode_s: float = 0.0  # seconds its decode took


class InferencePool:
    """Worker threads, one Classifier each, and the bounded queue of requests waiting for them.

    A request is admitted only while running + waiting < workers + queue_limit (503 past it), so
    an admitted request's wait is bounded; a reload swaps the served model between jobs."""

    def __init__(
        self, served: Served, config: ServeConfig, observe: Callable[[str, float], None] | None = None
    ) -> None:
        self.config = config
        self.served = served  # replaced whole on reload; a worker reads it once per job
        self.home = served.path  # what a reload without a path loads (a fallback copy stands in for it)
        self._decode_queue: queue.Queue[Any] = queue.Queue()  # jobs waiting for a decoder
        self._queue: queue.Queue[Any] = queue.Queue()  # decoded jobs waiting for a worker; bounded by admission
        self._capacity = config.workers + config.queue_limit  # jobs in flight: running + waiting
        self._in_flight = 0
        self._count_lock = threading.Lock()
        self._observe = observe or (lambda name, seconds: None)  # metrics hook: (histogram, seconds)
        self._reload_lock = threading.Lock()
        self.decoders = DecoderPool(config.decode_limits)
        self._decode_threads = [
            threading.Thread(target=self._decode, daemon=True, name=f"sportsedge-decode-{i}")
            for i in range(config.decode_limits.processes)
        ]
        self._threads = [
            threading.Thread(target=self._work, args=(i,), daemon=True, name=f"sportsedge-infer-{i}")
            for i in range(config.workers)
        ]
        for t in self._decode_threads + self._threads:
            t.start()

    def depth(self) -> int:
        """Requests waiting for a decoder or a worker."""
        return self._decode_queue.qsize() + self._queue.qsize()

    def full(self) -> bool:
        """True when a request now would be refused (every worker busy, the queue full)."""
        return self._in_flight >= self._capacity

    def submit(self, data: bytes, top_k: int) -> Future[dict[str, Any]]:
        """Queue one image's classification; QueueFull when the pool is full."""
        with self._count_lock:
            if self._in_flight >= self._capacity:
                raise QueueFull
            self._in_flight += 1
        job = _Job(data, top_k, Future(), time.perf_counter())
        self._decode_queue.put_nowait(job)
        return job.future

    def _done(self) -> None:
        with self._count_lock:
            self._in_flight -= 1

    def _decode(self) -> None:
        """A decode thread: one job at a time through a decoder process, then to the workers."""
        while True:
            job = self._decode_queue.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():  # the caller gave up (timeout)
                self._done()
                continue
            t0 = time.perf_counter()
            try:
                job.pixels = self.decoders.decode(job.data, self.served.classifiers[0].input_size, "<image bytes>")
            except InputError as err:  # ImageTooLarge, DecodeTimeout, DecoderCrashed, a bad image
                job.data = b""
                self._done()
                job.future.set_exception(err)
                continue
            job.data, job.decode_s = b"", time.perf_counter() - t0
            self._queue.put_nowait(job)

    def _work(self, index: int) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            started = time.perf_counter()
            self._observe("queue_wait", started - job.queued - job.decode_s)
            if _TEST_DELAY_S:
                time.sleep(_TEST_DELAY_S)
            served = self.served
            try:
                result = self._classify(served.classifiers[index], job)
            except Exception as err:  # InputError for bad images; anything else reported as a 500
                self._done()
                job.future.set_exception(err)
                continue
            result["model"] = {"name": served.classifiers[index].metadata.model_name, "sha256": served.sha256}
            self._done()  # before the answer: the caller's next request finds its place free
            job.future.set_result(result)

    def _classify(self, clf: Classifier, job: _Job) -> dict[str, Any]:
        pixels = clf.preprocess(job.pixels)  # a no-op, unless a reload changed the input size meanwhile
        t1 = time.perf_counter()
        scores = clf.scores(pixels[None])[0]
        t2 = time.perf_counter()
        self._observe("inference", t2 - t1)
        top = clf.rank(scores, job.top_k)
        return {
            "label": top[0].label,
            "score": top[0].score,
            "top_k": [p._asdict() for p in top],
            "inference_ms": round(1000 * (t2 - t1), 3),
            "preprocess_ms": round(1000 * job.decode_s, 3),
        }

    def reload(self, path: str | Path | None, config: ServeConfig) -> Served:
        """Load ``path`` (default: the served file again), check it, and swap it in only when its
        golden check passes; ModelError says why otherwise, and the old model keeps serving."""
        with self._reload_lock:  # one reload at a time
            new = load_served(path or self.home, config)
            if not new.ready:
                raise ModelError(new.path, f"not swapped in: {new.reason.split(': ', 1)[1]}")
            self.served, self.home = new, new.path  # requests a worker already took finish on the old one
            return new

    def close(self, timeout: float = 5.0) -> None:
        """Stop the decoders and workers after the jobs they hold, waiting at most ``timeout`` s for each."""
        for _ in self._decode_threads:
            self._decode_queue.put_nowait(None)
        for t in self._decode_threads:
            t.join(timeout)
        for _ in self._threads:
            self._queue.put_nowait(None)
        for t in self._threads:
            t.join(timeout)
        self.decoders.close()
