"""PyTorch models in: the colour classifier built by tests/torch_fixtures.py, saved as a torch.export
program, exported to every post-training format and checked against PyTorch; then verify, predict,
bench, serve and doctor on what came out, and one line for each file export must refuse."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from sportsedge import cli
from sportsedge.core.formats import FORMATS, Status, format_groups

from conftest import LABELS, solid, torch_export_argv

pytestmark = [pytest.mark.tensorflow, pytest.mark.torch]  # export needs the train extra, the source torch

TORCH_FORMATS = [f.name for f in format_groups()["all"]]


def test_every_format_is_checked_against_pytorch_and_passes(torch_export):
    out, manifest = torch_export
    entries = {e["format"]: e for e in manifest["artifacts"].values()}
    assert sorted(entries) == sorted(TORCH_FORMATS)
    for fmt, entry in entries.items():
        assert entry["status"] == Status.PASSED, (fmt, entry["parity"])
        assert entry["source_kind"] == "torch"
        assert entry["parity"]["agreement"] == 1.0 and entry["parity"]["top1_export"] == 1.0
    assert entries["tflite-fp32"]["parity"]["max_abs_diff"] < FORMATS["tflite-fp32"].max_abs_diff
    assert entries["onnx-fp32"]["parity"]["max_abs_diff"] < FORMATS["onnx-fp32"].max_abs_diff


def test_files_carry_labels_input_spec_preprocessing_and_a_golden_check(torch_export):
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.graph import tflite_ops

    out, manifest = torch_export
    for name, entry in manifest["artifacts"].items():
        clf = Classifier.load(out / name)  # digests, then the golden check on this machine
        assert clf.labels == LABELS and clf.input_size == (32, 32)
        assert clf.metadata.extra["source_kind"] == "torch"
        assert clf.metadata.extra["model_preprocess"]["name"] == "torch"
        assert clf.metadata.golden is not None
        assert np.dtype(clf.input_dtype) == np.dtype(FORMATS[entry["format"]].input_dtype)
    ops = tflite_ops(out / "colour-tflite-int8.tflite")
    names = {op.name for op in ops}
    assert "DEQUANTIZE" not in names and {"CONV_2D", "FULLY_CONNECTED"} <= names  # all int8, uint8 in


def test_verify_predict_and_bench_take_them_unchanged(torch_export, colour_dataset, tmp_path, capsys):
    out, manifest = torch_export
    assert cli.main(["verify", str(out)]) == 0
    assert f"all {len(manifest['artifacts'])} passed" in capsys.readouterr().out
    for name in manifest["artifacts"]:
        assert cli.main(["predict", str(out / name), str(colour_dataset / "test" / "green" / "0.jpg")]) == 0
        assert "1. green" in " ".join(capsys.readouterr().out.split()), name
    bench = tmp_path / "bench"
    argv = ["bench", str(out), "--data", str(colour_dataset / "test"), "--out", str(bench), "--threads", "1"]
    assert cli.main([*argv, "--rounds", "1", "--runs", "5", "--warmup", "1"]) == 0
    rows = json.loads((bench / "results.json").read_text())["rows"]
    assert sorted(r["format"] for r in rows) == sorted(TORCH_FORMATS)
    assert all(r["top1"] == 1.0 for r in rows)


@pytest.mark.parametrize("name", ["colour-tflite-int8.tflite", "colour-onnx-int8.onnx"])
def test_serve_answers_with_a_pytorch_made_int8_file(torch_export, name):
    import io

    import httpx
    from PIL import Image

    pytest.importorskip("uvicorn", reason="the serve extra")
    from test_serve import Server  # TensorFlow blocked in the server's process, as on a device

    out, _ = torch_export
    server = Server(out / name)
    try:
        buf = io.BytesIO()
        Image.fromarray(solid("blue")).save(buf, "PNG")
        answer = httpx.post(server.url + "/v1/classify", content=buf.getvalue(), headers={"Content-Type": "image/png"})
        assert answer.status_code == 200 and answer.json()["label"] == "blue"
    finally:
        assert server.stop()[0] == 0


def test_the_python_api_exports_an_nn_module(colour_dataset, torch_files, tmp_path):
    from sportsedge.export import export_torch
    from torch_fixtures import colour_module

    manifest = export_torch(
        colour_module(),
        input_size=32,
        labels=str(torch_files["labels"]),
        calibration=str(colour_dataset / "train"),
        parity_data=str(colour_dataset / "valid"),
        out=tmp_path,
        formats="tflite-int8,onnx-fp32",
        say=lambda m: None,
    )
    assert {e["status"] for e in manifest["artifacts"].values()} == {Status.PASSED}
    assert sorted(manifest["artifacts"]) == ["Colour-onnx-fp32.onnx", "Colour-tflite-int8.tflite"]


def test_float_layers_name_pytorch_submodules_in_both_families(torch_export, torch_files, colour_dataset, tmp_path):
    out = tmp_path / "mixed"
    argv = torch_export_argv(
        torch_files["colour"], out, colour_dataset, torch_files["labels"], "--float-layers", "head"
    )
    assert cli.main([*argv, "--formats", "tflite-int8,onnx-int8"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["artifacts"].values():
        assert entry["float_layers"] == ["head"] and entry["status"] == Status.PASSED
    from sportsedge.runtime.graph import tflite_ops

    assert "DEQUANTIZE" in {op.name for op in tflite_ops(out / "colour-tflite-int8.tflite")}  # head runs in float


def test_a_dynamic_batch_is_converted_for_one_image_and_said_so(torch_files, colour_dataset, tmp_path, capsys):
    argv = torch_export_argv(
        torch_files["dynamic"], tmp_path, colour_dataset, torch_files["labels"], "--formats", "tflite-fp32"
    )
    assert cli.main(argv) == 0
    assert "dynamic batch: converted for one image at a time" in capsys.readouterr().err


def _error_line(capsys, argv) -> str:
    """The error line of a refused export (progress lines may come before it, nothing after)."""
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    *before, last = err.splitlines()
    assert last.startswith("error: ") and "Traceback" not in err and "warning" not in err, err
    assert all(line.endswith("converting ...") for line in before), err
    return last


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("state", "is a state dict"),
        ("scripted", "is a TorchScript file"),
        ("whole", "is a pickled whole module"),
        ("erfinv", "uses erfinv, which litert-torch"),
        ("two-inputs", "has 2 inputs and 1 outputs"),
    ],
)
def test_what_export_cannot_take_is_one_line(torch_files, colour_dataset, tmp_path, capsys, name, expected):
    err = _error_line(
        capsys, torch_export_argv(torch_files[name], tmp_path / "out", colour_dataset, torch_files["labels"])
    )
    assert expected in err
    if name in ("state", "scripted", "whole"):  # with what to save instead
        assert "torch.export.save(ep, 'model.pt2')" in err
    assert not list(tmp_path.rglob("*.tflite")) and not list(tmp_path.rglob("*.tmp*"))  # nothing half-written


def test_labels_that_do_not_match_the_outputs_are_one_line(torch_files, colour_dataset, tmp_path, capsys):
    two = tmp_path / "two.txt"
    two.write_text("red\ngreen\n")
    err = _error_line(capsys, torch_export_argv(torch_files["colour"], tmp_path / "out", colour_dataset, two))
    assert "outputs 3 scores but --labels" in err and "names 2 classes" in err


def test_no_torch_is_one_line_naming_the_extra(torch_files, colour_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    err = _error_line(
        capsys, torch_export_argv(torch_files["colour"], tmp_path / "out", colour_dataset, torch_files["labels"])
    )
    assert 'torch is not installed: pip install "sportsedge[torch]"' in err


def test_qat_is_refused_for_a_pytorch_model(torch_files, colour_dataset, tmp_path, capsys):
    argv = torch_export_argv(torch_files["colour"], tmp_path / "out", colour_dataset, torch_files["labels"], "--qat")
    assert "a PyTorch model has no QAT format here, not tflite-int8-qat" in _error_line(capsys, argv)


def test_doctor_names_pytorch_layers(torch_files, colour_dataset, tmp_path):
    from torch_fixtures import TORCH_LAYERS

    out = tmp_path / "doctor"
    argv = ["doctor", str(torch_files["colour"]), "--labels", str(torch_files["labels"]), "--preprocess", "torch"]
    assert cli.main([*argv, "--data", str(colour_dataset / "valid"), "--out", str(out), "--images", "9"]) == 0
    report = json.loads((out / "doctor.json").read_text())
    assert [f["format"] for f in report["families"]] == ["tflite-int8", "onnx-int8"]
    for family in report["families"]:  # the pixel transform's ops: "pixels" (TFLite), /Mul, /Add (ONNX)
        names = {la["name"] for la in family["layers"] if la["name"] != "pixels" and not la["name"].startswith("/")}
        assert "head" in names and names <= set(TORCH_LAYERS), (family["format"], names)


def test_a_file_the_runtime_cannot_run_fails_its_parity_check_in_one_line(
    torch_files, colour_dataset, tmp_path, capsys, monkeypatch
):
    """As a quantizer's file that XNNPACK refuses ("failed to prepare"): FAILED, said, no fallback."""
    from sportsedge.core.errors import ModelError
    from sportsedge.export import parity

    real = parity.Classifier.load

    def refusing(path, *args, **kwargs):
        if ".tflite" in str(path):
            raise ModelError(path, "not a loadable TFLite model (Node number 3 (XNNPACK) failed to prepare)")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(parity.Classifier, "load", refusing)
    argv = torch_export_argv(
        torch_files["colour"], tmp_path, colour_dataset, torch_files["labels"], "--remedies", "none"
    )
    assert cli.main([*argv, "--formats", "tflite-int8"]) == 1
    err = capsys.readouterr().err
    assert "colour-tflite-int8.tflite: parity check FAILED (this machine's runtime cannot run it" in err
    assert "failed to prepare" in err and "Traceback" not in err
    entry = json.loads((tmp_path / "manifest.json").read_text())["artifacts"]["colour-tflite-int8.tflite"]
    assert entry["status"] == Status.FAILED and entry["parity"]["loads"] is False
