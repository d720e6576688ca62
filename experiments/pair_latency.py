"""Two model files' inference latency at 1 thread, alternating round by round in one process (7
rounds of 60 runs after 10 warm-up), and the ratio of the first to the second paired by round: one
format made by two routes, compared (docs/guides/pytorch.md).

    .venv/bin/python experiments/pair_latency.py A.onnx B.onnx
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import numpy as np

from sportsedge.runtime import Classifier


def main(files: list[str]) -> None:
    warnings.simplefilter("ignore")
    clfs = [Classifier.load(f, threads=1, verify=False) for f in files]
    rng = np.random.default_rng(0)
    inputs = [c.to_input(rng.integers(0, 255, (1, *c.input_size, 3), dtype=np.uint8)) for c in clfs]
    rounds: list[list[float]] = [[] for _ in files]
    for _round in range(7):
        for clf, x, out in zip(clfs, inputs, rounds):
            for _ in range(10):
                clf.infer(x)
            times = []
            for _ in range(60):
                t0 = time.perf_counter()
                clf.infer(x)
                times.append((time.perf_counter() - t0) * 1000)
            out.append(statistics.median(times))
    for f, r in zip(files, rounds):
        print(f"{statistics.median(r):6.2f} ms  (rounds {[round(v, 2) for v in r]})  {f}")
    ratio = statistics.median(a / b for a, b in zip(rounds[0], rounds[1]))
    print(f"ratio first/second by round: {ratio:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
