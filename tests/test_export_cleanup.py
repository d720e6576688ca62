"""Export after a crash or on a full disk: a killed run's temporary files and folder are removed by
the next run, a disk too small is refused in one line before the long work, and a disk that
fills up during it is one line naming the file, exit 1, with the finished files kept."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from collections import namedtuple
from pathlib import Path

import pytest

from sportsedge.util import fileio

Usage = namedtuple("Usage", "total used free")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # exited and reaped: no process has it now (pids are not reused this soon)


def test_remove_stale_takes_only_what_dead_writers_left(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".tmp-{dead}-abc-model.tflite").write_bytes(b"half")
    (tmp_path / f".tmp-{dead}-work").mkdir()
    live = tmp_path / f".tmp-{os.getpid()}-def-model.tflite"
    live.write_bytes(b"being written")
    (tmp_path / "model.tflite").write_bytes(b"finished")
    removed = fileio.remove_stale(tmp_path)
    assert sorted(p.name for p in removed) == sorted([f".tmp-{dead}-abc-model.tflite", f".tmp-{dead}-work"])
    assert live.exists() and (tmp_path / "model.tflite").exists()


@pytest.mark.tensorflow
def test_a_rerun_removes_what_a_killed_export_left(tiny_run, tmp_path, capsys):
    from sportsedge.cli import main
    from sportsedge.export.context import WORK_PREFIX

    dead = _dead_pid()
    out = tmp_path / "out"
    out.mkdir()
    left = out / f".tmp-{dead}-x1-tiny-tflite-fp32.tflite"
    left.write_bytes(b"\0" * 100)
    work = Path(tempfile.gettempdir()) / f"{WORK_PREFIX}{dead}-x2"
    work.mkdir()
    (work / "saved_model.pb").write_bytes(b"\0")
    assert main(["export", str(tiny_run), "--out", str(out), "--formats", "tflite-fp32"]) == 0
    assert not left.exists() and not work.exists()
    assert "temporary file(s) an interrupted export left" in capsys.readouterr().err
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.tensorflow
def test_a_disk_too_small_is_refused_before_the_work(tiny_run, tmp_path, capsys, monkeypatch):
    import shutil

    from sportsedge.cli import main

    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 1000, 1000))
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "out"), "--formats", "tflite-fp32"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no space left on the device for ")
    assert "MB free, the export needs about" in err


@pytest.mark.tensorflow
def test_a_disk_that_fills_up_is_one_line_and_keeps_the_finished_files(tiny_run, tmp_path, capsys, monkeypatch):
    from sportsedge.cli import main
    from sportsedge.runtime import Classifier

    out = tmp_path / "out"
    assert main(["export", str(tiny_run), "--out", str(out), "--formats", "tflite-fp32"]) == 0
    capsys.readouterr()
    real = Path.write_bytes

    def full(self, data):
        if self.name.startswith(".tmp-") and "onnx" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    assert main(["export", str(tiny_run), "--out", str(out), "--formats", "tflite-fp32,onnx-fp32"]) == 1
    *progress, last = capsys.readouterr().err.splitlines()
    assert last.startswith("error: no space left on the device for ") and last.endswith("finished are kept")
    assert "onnx-fp32.onnx" in last and not [line for line in progress if "error" in line or "Traceback" in line]
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    finished = next(out.glob("*-tflite-fp32.tflite"))
    Classifier.load(finished)  # digests and golden check pass


@pytest.mark.tensorflow
def test_sigkill_mid_export_then_a_rerun_leaves_no_temporary_file(tiny_run, tmp_path):
    """A real SIGKILL while the export works (its temporary folder exists), then the same command:
    nothing temporary is left in OUT or in the temp dir, and the files verify."""
    import signal
    import time

    from sportsedge.export.context import WORK_PREFIX
    from sportsedge.runtime import Classifier

    out = tmp_path / "out"
    temp = tmp_path / "tmp"  # a temp dir of its own: other tests' exports do not count
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    argv = [sys.executable, "-m", "sportsedge", "export", str(tiny_run), "--out", str(out)]
    proc = subprocess.Popen([*argv, "--formats", "tflite-fp32,tflite-int8"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(temp.glob(f"{WORK_PREFIX}{proc.pid}-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "the export ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(temp.glob(f"{WORK_PREFIX}*"))  # what a killed run leaves
    rerun = subprocess.run([*argv, "--formats", "tflite-fp32,tflite-int8"], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert not list(temp.glob(f"{WORK_PREFIX}*")) and not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    for model in out.glob("*.tflite"):
        Classifier.load(model)  # digests and golden check pass
