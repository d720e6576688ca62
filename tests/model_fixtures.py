"""The tiny test models and data, built the one way both the suite and the fixture script use.

The models are committed under tests/fixtures/ (a few KB each), so the runtime's tests run where
the runtime runs, without TensorFlow; `python tests/make_fixtures.py` rebuilds them (needs the
train extra), and tests/test_fixtures.py checks that a rebuild still gives the committed answers.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
LABELS = tuple(COLOURS)
TINY_SIZE = (32, 32)


def solid(colour: str, size=TINY_SIZE) -> np.ndarray:
    """An HxWx3 uint8 image of one colour: the tiny models' known answer."""
    return np.broadcast_to(np.array(COLOURS[colour], np.uint8), (*size, 3)).copy()


def build_colour_model():
    """A 32x32, 3-class Keras model that names an image's dominant primary colour.

    Weights are set, not trained: GAP of the 0..1 pixels times 10*I, softmax. Raw 0..255
    pixels in, as every sportsedge model takes them.
    """
    import keras

    inp = keras.Input((*TINY_SIZE, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(len(LABELS), activation="softmax")(x)
    model = keras.Model(inp, out, name="colour")
    model.layers[-1].set_weights([np.eye(3, dtype="float32") * 10, np.zeros(3, "float32")])
    return model


def _calibration_images():
    rng = np.random.default_rng(0)
    imgs = [solid(c) for c in LABELS] + [solid(c) // 2 for c in LABELS]
    imgs += [rng.integers(0, 256, (*TINY_SIZE, 3), dtype=np.uint8) for _ in range(10)]
    return imgs


def _convert(model, tmp: Path, int8: bool) -> bytes:
    import tensorflow as tf

    saved = tmp / ("saved-int8" if int8 else "saved")
    model.export(str(saved), verbose=False)
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if int8:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([img[None].astype("float32")] for img in _calibration_images())
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8
        conv.inference_output_type = tf.uint8
    return conv.convert()


def noisy(colour: str, seed: int, size=TINY_SIZE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[colour], np.int16) * 0.8
    return np.clip(base + rng.normal(0, 30, (*size, 3)), 0, 255).astype(np.uint8)


def write_dataset(root: Path, per_split=(("train", 6), ("valid", 3), ("test", 3)), size=TINY_SIZE) -> Path:
    """A tiny dataset in the Kaggle layout: one folder per colour, noisy solid images as JPEG/PNG."""
    from PIL import Image

    seed = 0
    for split, n in per_split:
        for colour in LABELS:
            folder = root / split / colour
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                seed += 1
                ext = "jpg" if i % 2 == 0 else "png"
                Image.fromarray(noisy(colour, seed, size)).save(folder / f"{i}.{ext}")
    return root


def colour_dataset_at(root: Path) -> Path:
    """The suite's colour dataset (write_dataset plus a stray text file the scans must skip)."""
    write_dataset(root)
    (root / "train" / "red" / "notes.txt").write_text("not an image\n")
    return root


def write_tiny_models(out: Path) -> dict[str, Path]:
    """Unlabelled tiny colour models: {"tflite-fp32", "tflite-int8", "onnx-fp32"} -> path."""
    import tensorflow as tf
    import tf2onnx

    out.mkdir(parents=True, exist_ok=True)
    model = build_colour_model()
    paths = {fmt: out / name for fmt, name in TINY_FILES.items()}
    paths["tflite-fp32"].write_bytes(_convert(model, out, int8=False))
    paths["tflite-int8"].write_bytes(_convert(model, out, int8=True))
    spec = (tf.TensorSpec((None, *TINY_SIZE, 3), tf.float32, name="pixels"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(paths["onnx-fp32"]))
    for saved in ("saved", "saved-int8"):
        shutil.rmtree(out / saved, ignore_errors=True)
    return paths


def label_models(models: dict[str, Path], out: Path) -> dict[str, Path]:
    """Copies with labels, input spec and golden check embedded by the runtime's metadata writer."""
    from sportsedge.core.formats import FORMATS
    from sportsedge.runtime import Classifier, ModelMetadata, attach_metadata
    from sportsedge.runtime.golden import make_golden

    out.mkdir(parents=True, exist_ok=True)
    labelled = {}
    for fmt, src in models.items():
        dst = out / src.name
        shutil.copy(src, dst)
        meta = ModelMetadata(labels=LABELS, model_name="colour", input_size=TINY_SIZE, format=fmt)
        attach_metadata(dst, meta)
        golden = make_golden(Classifier.load(dst, verify=False), FORMATS[fmt].verify_atol, FORMATS[fmt].verify_rel)
        attach_metadata(dst, replace(meta, golden=golden))  # as an export seals it: labels, golden, digests
        labelled[fmt] = dst
    return labelled


def train_tiny_run(data: Path, out: Path) -> Path:
    """The "tiny" registered model trained on the colour dataset (seeded; a few seconds)."""
    from sportsedge.train.config import TrainConfig
    from sportsedge.train.loop import train

    import tiny_registry  # noqa: F401  (registers "tiny")

    config = TrainConfig(model="tiny", data=str(data), out=str(out), epochs=8, learning_rate=0.05, augment=False)
    return train(config, say=lambda m: None)


def export_tiny_run(run: Path, out: Path, say=lambda m: None) -> dict:
    """Every post-training format of the tiny run, as `sportsedge export` writes them."""
    from sportsedge.export.config import ExportConfig
    from sportsedge.export.run import export, parse_formats

    return export([run], parse_formats("all"), out, ExportConfig(calibration_size=30), say=say)


def write_foreign_models(out: Path) -> dict[str, Path]:
    """Models as other tools export them (no metadata of ours): a float NCHW ONNX classifier."""
    from test_user_models import _nchw_onnx

    out.mkdir(parents=True, exist_ok=True)
    return {"nchw-softmax": _nchw_onnx(out / "nchw-softmax.onnx")}


TINY_FILES = {"tflite-fp32": "colour-fp32.tflite", "tflite-int8": "colour-int8.tflite", "onnx-fp32": "colour-fp32.onnx"}


HOSTILE_LAYER = "head"  # the one layer of the hostile model that int8 breaks


def build_hostile_model():
    """A 32x32, 3-class Keras model built for int8 to break at one known layer (weights set, not
    trained): a conv whose channels 0-2 detect red, green and blue and whose channel 3 is dead
    (always 0 after its ReLU), average pooling, then the dense ``head`` whose weights are the
    identity for channels 0-2 and 1,000 for the dead channel. In float the 1,000s multiply zeros
    and change nothing; in int8 they set the head's weight scale, and every useful weight rounds
    to 0 (per-tensor in TFLite, per output channel in ONNX): plain int8 answers one class for all.
    Keeping ``head`` float wins it all back."""
    import keras

    inp = keras.Input((*TINY_SIZE, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="colours")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    out = keras.layers.Dense(len(LABELS), activation="softmax", name=HOSTILE_LAYER)(x)
    model = keras.Model(inp, out, name="hostile")
    kernel = np.zeros((3, 3, 3, 4), "float32")
    kernel[1, 1, :3, :3] = np.eye(3) - 0.5 * (1 - np.eye(3))  # own colour minus half of the others
    bias = np.array([0.0, 0.0, 0.0, -1.0], "float32")  # channel 3: all-zero kernel, negative bias: dead
    model.get_layer("colours").set_weights([kernel, bias])
    head = np.zeros((4, 3), "float32")
    head[:3] = np.eye(3)
    head[3] = 1000.0
    model.get_layer(HOSTILE_LAYER).set_weights([head, np.zeros(3, "float32")])
    return model


def write_hostile_models(out: Path) -> dict[str, Path]:
    """hostile.keras, hostile.onnx (the same graph through tf2onnx, for doctor's TensorFlow-free
    half) and labels.txt (output order)."""
    from sportsedge.export.onnx_convert import keras_to_onnx

    out.mkdir(parents=True, exist_ok=True)
    model = build_hostile_model()
    paths = {"keras": out / "hostile.keras", "onnx": out / "hostile.onnx", "labels": out / "labels.txt"}
    model.save(paths["keras"])
    paths["onnx"].write_bytes(keras_to_onnx(model, TINY_SIZE))
    paths["labels"].write_text("\n".join(LABELS) + "\n")
    return paths
