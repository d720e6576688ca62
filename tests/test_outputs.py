"""int8 files that still rank: logits out of the int8 graph, one float output rule in the runtime."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sportsedge import cli
from sportsedge.core import metrics
from sportsedge.core.outputs import OutputKind, looks_like_probabilities, probabilities

from conftest import LABELS, noisy, solid
from model_fixtures import FIXTURES


def test_logits_rule_is_a_stable_softmax():
    logits = np.array([[1000.0, 999.0, 990.0], [0.0, 0.0, 0.0]], np.float32)  # exp(1000) would overflow
    p = probabilities(logits, OutputKind.LOGITS)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert np.isfinite(p).all() and p[0, 0] > p[0, 1] > p[0, 2] > 0
    np.testing.assert_allclose(p[1], 1 / 3, atol=1e-7)


def test_probabilities_rule_renormalises_and_keeps_the_order():
    quantized = np.array([[0.99609375, 0.0, 0.00390625], [0.0, 0.0, 0.0]], np.float32)  # a uint8 softmax's steps
    p = probabilities(quantized, "probabilities")
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert list(metrics.ranked(p[0])) == list(metrics.ranked(quantized[0]))
    np.testing.assert_allclose(p[1], 1 / 3)  # no ranking at all: uniform, not a division by zero


def test_detection_of_probabilities():
    assert looks_like_probabilities(np.array([[0.2, 0.8], [0.5, 0.5]]))
    assert not looks_like_probabilities(np.array([[2.0, -1.0], [0.5, 0.5]]))
    assert not looks_like_probabilities(np.array([[0.2, 0.2]]))


def test_top5_overlap_and_order_on_known_rankings():
    ref = np.array([[9, 8, 7, 6, 5, 4, 0], [9, 8, 7, 6, 5, 4, 0]], float)
    same = ref.copy()
    swapped = np.array([[8, 9, 7, 6, 5, 4, 0], [9, 8, 7, 6, 0, 4, 5]], float)  # order; then one class out
    assert metrics.topk_overlap(same, ref) == 1.0 and metrics.topk_order_match(same, ref) == 1.0
    assert metrics.topk_overlap(swapped, ref) == pytest.approx((1.0 + 0.8) / 2)
    assert metrics.topk_order_match(swapped, ref) == 0.0


def _images():
    return np.stack([noisy(c, seed) for seed in range(4) for c in LABELS])


def test_int8_exports_end_at_logits_and_rank_without_zero_ties(exported):
    from sportsedge.runtime import Classifier

    out, manifest, _ = exported
    for fmt in ("tflite-int8", "onnx-int8"):
        entry = manifest["artifacts"][f"tiny-{fmt}" + (".tflite" if fmt.startswith("tflite") else ".onnx")]
        assert entry["output"] == "logits", fmt
        # Three classes: every top-5 set is all of them, so the overlap with Keras is exactly 1.
        assert entry["parity"]["top5_overlap"] == 1.0 and "top5_order" in entry["parity"]
        clf = Classifier.load(out / entry["path"])
        assert clf.output is OutputKind.LOGITS
        probs = clf.scores(_images())
        assert (probs > 0).all(), fmt  # no class reads as exactly 0: every place of the ranking means something
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    float_entry = manifest["artifacts"]["tiny-tflite-fp32.tflite"]
    assert float_entry["output"] == "probabilities"  # float files keep their softmax (the same bytes as before)


def test_every_artifact_gives_probabilities_summing_to_one(exported):
    from sportsedge.runtime import Classifier

    out, manifest, _ = exported
    for name in manifest["artifacts"]:
        probs = Classifier.load(out / name).scores(_images())
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5, err_msg=name)


def test_old_style_int8_file_with_a_softmax_still_predicts_the_same(labelled_models):
    """A file from before logits exports: its uint8 softmax ties at 0, and the runtime keeps its order."""
    from sportsedge.runtime import Classifier

    clf = Classifier.load(labelled_models["tflite-int8"])
    assert clf.output is OutputKind.PROBABILITIES
    pixels = np.stack([solid(c) for c in LABELS])
    raw, probs = clf.outputs(pixels), clf.scores(pixels)
    assert (raw == 0).any()  # what the logits exports fix: a softmax on a 1/256 scale reads 0
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    for i, colour in enumerate(LABELS):
        preds = clf.predict(pixels[i], top_k=3)
        assert [p.index for p in preds] == list(metrics.ranked(raw[i]))
        assert preds[0].label == colour


def test_golden_check_compares_raw_outputs(exported):
    """Goldens store the file's raw outputs: bit-exact for int8, and old files' goldens still apply."""
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.golden import golden_inputs

    out, manifest, _ = exported
    clf = Classifier.load(out / "tiny-tflite-int8.tflite")
    expected = np.asarray(clf.metadata.golden.scores)
    np.testing.assert_array_equal(clf.outputs(golden_inputs(clf.input_size)), expected)
    assert clf.verify().ok


# ---------------------------------------------------------------- sportsedge label


def test_label_a_model_converted_elsewhere(tmp_path, capsys):
    from sportsedge.runtime import Classifier

    model = tmp_path / "from_torch.onnx"  # expects 0..1 pixels, NCHW, ends in a softmax
    shutil.copy(FIXTURES / "foreign" / "nchw-softmax.onnx", model)
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    assert cli.main(["label", str(model), "--labels", str(labels), "--preprocess", "unit"]) == 0
    assert "3 labels" in capsys.readouterr().out
    clf = Classifier.load(model)
    assert clf.labels == LABELS and clf.output is OutputKind.PROBABILITIES
    assert clf.metadata.input_transform.name == "unit"
    for colour in LABELS:  # the runtime applies the transform: raw pixels in, the right colour out
        assert clf.predict(solid(colour), top_k=1)[0].label == colour
    code = cli.main(["label", str(model), "--labels", str(labels)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "already carries metadata" in err and "\n" not in err
    assert (
        cli.main(["label", str(model), "--labels", str(labels), "--preprocess", "unit", "--force", "--name", "t"]) == 0
    )
    assert Classifier.load(model).metadata.model_name == "t"


def test_label_refuses_a_wrong_label_count(tiny_models, copy_model, tmp_path, capsys):
    model = copy_model(tiny_models["tflite-fp32"])
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    code = cli.main(["label", str(model), "--labels", str(labels)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "outputs 3 scores but --labels names 2" in err and "\n" not in err
