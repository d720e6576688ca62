"""Keras's private entry points, behind one door: what `--strategy multi-worker` needs patched to
train with Keras 3 (tests/test_multiworker.py). Each is checked before use; a Keras that renamed
one fails in one line naming it and the version this was tested with. The patches are undone when
the fit is over: nothing stays patched for the rest of the process.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from sportsedge.core.errors import PrivateApiError, version_of

TESTED_WITH = "keras 3.15.1"
TRAINER = "keras.src.backend.tensorflow.trainer"
ALL_REDUCE = "_collective_all_reduce_multi_worker"
BUILD = "_maybe_symbolic_build"


def _require(owner: Any, name: str, where: str) -> None:
    if not hasattr(owner, name):
        raise PrivateApiError(f"{where}.{name}", version_of("keras"), TESTED_WITH, "train with --strategy default")


@contextlib.contextmanager
def multi_worker_fit(model: Any, strategy: Any, tf: Any) -> Iterator[None]:
    """keras-team/keras#20585 (open; Keras 3.15 here): `fit` builds a distributed model from the
    first batch all-reduced across replicas, which MultiWorkerMirroredStrategy cannot do ("Attempt
    to convert a value (PerReplica ...)"). Only the batch's shapes and dtypes matter to that build,
    so it is done from this worker's own part of the batch. The same bug again when fit reduces the
    per-step logs (scalar metrics all-reduced over axis 0): logs are reduced over this worker's
    replicas; gradients are still all-reduced across workers by the optimizer."""
    try:
        trainer = importlib.import_module(TRAINER)
    except ImportError as err:
        raise PrivateApiError(TRAINER, version_of("keras"), TESTED_WITH, "train with --strategy default") from err
    _require(trainer, ALL_REDUCE, TRAINER)
    _require(model, BUILD, "keras.Model")
    _require(model, "_symbolic_build", "keras.Model")

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = next(it)
                break

        def local(x):
            return strategy.experimental_local_results(x)[0] if isinstance(x, tf.distribute.DistributedValues) else x

        with strategy.scope():
            model._symbolic_build(data_batch=tf.nest.map_structure(local, data_batch))

    saved_reduce = getattr(trainer, ALL_REDUCE)
    model_had_own = BUILD in vars(model)
    setattr(model, BUILD, build)
    setattr(trainer, ALL_REDUCE, lambda strategy: False)
    try:
        yield
    finally:
        setattr(trainer, ALL_REDUCE, saved_reduce)
        if not model_had_own:
            delattr(model, BUILD)
