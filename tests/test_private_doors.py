"""Dependencies' private APIs sit behind one door each (export/tf_private.py, train/keras_private.py,
serve/uvicorn_private.py): checked before use, one line naming the version tested, undone after."""

from __future__ import annotations

import importlib

import pytest

from sportsedge.core.errors import PrivateApiError


@pytest.mark.tensorflow
def test_the_multi_worker_patches_hold_for_the_fit_only():
    import keras

    from sportsedge.train import keras_private as kp
    from sportsedge.train import require_tensorflow

    tf = require_tensorflow()
    trainer = importlib.import_module(kp.TRAINER)
    before = getattr(trainer, kp.ALL_REDUCE)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with kp.multi_worker_fit(model, tf.distribute.get_strategy(), tf):
        assert getattr(trainer, kp.ALL_REDUCE) is not before and kp.BUILD in vars(model)
    assert getattr(trainer, kp.ALL_REDUCE) is before and kp.BUILD not in vars(model)


@pytest.mark.tensorflow
def test_a_keras_without_the_private_entry_point_fails_in_one_line(monkeypatch):
    from sportsedge.train import keras_private as kp
    from sportsedge.train import require_tensorflow

    tf = require_tensorflow()
    monkeypatch.delattr(importlib.import_module(kp.TRAINER), kp.ALL_REDUCE)
    expected = r"keras 3\.\S+ has no .*_collective_all_reduce_multi_worker \(sportsedge was tested with keras 3\.15"
    with pytest.raises(PrivateApiError, match=expected), kp.multi_worker_fit(object(), None, tf):
        pass


def test_a_uvicorn_without_capture_signals_fails_in_one_line(monkeypatch):
    uvicorn = pytest.importorskip("uvicorn", reason="the serve extra")
    from sportsedge.serve import uvicorn_private

    assert uvicorn_private.server_class().capture_signals is not uvicorn.Server.capture_signals
    monkeypatch.delattr(uvicorn.Server, "capture_signals")
    with pytest.raises(PrivateApiError, match=r"has no uvicorn\.Server\.capture_signals \(sportsedge was tested with"):
        uvicorn_private.server_class()


def test_subcommand_parsers_are_told_apart_without_argparse_internals():
    from sportsedge.cli import build_parser

    parser = build_parser()
    assert parser.owns_subcommands
    # `predict MODEL --top-k 1 photo.jpg`: a leaf parser intermixes options and positionals
    args = parser.parse_args(["predict", "m.tflite", "--top-k", "1", "photo.jpg"])
    assert args.paths == ["photo.jpg"] and args.top_k == 1
