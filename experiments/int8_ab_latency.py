"""Latency of two int8 files of the same model, A/B in one process: sessions loaded side by side,
3,000 alternating calls each at 1 thread (the order flips every call), medians and the ratio's
spread over blocks of 100 calls. Process-level effects (core placement, page layout) that make
fresh-process rounds bimodal on a shared machine cancel here; it is the measurement behind the
"latency within 3%" of logits int8 files (docs/export.md).

    .venv/bin/python experiments/int8_ab_latency.py DIR   (DIR holds mobilenet_v2-{tflite,onnx}-int8 and old- copies)
"""

import sys
import time

import numpy as np
import onnxruntime as ort
from ai_edge_litert.interpreter import Interpreter

from sportsedge.core.outputs import probabilities

folder = sys.argv[1]


def ort_sess(p):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    return ort.InferenceSession(p, o, providers=["CPUExecutionProvider"])


x = np.random.default_rng(0).integers(0, 256, (1, 224, 224, 3)).astype(np.float32)
for kind in ("onnx", "tflite"):
    res = {}
    if kind == "onnx":
        runs = {
            n: (lambda s: lambda: s.run(None, {"pixels": x}))(ort_sess(f"{folder}/{n}mobilenet_v2-onnx-int8.onnx"))
            for n in ("", "old-")
        }
    else:

        def mk(p):
            it = Interpreter(model_path=p, num_threads=1)
            it.allocate_tensors()
            i = it.get_input_details()[0]["index"]
            xu = x.astype(np.uint8)

            def f():
                it.set_tensor(i, xu)
                it.invoke()

            return f

        runs = {n: mk(f"{folder}/{n}mobilenet_v2-tflite-int8.tflite") for n in ("", "old-")}
    t = {n: [] for n in runs}
    for n in runs:
        for _ in range(30):
            runs[n]()
    for k in range(3000):
        for n in runs if k % 2 else reversed(list(runs)):
            t0 = time.perf_counter_ns()
            runs[n]()
            t[n].append(time.perf_counter_ns() - t0)
    med = {n: np.median(v) / 1e6 for n, v in t.items()}
    # paired blocks of 100 for a CI of the ratio
    blocks = [np.median(t[""][i : i + 100]) / np.median(t["old-"][i : i + 100]) for i in range(0, 3000, 100)]
    print(
        kind,
        "new",
        round(med[""], 3),
        "old",
        round(med["old-"], 3),
        "ratio",
        round(med[""] / med["old-"], 4),
        "block ratios p2.5/p50/p97.5",
        np.round(np.percentile(blocks, [2.5, 50, 97.5]), 4),
        flush=True,
    )
logits = np.random.default_rng(1).normal(0, 5, (1, 100)).astype(np.float32)
t0 = time.perf_counter_ns()
for _ in range(10000):
    probabilities(logits, "logits")
print(f"runtime softmax of 100 logits: {(time.perf_counter_ns() - t0) / 1e4 / 1e3:.1f} us per call")
