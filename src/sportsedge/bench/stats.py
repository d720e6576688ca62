"""Latency statistics over interleaved rounds: a median with a 95% confidence interval, the spread
between rounds, a stability flag, and the tie rule the recommendation and `--compare` use.

The interval is a percentile bootstrap over rounds: each round's median latency is one
observation (rounds run in fresh processes, interleaved across all rows, so drift on the machine
lands in every row alike and shows up as between-round spread); 2,000 resamples of the round
medians, seeded, give the distribution of their median. With 5 rounds this interval is close to
the range of the round medians: honest about a noisy machine, never narrower than the data.

Two rows measured in the same rounds are compared paired (``ratio``): the bootstrap runs over the
per-round ratios of their medians, so drift that slows a whole round cancels out. On this shared
2-core machine round medians of one file spread by 20-40% while the ratio of two files in the
same rounds moved by a few percent (docs/bench-noise.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95
STABLE_HALF_WIDTH = 0.05  # a row is stable when its interval's half-width is at most 5% of its median


@dataclass(frozen=True)
class Interval:
    p50: float  # median of the round medians (ms)
    low: float  # 95% bootstrap interval (ms)
    high: float
    spread: float  # (slowest - fastest round median) / p50
    rounds: int  # rounds measured

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def stable(self) -> bool:
        return self.rounds > 1 and self.half_width <= STABLE_HALF_WIDTH * self.p50

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high

    def fields(self) -> dict:
        """The row fields results.json and results.csv carry (from_row reads them back)."""
        return {
            "latency_ms_p50": self.p50,
            "latency_ci_low": self.low,
            "latency_ci_high": self.high,
            "latency_spread": self.spread,
            "stable": self.stable,
            "rounds": self.rounds,
        }


def interval(round_medians, seed: int = 0) -> Interval:
    """The median and its 95% bootstrap interval over per-round medians."""
    x = np.asarray(round_medians, np.float64)
    if x.size == 0:
        raise ValueError("no rounds")
    p50 = float(np.median(x))
    if x.size == 1:
        return Interval(p50, p50, p50, 0.0, 1)
    rng = np.random.default_rng(seed)
    boot = np.median(rng.choice(x, size=(BOOTSTRAP_SAMPLES, x.size), replace=True), axis=1)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    return Interval(p50, float(low), float(high), float((x.max() - x.min()) / p50), int(x.size))


def from_row(row: Mapping[str, Any]) -> Interval | None:
    """A results row's interval (None for rows from before rounds)."""
    if row.get("latency_ci_low") is None:
        return None
    return Interval(
        row["latency_ms_p50"], row["latency_ci_low"], row["latency_ci_high"], row["latency_spread"], row["rounds"]
    )


def ratio(row: Mapping[str, Any], base: Mapping[str, Any]) -> Interval | None:
    """The paired interval of row / base latency over rounds (None unless both have the same rounds)."""
    a, b = row.get("latency_rounds_ms"), base.get("latency_rounds_ms")
    if not a or not b or len(a) != len(b):
        return None
    return interval(np.asarray(a, np.float64) / np.asarray(b, np.float64))


def slower_beyond_noise(row: Mapping[str, Any], base: Mapping[str, Any]) -> bool:
    """``row`` is slower than ``base`` beyond noise: paired over rounds when both have them, else
    their intervals do not overlap."""
    paired = ratio(row, base)
    if paired is not None:
        return paired.low > 1.0
    a, b = from_row(row) or interval([row["latency_ms_p50"]]), from_row(base) or interval([base["latency_ms_p50"]])
    return a.low > b.high
