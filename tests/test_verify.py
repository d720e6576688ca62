"""The golden check every export carries, and `sportsedge verify` (TF-free on the device side)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sportsedge.cli import main
from sportsedge.formats import FORMATS


def test_every_export_carries_a_golden_check_that_passes_here(exported, capsys):
    from sportsedge.runtime import Classifier

    out, manifest, _ = exported
    paths = [out / name for name in manifest["artifacts"]]
    assert len(paths) == sum(f.in_all for f in FORMATS.values())
    for path in paths:
        clf = Classifier.load(path, verify=True)
        golden = clf.metadata.golden
        assert golden is not None and len(golden.scores) == 2 and len(golden.scores[0]) == 3
        assert golden.atol == FORMATS[clf.metadata.format].verify_atol
    assert main(["verify", *map(str, paths)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(paths) and all(": OK (2 inputs, max |diff|" in line for line in lines)


def _scale_largest_weight(path, factor: float) -> None:
    """Multiply the largest float32 constant tensor of a .tflite file by ``factor``, in place."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    consts = []
    for t in interp.get_tensor_details():
        try:
            value = interp.get_tensor(t["index"])
        except ValueError:  # activations have no data before invoke
            continue
        if value.dtype == np.float32 and value.size > 1:
            consts.append(value)
    weights = max(consts, key=lambda v: v.size)
    data = path.read_bytes()
    at = data.find(weights.tobytes())
    assert at > 0 and data.count(weights.tobytes()) == 1
    path.write_bytes(
        data[:at] + (weights * np.float32(factor)).astype(np.float32).tobytes() + data[at + weights.nbytes :]
    )


def test_altered_weights_fail_in_one_line(exported, tmp_path, capsys):
    from sportsedge.errors import ModelError
    from sportsedge.runtime import Classifier

    out, _, _ = exported
    src = out / "tiny-tflite-fp32.tflite"
    bad = tmp_path / "altered.tflite"
    shutil.copy(src, bad)
    _scale_largest_weight(bad, 1.1)
    assert main(["verify", str(bad), str(src)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "altered.tflite: golden check FAILED" in captured.err
    assert "tiny-tflite-fp32.tflite: OK" in captured.out  # the other model still ran
    with pytest.raises(ModelError, match="golden check FAILED"):
        Classifier.load(bad, verify=True)
    Classifier.load(bad)  # without verify it loads: the check is what catches it


def test_a_model_without_golden_check(labelled_models, capsys):
    assert main(["verify", str(labelled_models["onnx-fp32"])]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "carries no golden check" in err


def test_golden_inputs_are_fixed():
    from sportsedge.runtime.golden import golden_inputs

    x = golden_inputs((4, 5), seed=0)
    assert x.shape == (2, 4, 5, 3) and x.dtype == np.uint8
    assert np.array_equal(x, golden_inputs((4, 5), seed=0)) and not np.array_equal(x, golden_inputs((4, 5), seed=1))
    # The stream is numpy's PCG64, the same on every platform: pin its first values.
    assert x[0, 0, 0].tolist() == [95, 130, 194]
    assert x[1, -1, -1].tolist() == [255, 255, 255] and x[1, 0, 0].tolist() == [0, 0, 0]
