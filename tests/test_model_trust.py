"""Loading a model never runs its code: hostile .pt2 files (tests/hostile_pt2.py) whose payload
would create a marker file are refused in one line by export, doctor and the Python API, and the
marker never appears; a Keras file with a Python lambda is refused the same way."""

from __future__ import annotations

import contextlib

import pytest

from sportsedge import cli

from conftest import torch_export_argv


@pytest.fixture(scope="module")
def hostile(torch_files, tmp_path_factory):
    from hostile_pt2 import write_hostile

    out = tmp_path_factory.mktemp("hostile")
    marker = out / "payload-ran"
    return write_hostile(torch_files["colour"], torch_files["dynamic"], out, marker), marker


@pytest.mark.torch
@pytest.mark.parametrize("variant", ["pickled-weight", "sample-inputs", "shape-expression"])
def test_the_payloads_are_live(hostile, variant, tmp_path):
    """torch.export.load itself runs each of them: the refusals below are what stops them."""
    import torch

    files, marker = hostile
    with contextlib.suppress(Exception):  # some payloads break the load after running
        torch.export.load(str(files[variant]))
    assert marker.exists(), variant
    marker.unlink()


def _one_line(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in err, err
    return last


REASONS = {
    "pickled-weight": "is stored as a pickle",
    "sample-inputs": "is a pickle of more than tensors",
    "opaque-constant": "is a pickled object",
    "shape-expression": "shape expression that is not plain arithmetic",
}


@pytest.mark.torch
@pytest.mark.tensorflow  # export's formats
@pytest.mark.parametrize("variant", sorted(REASONS))
def test_export_refuses_without_running_it(hostile, variant, torch_files, colour_dataset, tmp_path, capsys):
    files, marker = hostile
    argv = torch_export_argv(files[variant], tmp_path / "out", colour_dataset, torch_files["labels"])
    line = _one_line(capsys, argv)
    assert REASONS[variant] in line and "never runs code from a model file" in line, line
    assert str(files[variant]) in line
    assert not marker.exists()


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("variant", sorted(REASONS))
def test_doctor_refuses_without_running_it(hostile, variant, torch_files, colour_dataset, tmp_path, capsys):
    files, marker = hostile
    argv = ["doctor", str(files[variant]), "--labels", str(torch_files["labels"]), "--preprocess", "torch"]
    line = _one_line(capsys, [*argv, "--data", str(colour_dataset / "valid"), "--out", str(tmp_path / "d")])
    assert REASONS[variant] in line, line
    assert not marker.exists()


@pytest.mark.torch
@pytest.mark.parametrize("variant", sorted(REASONS))
def test_the_python_api_refuses_without_running_it(hostile, variant, torch_files, colour_dataset, tmp_path):
    from sportsedge.core.errors import ModelError
    from sportsedge.export import export_torch
    from torch_fixtures import TINY_SIZE

    files, marker = hostile
    with pytest.raises(ModelError, match=REASONS[variant]):
        export_torch(
            str(files[variant]),
            input_size=TINY_SIZE,
            labels=str(torch_files["labels"]),
            calibration=str(colour_dataset / "train"),
            parity_data=str(colour_dataset / "valid"),
            out=tmp_path,
            formats="onnx-fp32",
            say=lambda m: None,
        )
    assert not marker.exists()


@pytest.mark.torch
def test_plain_and_dynamic_programs_pass_the_check(torch_files):
    """The check refuses only what torch.export.save never writes for a plain model."""
    from sportsedge.export import torch_archive

    for name in ("colour", "dynamic", "erfinv", "two-inputs"):
        torch_archive.check(torch_files[name])


@pytest.mark.parametrize(
    ("expr", "plain"),
    [
        ("Symbol('s77', positive=True, integer=True)", True),
        ("Max(2, s0) + FloorDiv(s1, 4)*2 <= 64", True),
        ("-oo", True),
        ("__import__('os').system('x')", False),
        ("s0.__class__", False),
        ("Symbol('a b')", False),
        ("open('x', 'w')", False),
        ("[s0 for s0 in ()]", False),
        ("lambdify(s0, s0)", False),
    ],
)
def test_shape_expressions_allowed_are_plain_arithmetic(expr, plain):
    from sportsedge.export.torch_archive import _plain_expression

    assert _plain_expression(expr) is plain


@pytest.mark.tensorflow
def test_a_keras_lambda_is_refused_without_running_it(colour_dataset, tmp_path, capsys):
    import keras

    marker = tmp_path / "payload-ran"
    inputs = keras.Input((8, 8, 3))
    touched = keras.layers.Lambda(lambda x, m=str(marker): (__import__("builtins").open(m, "w"), x)[1])(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(touched))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    marker.unlink(missing_ok=True)  # building the model ran the lambda once
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    argv = ["export", str(tmp_path / "lambda.keras"), "--labels", str(labels), "--out", str(tmp_path / "out")]
    argv += ["--preprocess", "raw"]
    line = _one_line(capsys, [*argv, "--calibration", str(colour_dataset / "train")])
    assert "holds a Python lambda" in line, line
    assert not marker.exists()
