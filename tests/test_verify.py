"""The golden check every export carries, and `sportsedge verify` (TF-free on the device side)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sportsedge.cli import main
from sportsedge.core.formats import FORMATS
from sportsedge.runtime.golden import golden_bound


def test_every_export_carries_a_golden_check_that_passes_here(exported, capsys):
    from sportsedge.runtime import Classifier

    out, manifest, _ = exported
    paths = [out / name for name in manifest["artifacts"]]
    assert len(paths) == sum(f.in_all for f in FORMATS.values())
    for path in paths:
        clf = Classifier.load(path, verify=True)
        golden = clf.metadata.golden
        assert golden is not None and len(golden.scores) == 2 and len(golden.scores[0]) == 3
        fmt = FORMATS[clf.metadata.format]
        assert golden.atol == golden_bound(np.asarray(golden.scores), fmt.verify_atol, fmt.verify_rel)
        assert golden.atol >= fmt.verify_atol
    assert main(["verify", *map(str, paths)]) == 0
    *lines, summary = capsys.readouterr().out.splitlines()
    assert len(lines) == len(paths) and all(": OK (2 inputs, max |diff|" in line for line in lines)
    assert summary == f"all {len(paths)} passed"


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


def test_altered_weights_fail_at_load_through_the_digest(exported, tmp_path, capsys):
    from sportsedge.core.errors import ModelError
    from sportsedge.runtime import Classifier

    out, _, _ = exported
    src = out / "tiny-tflite-fp32.tflite"
    bad = tmp_path / "altered.tflite"
    shutil.copy(src, bad)
    _scale_largest_weight(bad, 1.1)
    assert main(["verify", str(bad), str(src)]) == 1
    captured = capsys.readouterr()
    assert (
        captured.err.count("\n") == 1 and "altered.tflite: damaged: its bytes do not match the digest" in captured.err
    )
    assert "tiny-tflite-fp32.tflite: OK" in captured.out  # the other model still ran
    for verify in (True, False):  # the digest is checked with or without the golden check
        with pytest.raises(ModelError, match="do not match the digest"):
            Classifier.load(bad, verify=verify)


def test_an_engine_that_computes_something_else_fails_the_golden_check(exported, tmp_path, capsys):
    """The digest proves the bytes; the golden check proves the engine. Altered weights sealed anew
    stand in for an engine whose kernels compute something else: only the golden check sees it."""
    from sportsedge.core.errors import ModelError
    from sportsedge.runtime import Classifier, attach_metadata

    out, _, _ = exported
    src = out / "tiny-tflite-fp32.tflite"
    bad = tmp_path / "miscomputed.tflite"
    shutil.copy(src, bad)
    meta = Classifier.load(src).metadata
    _scale_largest_weight(bad, 1.1)
    attach_metadata(bad, meta, sidecar=False)  # a valid seal over the altered bytes, the old golden scores
    assert main(["verify", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "miscomputed.tflite: golden check FAILED" in err
    with pytest.raises(ModelError, match="golden check FAILED"):
        Classifier.load(bad)  # verify=True is the default
    assert Classifier.load(bad, verify=False).sealed  # skipping the golden check loads it


def test_a_model_without_golden_check(tiny_models, tmp_path, capsys):
    from sportsedge.runtime import ModelMetadata, attach_metadata

    path = tmp_path / "plain.onnx"
    shutil.copy(tiny_models["onnx-fp32"], path)
    attach_metadata(path, ModelMetadata(labels=("red", "green", "blue")))
    assert main(["verify", str(path)]) == 1
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


def test_verify_takes_folders_one_line_per_file_and_a_summary(labelled_models, tiny_models, tmp_path, capsys):
    from sportsedge.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["verify", str(labelled_models["onnx-fp32"].parent), str(tiny_models["onnx-fp32"]), str(empty)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count(": OK (") == 3 and out.splitlines()[-1] == "3 passed, 2 failed"
    assert f"error: {empty}: no .tflite or .onnx files in this folder" in err
    assert f"`sportsedge label {tiny_models['onnx-fp32']} --labels labels.txt" in err  # the fix for a foreign file


def test_a_file_without_our_metadata_says_what_is_assumed(tiny_models, capsys):
    import pytest

    from sportsedge.runtime import Classifier, MissingLabelsWarning

    with pytest.warns(MissingLabelsWarning) as caught:
        Classifier.load(tiny_models["onnx-fp32"])
    text = str(caught[0].message)
    assert "raw RGB 0..255 pixels assumed as its input" in text and "sportsedge label" in text
