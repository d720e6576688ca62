"""How much does Classifier.predict cost over the bare interpreter calls? (a benchmark, not a test)

    python experiments/predict_overhead.py [--model FILE.tflite] [--runs 300]

Without --model it builds a MobileNetV2 (224x224, 100 classes, random weights: timing does not
depend on weight values) and exports it to float32 TFLite, which needs the `train` extra.
Both loops feed the same preloaded image; the bare loop gets its input already in the model's
dtype, predict() gets HxWx3 uint8 pixels as a user would pass them. The two loops are
interleaved in blocks so that machine drift hits both alike; medians of per-call times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def build_mobilenet_tflite(out: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    inp = keras.Input((224, 224, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    x = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(224, 224, 3))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(100, activation="softmax")(x))
    model.export(str(out / "saved"), verbose=False)
    path = out / "mobilenet_v2-fp32.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(out / "saved")).convert())
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="a .tflite file (default: build a MobileNetV2)")
    ap.add_argument("--runs", type=int, default=300, help="timed calls per loop")
    ap.add_argument("--threads", type=int, default=None, help="interpreter threads")
    args = ap.parse_args()

    from sportsedge.runtime import Classifier
    from sportsedge.runtime.backends import litert_interpreter_class

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or build_mobilenet_tflite(Path(tmp))
        with warnings.catch_warnings():  # the built model has no labels: irrelevant here
            warnings.simplefilter("ignore")
            clf = Classifier.load(path, threads=args.threads)
        interp = litert_interpreter_class()(model_path=str(path), num_threads=args.threads)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        pixels = np.random.default_rng(0).integers(0, 256, (*clf.input_size, 3), dtype=np.uint8)
        x = pixels[None].astype(inp["dtype"])

        def bare():
            interp.set_tensor(inp["index"], x)
            interp.invoke()
            return interp.get_tensor(out["index"])

        def wrapped():
            return clf.predict(pixels, top_k=5)

        timings = {"bare": [], "predict": []}
        for fn in (bare, wrapped):  # warm-up
            for _ in range(10):
                fn()
        block = 10
        for _ in range(max(1, args.runs // block)):
            for name, fn in (("bare", bare), ("predict", wrapped)):
                for _ in range(block):
                    t0 = time.perf_counter_ns()
                    fn()
                    timings[name].append(time.perf_counter_ns() - t0)
        med = {k: statistics.median(v) / 1e6 for k, v in timings.items()}
        ratio = med["predict"] / med["bare"]
        print(
            f"model: {Path(path).name}  input {clf.input_size} {clf.input_dtype}  threads {args.threads or 'default'}"
        )
        print(f"bare set_tensor+invoke+get_tensor: median {med['bare']:.3f} ms over {len(timings['bare'])} calls")
        print(f"Classifier.predict(uint8 array):  median {med['predict']:.3f} ms over {len(timings['predict'])} calls")
        print(f"ratio predict/bare: {ratio:.3f}  (target <= 1.10)")
    return 0 if ratio <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
