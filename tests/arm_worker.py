"""Runs inside the emulated aarch64 sandbox (tests/test_arm.py): score models on given pixels.

    .arm64/run tests/arm_worker.py JOB.json

JOB: {"models": [paths], "pixels": "x.npy", "out": "scores.npz", "threads": 1}. Writes one array
of scores per model (key m0, m1, ...) and of its raw outputs (o0, o1, ...: logits or
probabilities, what the golden check compares), plus machine facts: the platform, whether TensorFlow can
be imported here (it must not), and each model's golden check.
"""

import importlib.util
import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np

from sportsedge.runtime import Classifier


def main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    pixels = np.load(job["pixels"])
    arrays, verified = {}, []
    for i, path in enumerate(job["models"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = Classifier.load(path, threads=job.get("threads", 1), verify=False)  # verified below
        arrays[f"m{i}"] = clf.scores(pixels)
        arrays[f"o{i}"] = clf.outputs(pixels)
        if clf.metadata.golden is not None:
            r = clf.verify()
            verified.append({"ok": r.ok, "max_diff": r.max_diff})
        else:
            verified.append(None)
    facts = {
        "machine": platform.machine(),
        "tensorflow": importlib.util.find_spec("tensorflow") is not None,
        "verify": verified,
    }
    np.savez(job["out"], facts=np.array(json.dumps(facts)), **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
