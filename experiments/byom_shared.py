"""Issue 15's real-data check: a trained run's MobileNetV2 as a user's model.

The run's Keras model is rebuilt without its baked-in Rescaling (so it expects [-1, 1], like a
notebook's MobileNetV2), saved as a plain .keras file outside any run folder, exported with
`sportsedge export FILE --preprocess symmetric`, and its tflite-int8 compared with the run-folder
export of the same weights on every image of a split, through the runtime.

    KERAS_HOME=... .venv/bin/python experiments/byom_shared.py RUN_DIR RUN_EXPORT_DIR SPLIT_DIR WORK_DIR
"""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from sportsedge.bench.accuracy import label_indices, labelled_images
from sportsedge.core import metrics
from sportsedge.runtime import Classifier
from sportsedge.runtime.imagesets import load_images

run, run_exports, split, work = (Path(a) for a in sys.argv[1:5])
work.mkdir(parents=True, exist_ok=True)
user_file = work / "my_mobilenet_v2.keras"
if not user_file.is_file():
    import keras

    model = keras.models.load_model(run / "model.keras", compile=False)

    def clone(layer):
        if isinstance(layer, keras.layers.Rescaling):
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    user = keras.models.clone_model(model, clone_function=clone)
    user.set_weights(model.get_weights())
    px = np.random.default_rng(0).integers(0, 256, (4, 224, 224, 3)).astype("float32")
    diff = np.abs(user.predict(px / 127.5 - 1, verbose=0) - model.predict(px, verbose=0)).max()
    print(f"user model on [-1, 1] vs the run's model on 0..255: max |diff| {diff:.2e}")
    user.save(user_file)

data = Path(run / "config.json").read_text()
import json  # noqa: E402

train = Path(json.loads(data)["data"]) / "train"
out = work / "exports"
cmd = [
    sys.executable,
    "-m",
    "sportsedge",
    "export",
    str(user_file),
    "--out",
    str(out),
    "--formats",
    "tflite-int8",
    "--labels",
    str(run / "labels.txt"),
    "--preprocess",
    "symmetric",
    "--calibration",
    str(train),
    "--parity-data",
    str(split.parent / "valid"),
]
print("$", " ".join(cmd))
subprocess.run(cmd, check=True)

paths, names = labelled_images(split)
rows = {}
for label, path in (
    ("run folder", run_exports / "mobilenet_v2-tflite-int8.tflite"),
    ("user .keras", out / "my_mobilenet_v2-tflite-int8.tflite"),
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = Classifier.load(path, threads=1)
    pixels, _ = load_images([Path(p) for p in paths], clf.input_size, "split")
    y = label_indices(names, clf.labels, str(path))
    probs = np.concatenate([clf.scores(pixels[i : i + 64]) for i in range(0, len(pixels), 64)])
    rows[label] = probs
    print(
        f"{label}: {path.name} ({path.stat().st_size} bytes, output {clf.output}): "
        f"top-1 {metrics.top_k_accuracy(probs, y, 1):.4f}, top-5 {metrics.top_k_accuracy(probs, y, 5):.4f} "
        f"on {len(y)} images"
    )
a, b = rows.values()
print(f"top-1 agreement between the two int8 files: {metrics.agreement(a, b):.4f}")
