"""A converter's native crash fails its format in one line, the others go on, the manifest says
which (export/isolated.py); a file that failed parity is kept out of the way and says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tensorflow  # exports: needs the train extra

TESTS = Path(__file__).resolve().parent


def segfault(ctx, tell):
    """A converter that dies as litert-torch did on ResNet-18: a segmentation fault."""
    os.kill(os.getpid(), signal.SIGSEGV)


def test_a_converter_segfault_is_one_failed_format_and_a_manifest(tiny_run, tmp_path):
    out = tmp_path / "out"
    # A child Python: on the old code the crash took the whole process down (here it would be pytest).
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
        "from dataclasses import replace\n"
        "from sportsedge.core.formats import FORMATS\n"
        "FORMATS['tflite-fp16'] = replace(FORMATS['tflite-fp16'], converter='test_export_crash:segfault')\n"
        "from sportsedge.cli import main\n"
        f"sys.exit(main(['export', {str(tiny_run)!r}, '--out', {str(out)!r}, '--calibration-size', '20',\n"
        "                '--formats', 'tflite-fp32,tflite-fp16,onnx-fp32']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SPORTSEDGE_EXPORT_IN_PROCESS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    line = "the converter crashed converting tiny to tflite-fp16 (signal 11, SIGSEGV)"
    assert proc.returncode == 1, proc.stderr
    assert f"[2/3] tiny-tflite-fp16.tflite: FAILED -- {line}" in proc.stderr
    assert f"error: tiny-tflite-fp16.tflite: {line}" in proc.stderr and "Traceback" not in proc.stderr
    arts = json.loads((out / "manifest.json").read_text())["artifacts"]
    assert {n: e["status"] for n, e in arts.items()} == {
        "tiny-tflite-fp32.tflite": "passed",
        "tiny-tflite-fp16.tflite": "FAILED",
        "tiny-onnx-fp32.onnx": "passed",
    }
    assert arts["tiny-tflite-fp16.tflite"]["crashed"] == line and arts["tiny-tflite-fp16.tflite"]["path"] == ""
    assert (out / "tiny-tflite-fp32.tflite").is_file() and (out / "tiny-onnx-fp32.onnx").is_file()
    assert not (out / "tiny-tflite-fp16.tflite").exists() and not list(out.glob(".*tmp*"))


def test_crashers_are_named_by_the_innermost_frame_of_a_known_package():
    from sportsedge.export.isolated import crash_line, crasher

    trace = (
        "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n"
        '  File "/v/site-packages/tensorflow/lite/python/convert.py", line 9 in mlir_quantize\n'
        '  File "/v/site-packages/litert_torch/convert.py", line 3 in convert\n'
    )
    assert crasher(trace) == "the TFLite converter"
    assert crash_line("litert-torch", "ResNet18", "tflite-int8", -11) == (
        "litert-torch crashed converting ResNet18 to tflite-int8 (signal 11, SIGSEGV)"
    )


def test_a_failed_parity_file_is_kept_in_attempts_and_refused_by_verify_and_predict(
    tiny_run, tmp_path, monkeypatch, capsys
):
    from dataclasses import replace

    from sportsedge.cli import main
    from sportsedge.core.formats import FORMATS

    out = tmp_path / "out"
    main(["export", str(tiny_run), "--out", str(out), "--formats", "tflite-fp32"])  # passes: its file is kept
    monkeypatch.setitem(FORMATS, "tflite-fp32", replace(FORMATS["tflite-fp32"], min_agreement=1.01))
    argv = ["export", str(tiny_run), "--out", str(out), "--formats", "tflite-fp32", "--force"]
    assert main(argv) == 1
    capsys.readouterr()
    failed = out / "attempts" / "tiny-tflite-fp32.tflite"
    assert failed.is_file() and not (out / "tiny-tflite-fp32.tflite").exists()
    assert not (out / "tiny-tflite-fp32.tflite.json").exists()
    image = tmp_path / "red.png"
    from PIL import Image

    Image.new("RGB", (32, 32), (230, 0, 0)).save(image)
    for command, code in ((["verify", str(failed)], 1), (["predict", str(failed), str(image)], 2)):
        assert main(command) == code
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "failed its parity check at export" in err, err


def test_a_script_without_a_main_guard_exports_once(tiny_run, tmp_path):
    """The worker is spawned: multiprocessing re-runs the parent's __main__ in it unless told not
    to, and a user's script that exports at top level (no `if __name__ == "__main__":`) then
    exported again in the worker and died at its start with a screen of traceback."""
    out = tmp_path / "out"
    script = tmp_path / "my_export.py"
    script.write_text(
        "print('script body ran')\n"
        "from sportsedge.cli import main\n"
        f"code = main(['export', {str(tiny_run)!r}, '--out', {str(out)!r}, '--formats', 'onnx-fp32'])\n"
        "print('exit', code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SPORTSEDGE_EXPORT_IN_PROCESS"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("script body ran") == 1 and proc.stdout.splitlines()[-1] == "exit 0", proc.stdout
    assert "Traceback" not in proc.stderr
    assert json.loads((out / "manifest.json").read_text())["artifacts"]["tiny-onnx-fp32.onnx"]["status"] == "passed"
