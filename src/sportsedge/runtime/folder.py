"""Many images through one model at the machine's pace: the decoder pool (runtime/decoder.py)
decodes ahead while interpreters infer, one interpreter per free core, answers in input order.

On 2 cores, one after the other, mobilenet_v2_ft int8 at 1 thread spent 0.85 ms decoding and
4.1 ms inferring a 224-px JPEG: overlapping decode with one interpreter could give at most 1.2x;
a second interpreter on the second core gives the rest (docs/guides/benchmarks.md has the figures).
"""

from __future__ import annotations

import os
import queue
import warnings
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sportsedge.core.decoding import MAX_WORKERS
from sportsedge.core.errors import InputError
from sportsedge.runtime.classifier import Classifier
from sportsedge.runtime.decoder import DecoderPool, shared_pool


def default_workers(threads: int | None) -> int:
    """Interpreters for a folder: one per ``threads`` cores; one when the engine picks its own threads."""
    if threads is None:
        return 1
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 1) // threads))


def interpreters(clf: Classifier, workers: int, threads: int | None) -> list[Classifier]:
    """``clf`` and ``workers - 1`` more interpreters of the same file, at ``threads`` engine threads."""
    with warnings.catch_warnings():  # the first load said what there was to say about the file
        warnings.simplefilter("ignore")
        more = [Classifier.load(clf.path, threads=threads, verify=False) for _ in range(max(1, workers) - 1)]
    return [clf, *(c.with_metadata(clf.metadata) for c in more)]


def classify_all(
    classifiers: Sequence[Classifier], paths: Iterable[Path], pool: DecoderPool | None = None
) -> Iterator[np.ndarray | InputError]:
    """Each image's probabilities (classes,) or its InputError, in the order of ``paths``: the
    classifiers (interpreters of one file, see :func:`interpreters`) infer at once while the
    decoder pool decodes the images after them."""
    decoded = (pool or shared_pool()).imap(list(paths), classifiers[0].input_size)
    idle: queue.Queue[Classifier] = queue.Queue()
    for clf in classifiers:
        idle.put(clf)

    def infer(pixels: np.ndarray) -> np.ndarray:
        own = idle.get()
        try:
            scores: np.ndarray = own.scores(pixels[None])[0]
            return scores
        finally:
            idle.put(own)

    ahead = 2 * len(classifiers)
    with ThreadPoolExecutor(len(classifiers), thread_name_prefix="sportsedge-infer") as ex:
        pending: list[Future[np.ndarray] | InputError] = []
        for item in decoded:
            pending.append(item if isinstance(item, InputError) else ex.submit(infer, item))
            if len(pending) >= ahead:
                yield _result(pending.pop(0))
        while pending:
            yield _result(pending.pop(0))


def _result(item: Future[np.ndarray] | InputError) -> np.ndarray | InputError:
    return item if isinstance(item, InputError) else item.result()
