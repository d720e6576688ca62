"""Shared fixtures: tiny models built once per test run, and the real data in ../shared."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Keras reads KERAS_HOME once, when it is imported: point it at a writable copy of the shared
# offline weights before any test imports it (Keras may write keras.json beside them).
if (SHARED / "keras_home").is_dir():
    _home = Path(tempfile.mkdtemp(prefix="keras_home-"))
    shutil.copytree(SHARED / "keras_home", _home, dirs_exist_ok=True)
    os.environ["KERAS_HOME"] = str(_home)
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
    paths = {
        "tflite-fp32": tmp / "colour-fp32.tflite",
        "tflite-int8": tmp / "colour-int8.tflite",
        "onnx-fp32": tmp / "colour-fp32.onnx",
    }
    paths["tflite-fp32"].write_bytes(_convert(model, tmp, int8=False))
    paths["tflite-int8"].write_bytes(_convert(model, tmp, int8=True))
    spec = (tf.TensorSpec((None, *TINY_SIZE, 3), tf.float32, name="pixels"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(paths["onnx-fp32"]))
    return paths


@pytest.fixture(scope="session")
def labelled_models(tiny_models, tmp_path_factory) -> dict[str, Path]:
    """The tiny models with labels and input spec embedded by the runtime's metadata writer."""
    from sportsedge.core.formats import FORMATS
    from sportsedge.runtime import Classifier, ModelMetadata, attach_metadata
    from sportsedge.runtime.golden import make_golden

    tmp = tmp_path_factory.mktemp("labelled")
    out = {}
    for fmt, src in tiny_models.items():
        dst = tmp / src.name
        shutil.copy(src, dst)
        meta = ModelMetadata(labels=LABELS, model_name="colour", input_size=TINY_SIZE, format=fmt)
        attach_metadata(dst, meta)
        golden = make_golden(Classifier.load(dst, verify=False), FORMATS[fmt].verify_atol, FORMATS[fmt].verify_rel)
        attach_metadata(dst, replace(meta, golden=golden))  # as an export seals it: labels, golden, digests
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


# ---------------------------------------------------------------------- training fixtures


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


@pytest.fixture(scope="session")
def colour_dataset(tmp_path_factory) -> Path:
    root = write_dataset(tmp_path_factory.mktemp("colours"))
    (root / "train" / "red" / "notes.txt").write_text("not an image\n")
    return root


@pytest.fixture(scope="session")
def tiny_registered():
    """Registers "tiny": a 32x32 model with a frozen feature part and a trainable head."""
    import tiny_registry  # noqa: F401  (registers "tiny"; a module so the QAT worker process can import it too)

    return "tiny"


@pytest.fixture(scope="session")
def keras_home() -> Path:
    """KERAS_HOME holding MobileNetV2's ImageNet weights (set up at import, above)."""
    if not (SHARED / "keras_home").is_dir():
        pytest.skip(f"offline Keras weights not present at {SHARED / 'keras_home'}")
    return Path(os.environ["KERAS_HOME"])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, colour_dataset, tiny_registered):
    from sportsedge.train.config import TrainConfig
    from sportsedge.train.loop import train

    out = tmp_path_factory.mktemp("export-run") / "run"
    return train(
        TrainConfig(
            model=tiny_registered, data=str(colour_dataset), out=str(out), epochs=8, learning_rate=0.05, augment=False
        ),
        say=lambda m: None,
    )


@pytest.fixture(scope="session")
def exported(tmp_path_factory, tiny_run):
    from sportsedge.export.config import ExportConfig
    from sportsedge.export.run import export, parse_formats

    out = tmp_path_factory.mktemp("exported")
    messages = []
    manifest = export([tiny_run], parse_formats("all"), out, ExportConfig(calibration_size=30), say=messages.append)
    return out, manifest, messages


# Lines tests want shown at the end of the session (e.g. the fuzz test's counts, for CI's log).
REPORT_LINES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    for line in REPORT_LINES:
        terminalreporter.write_line(line)
