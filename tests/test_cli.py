"""`sportsedge predict`: output, exit codes, one-line errors, and no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from sportsedge.cli import main

from conftest import COLOURS
from isolation import TIMEOUT_S


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (50, 40), COLOURS["red"]).save(folder / "red.png")
    Image.new("RGB", (32, 32), COLOURS["green"]).save(folder / "sub" / "green.jpg", quality=95)
    Image.new("L", (8, 8), 0).convert("P").save(folder / "sub" / "ignored.gif")
    (folder / "README.txt").write_text("not an image, not looked at\n")
    return folder


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fmt", ["tflite-int8", "onnx-fp32"])
def test_predict_folder_text(fmt, labelled_models, images, capsys):
    code, out, err = _run(capsys, "predict", labelled_models[fmt], images, "--top-k", "2")
    assert code == 0, err
    blocks = out.strip().split("\n")
    assert blocks[0].endswith("red.png") and blocks[1].split()[:2] == ["1.", "red"]
    assert any(line.endswith("green.jpg") for line in blocks)
    assert "README.txt" not in out
    assert len([line for line in blocks if line.lstrip().startswith("1.")]) == 3  # red, gif, green
    assert err == ""


def test_predict_json_lines(labelled_models, images, capsys):
    code, out, _ = _run(
        capsys,
        "predict",
        labelled_models["tflite-fp32"],
        images / "red.png",
        images / "sub" / "green.jpg",
        "--json",
        "--top-k",
        "1",
        "--threads",
        "1",
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["predictions"][0]["label"] for r in rows] == ["red", "green"]
    assert set(rows[0]["predictions"][0]) == {"label", "index", "score"}


def test_bad_inputs_reported_one_line_each_good_ones_still_predicted(labelled_models, images, tmp_path, capsys):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "nothing").mkdir()
    code, out, err = _run(
        capsys,
        "predict",
        labelled_models["onnx-fp32"],
        tmp_path / "missing.jpg",
        tmp_path / "empty.jpg",
        images / "red.png",
        tmp_path / "text.jpg",
        tmp_path / "nothing",
    )
    assert code == 1
    assert "red.png" in out and "1. red" in out
    lines = err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("error: ") for line in lines)
    assert "missing.jpg: no such file" in err and "empty.jpg: empty file" in err
    assert "text.jpg: not an image" in err and "nothing: no image or video files" in err
    assert "Traceback" not in err


def test_bad_model_exits_2_with_one_line(tmp_path, images, capsys):
    model = tmp_path / "broken.tflite"
    model.write_bytes(b"\0\0\0\0TFL3" + b"\x01" * 40)
    code, out, err = _run(capsys, "predict", model, images)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "broken.tflite" in err


def test_unlabelled_model_warns_once(tiny_models, images, capsys):
    code, out, err = _run(capsys, "predict", tiny_models["tflite-fp32"], images / "red.png")
    assert code == 0 and "class_0" in out
    assert err.startswith("warning: ") and "no labels" in err and err.count("\n") == 1


def test_usage_errors_exit_2(labelled_models, images):
    for argv in (["predict"], ["predict", str(labelled_models["onnx-fp32"]), str(images), "--top-k", "0"], []):
        with pytest.raises(SystemExit) as exc:
            if main(argv) == 2:
                raise SystemExit(2)
        assert exc.value.code == 2


def test_help_and_predict_import_nothing_heavy(labelled_models, images):
    code = (
        "import sys\n"
        "from sportsedge.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'PIL', 'tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        f"assert main(['predict', {str(labelled_models['tflite-fp32'])!r}, {str(images)!r}]) == 0\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr


def test_python_dash_m(labelled_models, images):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sportsedge",
            "predict",
            str(labelled_models["onnx-fp32"]),
            str(images / "red.png"),
            "--top-k",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1. red" in proc.stdout


def test_internal_error_exits_3_in_one_line(capsys, monkeypatch):
    import sportsedge.runtime.predict_cli as predict_cli

    def bug(args):
        raise KeyError("oops")

    monkeypatch.setattr(predict_cli, "run", bug)
    code, out, err = _run(capsys, "predict", "m.tflite", "x.jpg")
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and err.startswith("internal error: KeyError") and "SPORTSEDGE_DEBUG" in err
