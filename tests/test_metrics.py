"""metrics.py: the one prediction rule (ties to the lower index) and the report numbers."""

from __future__ import annotations

import numpy as np
import pytest

from sportsedge.core import metrics


def tied_scores(rows: int = 2000, classes: int = 10, seed: int = 0) -> np.ndarray:
    """int8-like outputs: a 1/256 grid, most scores exactly 0 and many ties."""
    rng = np.random.default_rng(seed)
    return np.floor(rng.dirichlet(np.full(classes, 0.3), rows) * 8) / 256


def test_ties_go_to_the_lower_index_everywhere():
    s = np.array([[0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    assert metrics.ranked(s).tolist() == [[1, 2, 0, 3], [0, 1, 2, 3]]
    assert metrics.predicted(s).tolist() == [1, 0]
    assert metrics.ranked(s[0], 2).tolist() == [1, 2]  # one row works too


def test_one_rule_on_many_tied_rows():
    s = tied_scores()
    ties = np.mean([len(set(r)) < len(r) for r in s])
    assert ties > 0.9  # the fixture really is tie-heavy
    assert (metrics.ranked(s, 1)[:, 0] == metrics.predicted(s)).all()
    labels = metrics.predicted(s)
    # top-1 through top_k_accuracy agrees with argmax, so it scores 1.0 against argmax labels.
    assert metrics.top_k_accuracy(s, labels, 1) == 1.0
    # For each k, "label in top-k" means: its score beats the k-th, or ties it at a lower index.
    y = np.random.default_rng(1).integers(0, 10, len(s))
    for k in (2, 5):
        top = metrics.ranked(s, k)
        expected = np.mean([(y[i] in top[i]) for i in range(len(s))])
        assert metrics.top_k_accuracy(s, y, k) == pytest.approx(expected)
        kth = np.take_along_axis(s, top[:, -1:], 1)[:, 0]
        mine = s[np.arange(len(s)), y]
        inside = (mine > kth) | ((mine == kth) & (y <= top[:, -1]))
        assert (inside == np.any(top == y[:, None], axis=1)).all()


def test_top1_known_and_agreement():
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    assert metrics.top1_known(p, np.array([0, 0, -1])) == 0.5  # the unknown image is left out
    assert metrics.top1_known(p, np.array([-1, -1, -1])) is None
    assert metrics.agreement(p, np.array([[1.0, 0.0], [0.0, 1.0], [0.4, 0.6]])) == pytest.approx(2 / 3)


def test_top_k_accuracy_edges():
    p = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    assert metrics.top_k_accuracy(p, np.array([2, 1]), 1) == 0.0
    assert metrics.top_k_accuracy(p, np.array([2, 1]), 2) == 1.0
    assert metrics.top_k_accuracy(p, np.array([2, 2]), 10) == 1.0  # k beyond the classes: all of them
    assert np.isnan(metrics.top_k_accuracy(p[:0], np.array([], int), 1))


def test_log_loss():
    p = np.array([[0.5, 0.5], [0.9, 0.1]])
    assert metrics.log_loss(p, np.array([0, 0])) == pytest.approx(-(np.log(0.5) + np.log(0.9)) / 2)
    assert metrics.log_loss(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-np.log(1e-7))  # clipped


def test_confusion_per_class_and_macro_f1():
    y = np.array([0, 0, 1, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0, 2])
    cm = metrics.confusion_matrix(pred, y, 4)
    assert cm.tolist() == [[1, 1, 0, 0], [1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    rows = metrics.per_class(cm, ["a", "b", "c", "d"])
    assert rows["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert rows["b"]["precision"] == pytest.approx(2 / 3) and rows["b"]["recall"] == pytest.approx(2 / 3)
    assert rows["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}  # undefined -> 0
    # Macro-F1 averages the classes present in the labels only (d is absent).
    assert metrics.macro_f1(pred, y, 4) == pytest.approx((0.5 + 2 / 3 + 1.0) / 3)
    assert np.isnan(metrics.macro_f1(pred[:0], y[:0], 4))


def test_summary_uses_the_rule():
    p = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])  # ties: predicted 0 and 1
    s = metrics.summary(p, np.array([0, 1]))
    assert s["top1"] == 1.0 and s["macro_f1"] == 1.0 and s["n"] == 2
    s = metrics.summary(p, np.array([1, 2]))
    assert s["top1"] == 0.0 and s["top5"] == 1.0


def test_report_text():
    rows = metrics.per_class(
        metrics.confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 3), ["alpha", "b", "never seen"]
    )
    text = metrics.report_text(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[2].split() == ["alpha", "1.000", "0.500", "0.667", "2"]
    assert lines[4].split() == ["never", "seen", "0.000", "0.000", "0.000", "0"]
    # The macro average leaves out classes with no support, and the support total is all images.
    assert lines[-1].split() == ["macro", "avg", "0.750", "0.750", "0.667", "3"]
