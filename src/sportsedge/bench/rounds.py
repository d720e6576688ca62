"""Timing in interleaved rounds: round 1 times every row (artifact x threads), then round 2 times
every row again, and so on, each measurement in a fresh process. Drift on a shared machine then hits
every row alike and becomes visible as between-round spread (stats.py), instead of making one row
look faster because it ran in a quiet minute."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sportsedge.bench.stats import interval
from sportsedge.bench.timing import TimingJob, percentiles


@dataclass(frozen=True)
class Timed:
    """One row to time: its job, the child-process function that measures it, and its label."""

    job: TimingJob  # the first round's job (later rounds drop the once-per-row extras)
    measure: Callable  # module-level function run in a fresh process: measure or measure_keras
    label: str  # for progress lines
    cross_check: bool = False  # also run litert-benchmark on it each round


def schedule(count: int, rounds: int) -> list[tuple[int, int]]:
    """(round, row) in the order they are measured: every row once per round, rounds in turn."""
    return [(r, i) for r in range(rounds) for i in range(count)]


def run_rounds(timed: list[Timed], rounds: int, run_child, say, litert=None) -> list[list[dict]]:
    """Per row, its rounds' raw results. ``run_child(fn, job)`` runs fn(job) in a fresh process;
    ``litert(job) -> ms | None`` is the cross-check, for rows that ask for it."""
    results: list[list[dict]] = [[] for _ in timed]
    order = schedule(len(timed), rounds)
    for k, (r, i) in enumerate(order, 1):
        t = timed[i]
        res = run_child(t.measure, t.job if r == 0 else t.job.later_round())
        if litert is not None and t.cross_check:
            res["litert_ms"] = litert(t.job)
        results[i].append(res)
        median = float(np.median(res["timings_ns"])) / 1e6
        say(f"[{k}/{len(order)}] round {r + 1}/{rounds} {t.label}: p50 {median:.2f} ms")
    return results


def summarise(rounds: list[dict], job: TimingJob) -> dict:
    """A row's fields from its rounds: the median and its interval over round medians, pooled
    percentiles, measured throughput, every round's raw timings, and the first round's extras."""
    medians = [float(np.median(r["timings_ns"])) / 1e6 for r in rounds]
    ci = interval(medians)
    pooled = percentiles([t for r in rounds for t in r["timings_ns"]])
    first = rounds[0]
    row = {
        **ci.fields(),
        "latency_ms_p90": pooled["p90"],
        "latency_ms_p99": pooled["p99"],
        "latency_ms_mean": pooled["mean"],
        "latency_rounds_ms": medians,
        "timings_ns": [r["timings_ns"] for r in rounds],
        "load_ms": float(np.median([r["load_ms"] for r in rounds])),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
        "e2e_ms_p50": first.get("e2e_ms_p50"),
        "runs": job.runs * len(rounds),
        "warmup": job.warmup,
    }
    for key in ("e2e_camera_ms_p50", "video_fps"):
        if key in first:
            row[key] = first[key]
    for key in ("throughput_img_s", "throughput_files_img_s", "throughput_shared_img_s"):
        values = [r[key] for r in rounds if r.get(key) is not None]
        if values:
            row[key] = float(np.median(values))
    litert = [r["litert_ms"] for r in rounds if r.get("litert_ms") is not None]
    if litert:
        row["litert_p50_ms"] = float(np.median(litert))
        row["litert_rounds_ms"] = litert
        row["litert_ratio"] = ci.p50 / row["litert_p50_ms"]
    return row
