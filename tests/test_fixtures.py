"""The committed test models (tests/fixtures) are what tests/make_fixtures.py builds: a rebuild
here gives the committed files' answers, format by format (bytes differ: timestamps, training)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from sportsedge.runtime import Classifier

from conftest import LABELS, TINY_SIZE, solid
from model_fixtures import FIXTURES, TINY_FILES, label_models, write_tiny_models

pytestmark = pytest.mark.tensorflow


def _probes(size=TINY_SIZE) -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.stack([solid(c, size) for c in LABELS] + [rng.integers(0, 256, (*size, 3), np.uint8) for _ in range(5)])


def _answers(path) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unlabelled models warn that they have no labels
        clf = Classifier.load(path, verify=False)
    scores = clf.scores(_probes())
    return scores.argmax(axis=1), scores


@pytest.mark.parametrize("folder", ["tiny", "labelled"])
def test_a_rebuild_of_the_colour_models_answers_as_the_committed_ones(folder, tmp_path):
    rebuilt = write_tiny_models(tmp_path / "tiny")
    if folder == "labelled":
        rebuilt = label_models(rebuilt, tmp_path / "labelled")
    for fmt, name in TINY_FILES.items():
        (top_new, new), (top_old, old) = _answers(rebuilt[fmt]), _answers(FIXTURES / folder / name)
        assert (top_new == top_old).all(), fmt
        np.testing.assert_allclose(new, old, atol=1e-5, err_msg=fmt)  # weights set by hand: the same numbers


def test_a_fresh_export_answers_as_the_committed_one(fresh_export, colour_dataset):
    out, manifest, _ = fresh_export
    committed = json.loads((FIXTURES / "exported" / "manifest.json").read_text())
    assert set(manifest["artifacts"]) == set(committed["artifacts"])
    test = sorted((colour_dataset / "test").rglob("*.*"))
    for entry in committed["artifacts"].values():
        new = Classifier.load(out / entry["path"])
        old = Classifier.load(FIXTURES / "exported" / entry["path"])
        assert new.labels == old.labels == tuple(sorted(LABELS))
        assert [p[0].label for p in new.predict_batch(test, 1)] == [p[0].label for p in old.predict_batch(test, 1)]


def test_a_rebuild_of_the_hostile_models_answers_as_the_committed_ones(tmp_path):
    import keras
    import onnxruntime as ort

    from model_fixtures import write_hostile_models

    rebuilt = write_hostile_models(tmp_path / "hostile")
    x = _probes().astype(np.float32)
    new, old = (
        keras.models.load_model(d / "hostile.keras").predict(x, verbose=0)
        for d in (tmp_path / "hostile", FIXTURES / "hostile")
    )
    np.testing.assert_allclose(new, old, atol=1e-6)
    onnx_new, onnx_old = (
        ort.InferenceSession(str(p)).run(None, {"pixels": x})[0]
        for p in (rebuilt["onnx"], FIXTURES / "hostile" / "hostile.onnx")
    )
    np.testing.assert_allclose(onnx_new, onnx_old, atol=1e-6)
    assert rebuilt["labels"].read_text() == (FIXTURES / "hostile" / "labels.txt").read_text()
