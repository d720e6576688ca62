"""Workarounds that make `--strategy multi-worker` train with Keras 3 (tests/test_multiworker.py)."""

from __future__ import annotations


def build_from_local_batch(model, strategy, tf) -> None:
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
