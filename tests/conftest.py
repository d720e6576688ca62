"""Shared fixtures: the tiny committed models (tests/fixtures, rebuilt by tests/make_fixtures.py),
runs trained here where a test is about training, and the real data in ../shared."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Export converts in this process: tests patch converters' insides (monkeypatch reaches no worker);
# tests/test_export_crash.py turns the worker back on where it is what is tested.
os.environ.setdefault("SPORTSEDGE_EXPORT_IN_PROCESS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Keras reads KERAS_HOME once, when it is imported: point it at a writable copy of the shared
# offline weights before any test imports it (Keras may write keras.json beside them).
if (SHARED / "keras_home").is_dir():
    _home = Path(tempfile.mkdtemp(prefix="keras_home-"))
    shutil.copytree(SHARED / "keras_home", _home, dirs_exist_ok=True)
    os.environ["KERAS_HOME"] = str(_home)
SHARED_DATA = SHARED / "data" / "sports100-dev"

from model_fixtures import (  # noqa: E402  (after KERAS_HOME is set: it may import Keras)
    COLOURS,
    FIXTURES,
    LABELS,
    TINY_FILES,
    TINY_SIZE,
    build_colour_model,
    colour_dataset_at,
    export_tiny_run,
    noisy,
    solid,
    train_tiny_run,
    write_dataset,
)

__all__ = ["COLOURS", "LABELS", "TINY_SIZE", "build_colour_model", "noisy", "solid", "write_dataset"]


def tensorflow_installed() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def need_tensorflow() -> None:
    """Skip (with the reason) where TensorFlow is not installed: a runtime-only install."""
    if not tensorflow_installed():
        pytest.skip("needs TensorFlow (the train extra); this is a runtime-only install")


def torch_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "litert_torch"))


def pytest_collection_modifyitems(config, items):
    # Test modules about training or exporting say so with `pytestmark = pytest.mark.tensorflow`,
    # those about PyTorch sources with `pytest.mark.torch` too.
    missing = {
        "tensorflow": None if tensorflow_installed() else "needs TensorFlow (the train extra); a runtime-only install",
        "torch": None if torch_installed() else "needs torch and litert-torch (the torch extra): not installed",
    }
    for item in items:
        for marker, reason in missing.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))
                break


def _committed(tmp_path_factory, name: str) -> Path:
    """A fresh copy of a committed fixture folder (tests may write beside the files)."""
    dst = tmp_path_factory.mktemp(name) / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Unlabelled tiny colour models: {"tflite-fp32", "tflite-int8", "onnx-fp32"} -> path (committed)."""
    folder = _committed(tmp_path_factory, "tiny")
    return {fmt: folder / name for fmt, name in TINY_FILES.items()}


@pytest.fixture(scope="session")
def labelled_models(tmp_path_factory) -> dict[str, Path]:
    """The tiny models with labels, input spec and golden check embedded (committed)."""
    folder = _committed(tmp_path_factory, "labelled")
    return {fmt: folder / name for fmt, name in TINY_FILES.items()}


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


@pytest.fixture(scope="session")
def colour_dataset(tmp_path_factory) -> Path:
    return colour_dataset_at(tmp_path_factory.mktemp("colours"))


@pytest.fixture(scope="session")
def tiny_registered():
    """Registers "tiny": a 32x32 model with a frozen feature part and a trainable head."""
    need_tensorflow()
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
    return train_tiny_run(colour_dataset, tmp_path_factory.mktemp("export-run") / "run")


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """The tiny run's export to every post-training format, as committed: (folder, manifest, ())."""
    out = _committed(tmp_path_factory, "exported")
    return out, json.loads((out / "manifest.json").read_text()), ()


@pytest.fixture(scope="session")
def fresh_export(tmp_path_factory, tiny_run):
    """The same export made now, from a tiny run trained now: (folder, manifest, progress lines)."""
    out = tmp_path_factory.mktemp("exported")
    messages = []
    manifest = export_tiny_run(tiny_run, out, say=messages.append)
    return out, manifest, messages


# Lines tests want shown at the end of the session (e.g. the fuzz test's counts, for CI's log).
REPORT_LINES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    for line in REPORT_LINES:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def torch_files(tmp_path_factory):
    pytest.importorskip("torch", reason="the torch extra (torch, litert-torch) is not installed")
    pytest.importorskip("litert_torch", reason="the torch extra (torch, litert-torch) is not installed")
    from torch_fixtures import write_torch_models  # torch is imported by the fixture module

    tmp = tmp_path_factory.mktemp("torch-models")
    files = write_torch_models(tmp)
    files["labels"] = tmp / "labels.txt"
    files["labels"].write_text("".join(f"{name}\n" for name in LABELS))
    return files


def torch_export_argv(model, out, data, labels, *extra) -> list[str]:
    return [
        "export",
        str(model),
        "--out",
        str(out),
        "--labels",
        str(labels),
        "--preprocess",
        "torch",
        "--calibration",
        str(data / "train"),
        "--parity-data",
        str(data / "valid"),
        *map(str, extra),
    ]


@pytest.fixture(scope="session")
def torch_export(torch_files, colour_dataset, tmp_path_factory):
    """colour.pt2 exported to every post-training format: (folder, manifest)."""
    out = tmp_path_factory.mktemp("torch-export")
    from sportsedge import cli

    code = cli.main(torch_export_argv(torch_files["colour"], out, colour_dataset, torch_files["labels"]))
    assert code == 0
    return out, json.loads((out / "manifest.json").read_text())
