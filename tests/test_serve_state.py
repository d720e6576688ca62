"""`serve --state-dir`: a real server SIGKILLed at random points of a reload, restarted each time.

The points are drawn from a seeded generator: a delay after the reload is sent, the moment a
temporary file appears in the state dir (a copy under way), or the moment a new kept copy appears
(before state.json names it). Models of 40 MB make the copy long enough to be caught. After each
kill, with the model files intact or all damaged (so that the restart must fall back to the kept
copy), the restart serves exactly what state.json recorded, a model the server announced, and the
state dir holds that copy and state.json, nothing else."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import signal
import threading
import zipfile
from pathlib import Path

import pytest

from test_serve import Server

httpx = pytest.importorskip("httpx")
ITERATIONS = 12
ANNOUNCED = re.compile(r"reloaded .* \(sha256 ([0-9a-f]{12})\)")


def _padded(model: Path, fill: int, mb: int = 40) -> bytes:
    """``model`` (a .tflite) with ``mb`` MB more in its metadata archive: outside both digests,
    so it loads and passes its checks, and its own sha256 differs by ``fill``."""
    from sportsedge.runtime.metadata import split_tflite

    flatbuffer, archive = split_tflite(model.read_bytes())
    assert archive is not None
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("padding.bin", bytes([fill]) * (mb << 20))
    return flatbuffer + out.getvalue()


def _reload(url: str, path: Path, answers: list[httpx.Response]) -> None:
    with contextlib.suppress(httpx.TransportError):  # killed before it answered
        answers.append(httpx.post(url + "/v1/models/reload", json={"path": str(path)}, timeout=60))


def _kill_when(how: str, state: Path, reloading: threading.Thread, rng: random.Random) -> None:
    """Return at the moment ``how`` names (or when the reload is over)."""
    if how == "delay":
        reloading.join(rng.uniform(0.0, 0.6))
        return
    before = {e.name: e.inode() for e in os.scandir(state)}
    while reloading.is_alive():
        now = {e.name: e.inode() for e in os.scandir(state)}
        if how == "temporary file" and any(name.startswith(".tmp-") for name in now):
            return
        copies = {k: v for k, v in now.items() if not k.startswith(".tmp-") and k != "state.json"}
        if how == "new copy" and any(before.get(name) != inode for name, inode in copies.items()):
            return


def test_a_kill_at_any_point_of_a_reload_leaves_a_state_dir_the_restart_serves(labelled_models, tmp_path):
    import hashlib

    small = labelled_models["tflite-int8"]
    pristine = {
        "a.tflite": small.read_bytes(),
        "b.tflite": _padded(small, 0),
        "c.tflite": _padded(small, 1),
        "d.onnx": labelled_models["onnx-fp32"].read_bytes(),
    }
    models, state = tmp_path / "models", tmp_path / "state"
    models.mkdir()

    def restore() -> None:
        for name, data in pristine.items():
            (models / name).write_bytes(data)

    restore()
    announced = {hashlib.sha256(pristine["a.tflite"]).hexdigest()[:12]}  # the command line's model
    rng = random.Random(51)
    server = Server(models / "a.tflite", "--state-dir", str(state))
    try:
        for i in range(ITERATIONS):
            target, how = rng.choice(sorted(pristine)), rng.choice(["delay", "temporary file", "new copy"])
            answers: list[httpx.Response] = []
            reloading = threading.Thread(target=_reload, args=(server.url, models / target, answers))
            reloading.start()
            _kill_when(how, state, reloading, rng)
            server.proc.send_signal(signal.SIGKILL)
            _, err = server.proc.communicate(timeout=30)
            reloading.join()
            announced.update(ANNOUNCED.findall(err))
            announced.update(a.json()["sha256"][:12] for a in answers if a.status_code == 200)
            recorded = json.loads((state / "state.json").read_text())["sha256"]
            damaged = rng.random() < 0.5
            if damaged:  # every model file: the restart must serve the kept copy
                for name in pristine:
                    (models / name).write_bytes(b"not a model any more")
            server = Server(models / "a.tflite", "--state-dir", str(state))
            served = httpx.get(server.url + "/v1/models").json()["sha256"]
            seen = f"iteration {i}: reload {target}, killed at {how}, damaged {damaged}"
            assert served == recorded and served[:12] in announced, seen
            left = sorted(os.listdir(state))  # state.json and the one copy it names: nothing accumulates
            assert len(left) == 2 and "state.json" in left and not any(n.startswith(".tmp-") for n in left), (
                seen,
                left,
            )
            restore()
    finally:
        server.stop()
