"""onnxruntime's int8 kernels on an x86 CPU without VNNI: default (16-bit saturating pair sums,
PMADDUBSW) against exact (``session.x64quantprecision=1``), for one onnx-int8 file against its
onnx-fp32 twin on a labelled split folder: top-1 of each, agreement of each int8 run with float,
and 1-thread latency in interleaved rounds (the order flips every round). Behind
docs/quantization.md#onnx-int8-on-x86-without-vnni.

    .venv/bin/python experiments/ort_exact_int8.py FP32.onnx INT8.onnx SPLIT_DIR [IMAGES] [ROUNDS]
"""

import sys
import time

import numpy as np
import onnxruntime as ort

from sportsedge.bench.accuracy import label_indices, labelled_images
from sportsedge.runtime import Classifier
from sportsedge.runtime.ort_session import EXACT_INT8
from sportsedge.util.envinfo import int8_dot

fp32_path, int8_path, split = sys.argv[1:4]
n_images = int(sys.argv[4]) if len(sys.argv) > 4 else 500
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 5

paths, names = labelled_images(split)
step = max(1, len(paths) // n_images)  # an even spread over the classes, not the first folders
paths, names = paths[::step][:n_images], names[::step][:n_images]
clf = Classifier.load(int8_path, threads=1)
y = label_indices(names, clf.labels, int8_path)
pixels = np.stack([clf.preprocess(p) for p in paths])


def session(exact: bool) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    if exact:
        opts.add_session_config_entry(EXACT_INT8, "1")
    return ort.InferenceSession(int8_path, opts, providers=["CPUExecutionProvider"])


def answers(run) -> np.ndarray:
    return np.array([int(np.argmax(run(clf.to_input(pixels[i : i + 1])))) for i in range(len(pixels))])


fp32 = Classifier.load(fp32_path, threads=1)
runs = {"default": session(False), "exact": session(True)}
name = runs["default"].get_inputs()[0].name


def caller(sess: ort.InferenceSession):
    return lambda x: sess.run(None, {name: x})[0]


calls = {k: caller(s) for k, s in runs.items()}
ref = answers(fp32.outputs)
print(f"cpu int8 dot: {int8_dot()}; {len(paths)} images of {split}")
print(f"onnx-fp32: top-1 {100 * np.mean(ref == y):.1f}%")
got = {k: answers(f) for k, f in calls.items()}
for k, a in got.items():
    print(f"onnx-int8 {k}: top-1 {100 * np.mean(a == y):.1f}%, agreement with fp32 {100 * np.mean(a == ref):.1f}%")
print(f"default vs exact agreement: {100 * np.mean(got['default'] == got['exact']):.1f}%")

per_round = {k: [] for k in calls}
x = [clf.to_input(pixels[i : i + 1]) for i in range(min(30, len(pixels)))]
for r in range(rounds):
    for k in calls if r % 2 == 0 else reversed(list(calls)):
        calls[k](x[0])  # warm
        t = []
        for xi in x:
            t0 = time.perf_counter_ns()
            calls[k](xi)
            t.append(time.perf_counter_ns() - t0)
        per_round[k].append(np.median(t) / 1e6)
med = {k: float(np.median(v)) for k, v in per_round.items()}
print(
    f"1-thread p50 over {rounds} rounds x {len(x)} images: default {med['default']:.2f} ms, "
    f"exact {med['exact']:.2f} ms ({100 * (med['exact'] / med['default'] - 1):+.1f}%); "
    f"per round: { {k: [round(v, 3) for v in vs] for k, vs in per_round.items()} }"
)
