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
