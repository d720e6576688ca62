"""The selective search's own rules, on a fake model family whose answers are set per float-layer
set (no converter, no TensorFlow): the budget counts agreement with float as well as top-1
points, and the shortlist is ordered by KL divergence from float, so that a layer that changes
no answer but moves the probabilities ranks above one that does nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sportsedge.core.formats import FORMATS
from sportsedge.export.selective import Layer, kl_divergence, meets, score, search

# Six images, three classes. The float model says 0 everywhere and is right on two (images 0, 3);
# broken int8 says 1 everywhere and is right on two others (1, 4): top-1 unchanged, every answer changed.
LABELS = np.array([0, 1, 2, 0, 1, 2])
FLOAT = np.tile([0.8, 0.15, 0.05], (6, 1))
BROKEN = np.tile([0.15, 0.8, 0.05], (6, 1))
NEARLY = np.tile([0.4, 0.55, 0.05], (6, 1))  # the same wrong answers, closer to float's


def _layer(name: str, error: float) -> Layer:
    return Layer(name, "FAKE", (name,), error, None, None, 1)


# which probabilities a file gives, by the layers it keeps float: "culprit" mends everything,
# "helper" alone moves the probabilities toward float without changing an answer
def _answers(float_layers: frozenset[str]) -> np.ndarray:
    if "culprit" in float_layers:
        return FLOAT
    return NEARLY if "helper" in float_layers else BROKEN


class FakeFamily:
    format = "tflite-int8"

    def layers(self) -> list[Layer]:
        # the quantization error misleads on purpose: the culprit has the smallest one of the shortlist
        return [_layer("noise", 9.0), _layer("helper", 5.0), _layer("culprit", 1.0), _layer("unlisted", 0.1)]

    def build(self, float_layers, path: Path) -> Path:
        path.write_text(",".join(la.name for la in float_layers))
        return path


class FakeClassifier:
    def __init__(self, path: Path):
        self.names = frozenset(filter(None, Path(path).read_text().split(",")))

    @classmethod
    def load(cls, path, verify=True):
        return cls(path)

    def scores(self, pixels):
        return _answers(self.names)


@pytest.fixture()
def fake_runtime(monkeypatch):
    import sportsedge.runtime

    monkeypatch.setattr(sportsedge.runtime, "Classifier", FakeClassifier)


def _search(tmp_path, max_drop=0.5, shortlist=3):
    pixels = np.zeros((6, 4, 4, 3), np.uint8)
    return search(FakeFamily(), pixels, LABELS, FLOAT, max_drop, shortlist, tmp_path, lambda _: None)


def test_plain_int8_that_keeps_top1_but_changes_every_answer_does_not_meet_the_budget(fake_runtime, tmp_path):
    found = _search(tmp_path)
    assert found.plain.drop == 0.0 and found.plain.agreement == 0.0  # a top-1 budget alone would stop here
    assert [la.name for la in found.chosen] == ["culprit"] and found.met
    assert not meets(found.plain, 0.5, FORMATS["tflite-int8"].min_agreement)


def test_the_shortlist_is_ordered_by_kl_from_float(fake_runtime, tmp_path):
    found = _search(tmp_path)
    order = [la.name for la, _ in found.ranked]
    # all three alone: culprit mends (KL 0); helper and noise both agree on no image, helper is closer
    assert order == ["culprit", "helper", "noise"]
    kl = {la.name: s.kl for la, s in found.ranked}
    assert kl["culprit"] < 1e-9 < kl["helper"] < kl["noise"]
    assert "unlisted" not in order  # outside the error shortlist of 3


def test_no_prefix_meeting_the_floor_is_reported_as_not_met(fake_runtime, tmp_path):
    found = _search(tmp_path, shortlist=2)  # the culprit is outside a shortlist of 2
    assert not found.met and [la.name for la in found.chosen] == ["helper", "noise"]


def test_kl_is_zero_on_itself_finite_on_int8_zeros_and_grows_with_the_distance():
    assert kl_divergence(FLOAT, FLOAT) == pytest.approx(0.0, abs=1e-12)
    zeros = np.tile([1.0, 0.0, 0.0], (6, 1))  # a uint8 softmax: exact zeros
    assert np.isfinite(kl_divergence(FLOAT, zeros))
    assert 0 < kl_divergence(FLOAT, NEARLY) < kl_divergence(FLOAT, BROKEN)
    assert score(BROKEN, FLOAT, LABELS).kl == pytest.approx(kl_divergence(FLOAT, BROKEN), abs=1e-6)


def test_snr_is_the_ratio_of_powers_over_the_images_with_its_infinities_in_words():
    pytest.importorskip("tensorflow", reason="the TFLite half needs the train extra")
    from sportsedge.doctor.report import _db, _finite
    from sportsedge.export.tflite_layers import snr_db

    assert snr_db(1.0, 0.01) == pytest.approx(20.0)
    assert snr_db(1.0, 0.0) == float("inf") and _db(float("inf")) == "exact"
    assert snr_db(0.0, 0.5) == float("-inf") and _db(float("-inf")) == "no signal"
    row = _finite(Layer("relu", "RELU", ("relu",), 0.3, float("inf"), 0.0, 0))
    assert row["snr_db"] is None and row["snr_note"] == "exact"


def test_a_floor_given_like_export_s_min_agreement_replaces_the_format_s(fake_runtime, tmp_path):
    pixels = np.zeros((6, 4, 4, 3), np.uint8)
    # a floor of 0 is a top-1 budget alone: plain int8 (top-1 unchanged) meets it
    found = search(FakeFamily(), pixels, LABELS, FLOAT, 0.5, 3, tmp_path, lambda _: None, min_agreement=0.0)
    assert found.chosen == [] and found.met and found.ranked == []
