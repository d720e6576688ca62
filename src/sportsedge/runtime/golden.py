"""The golden check: every exported artifact carries two fixed inputs' scores, computed by the
exporter's runtime, so any device can prove it runs the file correctly (`sportsedge verify`,
``Classifier.load(..., verify=True)``).

It catches what parity checks on the export machine cannot: a broken or miscompiled kernel on the
device (e.g. XNNPACK's int8 kernels on a CPU that advertises features it does not have), a
corrupted copy of the file, or an incompatible engine version. The inputs are regenerated from a
seed (numpy's PCG64 stream is the same on every platform), so the file stores only the scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sportsedge.core.metrics import predicted


class Scorer(Protocol):
    """What the golden check needs of a model (a Classifier has it): no import of the classifier,
    which imports this module."""

    input_size: tuple[int, int]  # (height, width) its inputs are made at

    def outputs(self, pixels: np.ndarray) -> np.ndarray:
        """Raw outputs (N, classes) of raw uint8 pixels."""
        ...


GOLDEN_VERSION = 1  # bump when golden_inputs() changes: older goldens then no longer apply


@dataclass(frozen=True)
class Golden:
    """The golden check an export stores: two fixed inputs, the scores they gave there, and the tolerance."""

    seed: int  # golden_inputs(input size, seed) are the inputs
    scores: tuple[tuple[float, ...], ...]  # the exporter's runtime raw outputs (Classifier.outputs), one row per input
    atol: float  # largest |difference| a correct engine may show on another machine, in output units (golden_bound)
    version: int = GOLDEN_VERSION  # of golden_inputs()

    def to_dict(self) -> dict[str, Any]:
        """As stored in the model's metadata."""
        return {"seed": self.seed, "scores": [list(r) for r in self.scores], "atol": self.atol, "version": self.version}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Golden:
        """From the model's metadata."""
        return cls(
            int(d["seed"]),
            tuple(tuple(float(v) for v in r) for r in d["scores"]),
            float(d["atol"]),
            int(d.get("version", 1)),
        )


@dataclass(frozen=True)
class GoldenResult:
    """The golden check run on this machine's engine."""

    ok: bool  # every score within atol (for bit-exact formats, atol 0, that means the same top-1 too)
    max_diff: float  # largest |score - golden score|
    atol: float  # the bound it was held to
    top1_changed: int  # inputs whose top-1 class differs from the golden one
    inputs: int  # inputs checked

    def describe(self) -> str:
        """One line: passed or failed, and by how much."""
        text = f"{self.inputs} inputs, max |diff| {self.max_diff:.1e} (allowed {self.atol:.1e})"
        return text + (f", top-1 differs on {self.top1_changed}" if self.top1_changed else "")


def golden_inputs(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Two uint8 images (2, H, W, 3): seeded noise, and a smooth colour ramp (image-like statistics)."""
    h, w = size
    noise = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = np.stack(
        [xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) * 255 // max(h + w - 2, 1)], axis=-1
    ).astype(np.uint8)
    return np.stack([noise, ramp])


def golden_bound(scores: np.ndarray, atol: float, rel: float = 0.0) -> float:
    """A golden check's bound in the unit of the file's output: ``atol``, or ``rel`` times the
    range of the golden scores when that is larger (logits span tens of units in a trained model
    and a few in a tiny one, probabilities at most 1: a bound in probability units does not fit
    logits)."""
    return max(float(atol), float(rel) * float(np.ptp(np.asarray(scores, np.float64))))


def make_golden(clf: Scorer, atol: float, rel: float = 0.0, seed: int = 0) -> Golden:
    """The golden record of a loaded Classifier (on the export machine), its bound from the
    format's ``atol`` and ``rel`` (formats.py; see golden_bound)."""
    scores = clf.outputs(golden_inputs(clf.input_size, seed))
    return Golden(seed, tuple(tuple(float(v) for v in row) for row in scores), golden_bound(scores, atol, rel))


def check_golden(clf: Scorer, golden: Golden) -> GoldenResult:
    """Recompute the golden inputs' scores with this machine's engine and compare."""
    expected = np.asarray(golden.scores, np.float64)
    got = clf.outputs(golden_inputs(clf.input_size, golden.seed)).astype(np.float64)
    if got.shape != expected.shape:
        return GoldenResult(False, float("inf"), golden.atol, len(expected), len(expected))
    diff = float(np.abs(got - expected).max())
    changed = int(np.sum(predicted(got) != predicted(expected)))
    # Top-1 changes are reported, not judged: on the noise input every class scores low, and engines
    # whose int8 kernels legitimately differ (ONNX Runtime x86 vs ARM) can swap near-tied classes.
    return GoldenResult(diff <= golden.atol, diff, golden.atol, changed, len(expected))
