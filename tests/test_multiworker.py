"""--strategy multi-worker for real: two worker processes on 127.0.0.1, each with its own TF_CONFIG,
train the tiny model together; both must end with the same weights, and match one process
training with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow  # trains: needs the train extra

WORKER = Path(__file__).with_name("multiworker_worker.py")
TOLERANCE = 1e-6  # largest |weight difference| from the single-process run (measured 3e-8: float sums in another order)


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _weights(run: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(run / "model.keras", compile=False).get_weights()


def _weights_untrained() -> list[np.ndarray]:
    """The tiny model as train() builds it before the first step (same seed, same order)."""
    import keras

    from sportsedge.train.models import get_model

    keras.utils.set_random_seed(0)
    return get_model("tiny").build(3, "none").model.get_weights()


def test_two_workers_train_the_same_model_as_one_process(colour_dataset, tiny_registered, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKER.parent), os.environ.get("PYTHONPATH", "")])}
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        cmd = [
            sys.executable,
            str(WORKER),
            str(colour_dataset),
            str(tmp_path / f"worker{i}"),
            "multi-worker",
            tf_config,
        ]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    single = subprocess.run(
        [sys.executable, str(WORKER), str(colour_dataset), str(tmp_path / "single"), "default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stdout[-2000:] + single.stderr[-2000:]
    w0, w1, ws = (_weights(tmp_path / name) for name in ("worker0", "worker1", "single"))
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)  # one model, mirrored: bit-identical on both workers
    start = _weights_untrained()
    moved = max(float(np.abs(a - s).max()) for a, s in zip(ws, start))
    assert moved > 100 * TOLERANCE  # training changed the weights far beyond the tolerance
    diff = max(float(np.abs(a - b).max()) for a, b in zip(w0, ws))
    assert diff <= TOLERANCE, f"two workers vs one process: max |weight diff| {diff:.2e}"
