"""One way from an option to a config (core.options): the CLI's options are the configs' fields,
and the CLI, the Python API and the pipeline refuse the same nonsense with the same words."""

from __future__ import annotations

import dataclasses
import re

import pytest

from sportsedge.cli import build_parser, main
from sportsedge.core.errors import UsageError
from sportsedge.core.options import options_of
from sportsedge.pipeline.commands import pipeline_config
from sportsedge.serve.config import ServeConfig
from sportsedge.train.config import PIPELINE_SKIPS, TrainConfig


def _parse(*argv):
    return build_parser().parse_args(list(argv))


def test_label_smoothing_reaches_every_run_of_the_pipeline(tmp_path):
    cfg = pipeline_config(_parse("pipeline", "--data", "d", "--out", "o", "--label-smoothing", "0.1"))
    assert cfg.train.label_smoothing == 0.1
    run = cfg.for_run("mobilenet_v2", 160, tmp_path / "run")
    assert (run.label_smoothing, run.model, run.input_size, run.out) == (
        0.1,
        "mobilenet_v2",
        160,
        str(tmp_path / "run"),
    )


def test_every_training_option_is_a_pipeline_option():
    # A field added to TrainConfig with its option() is taken by `train` and `pipeline` alike.
    train = {a.dest for a in _subparser("train")._actions}
    pipeline = {a.dest for a in _subparser("pipeline")._actions}
    for name in options_of(TrainConfig):
        assert name in train
        assert name in pipeline or name in PIPELINE_SKIPS, name
    assert "resume" not in pipeline and "input_size" not in pipeline


def test_the_pipeline_keeps_training_defaults():
    cfg = pipeline_config(_parse("pipeline", "--data", "d", "--out", "o"))
    assert cfg.train == TrainConfig()


@pytest.mark.parametrize("command", ["train", "pipeline"])
def test_cli_and_api_refuse_the_same_value_with_the_same_rule(command, capsys):
    rule = "must be from 0 up to (not including) 1, got 1"  # the CLI quotes the text, the API the value (1.0)
    extra = ["--model", "cnn"] if command == "train" else []
    with pytest.raises(SystemExit):
        main([command, *extra, "--data", "d", "--out", "o", "--label-smoothing", "1"])
    assert rule in capsys.readouterr().err
    with pytest.raises(UsageError, match=re.escape(f"label_smoothing (--label-smoothing) {rule}")):
        TrainConfig(model="cnn", data="d", out="o", label_smoothing=1.0)


def test_a_config_built_in_python_checks_its_bounds():
    with pytest.raises(UsageError, match=r"workers \(--workers\) must be at least 1, got 0"):
        ServeConfig(model="m.tflite", workers=0)
    assert dataclasses.replace(ServeConfig(model="m.tflite"), workers=3).workers == 3


def _subparser(name):
    parser = build_parser()
    for action in parser._subparsers._group_actions:
        if name in action.choices:
            return action.choices[name]
    raise KeyError(name)
