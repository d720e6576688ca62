"""Shared fixtures: tiny models built once per test run, and the real data in ../shared."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data" / "sports100-dev"
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


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Unlabelled tiny colour models: {"tflite-fp32", "tflite-int8", "onnx-fp32"} -> path."""
    import tensorflow as tf
    import tf2onnx

    tmp = tmp_path_factory.mktemp("tiny")
    model = build_colour_model()
    paths = {"tflite-fp32": tmp / "colour-fp32.tflite", "tflite-int8": tmp / "colour-int8.tflite",
             "onnx-fp32": tmp / "colour-fp32.onnx"}
    paths["tflite-fp32"].write_bytes(_convert(model, tmp, int8=False))
    paths["tflite-int8"].write_bytes(_convert(model, tmp, int8=True))
    spec = (tf.TensorSpec((None, *TINY_SIZE, 3), tf.float32, name="pixels"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(paths["onnx-fp32"]))
    return paths


@pytest.fixture(scope="session")
def labelled_models(tiny_models, tmp_path_factory) -> dict[str, Path]:
    """The tiny models with labels and input spec embedded by the runtime's metadata writer."""
    from sportsedge.runtime import ModelMetadata, attach_metadata

    tmp = tmp_path_factory.mktemp("labelled")
    out = {}
    for fmt, src in tiny_models.items():
        dst = tmp / src.name
        shutil.copy(src, dst)
        attach_metadata(dst, ModelMetadata(labels=LABELS, model_name="colour", input_size=TINY_SIZE, format=fmt))
        out[fmt] = dst
    return out


@pytest.fixture
def copy_model(tmp_path):
    """Copy a model file into this test's folder (tests may then damage the copy)."""

    def _copy(src: Path, name: str | None = None) -> Path:
        dst = tmp_path / (name or src.name)
        shutil.copy(src, dst)
        return dst

    return _copy


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA
