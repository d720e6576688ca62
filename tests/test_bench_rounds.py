"""Benchmarks on a noisy machine: interleaved rounds, intervals, ties, thread scaling, --compare,
and the LiteRT cross-check's absence. Synthetic timings with known answers (no timing thresholds)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from sportsedge import cli
from sportsedge.bench.report import flag_thread_scaling, recommendation, recommended
from sportsedge.bench.rounds import Timed, run_rounds, schedule, summarise
from sportsedge.bench.stats import interval
from sportsedge.bench.timing import TimingJob


def _job(path="a.tflite", threads=1) -> TimingJob:
    return TimingJob(
        path=path,
        threads=threads,
        pixels=np.zeros((1, 4, 4, 3), np.uint8),
        image_paths=("x.jpg",),
        runs=3,
        warmup=1,
        e2e_runs=5,
        camera_runs=2,
        throughput_images=4,
    )


def test_rounds_interleave_every_row_before_the_next_round():
    assert schedule(3, 2) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    seen = []

    def fake_child(fn, job):
        seen.append((job.path, job.e2e_runs))
        return {"timings_ns": [1_000_000 * (len(seen))] * 3, "load_ms": 1.0, "peak_rss_mb": 50.0}

    timed = [Timed(_job(p), None, p) for p in ("a", "b", "c")]
    results = run_rounds(timed, 3, fake_child, say=lambda m: None)
    assert [p for p, _ in seen] == ["a", "b", "c"] * 3
    assert [e for _, e in seen] == [5, 5, 5] + [0] * 6  # the once-per-row extras only in round 1
    assert [len(r) for r in results] == [3, 3, 3]
    row = summarise(results[1], timed[1].job)  # b: rounds measured 2, 5, 8 ms
    assert row["latency_rounds_ms"] == [2.0, 5.0, 8.0] and row["latency_ms_p50"] == 5.0
    assert row["timings_ns"] == [[2_000_000] * 3, [5_000_000] * 3, [8_000_000] * 3]


def test_interval_known_answers():
    one = interval([4.0])
    assert (one.p50, one.low, one.high, one.rounds) == (4.0, 4.0, 4.0, 1) and not one.stable
    same = interval([3.0] * 7)
    assert same.low == same.high == 3.0 and same.stable and same.spread == 0.0
    # Five rounds: the bootstrap median lands on the fastest round with probability 5.8% > 2.5%,
    # so the 95% interval is the range of the round medians.
    five = interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (five.p50, five.low, five.high) == (3.0, 1.0, 5.0) and five.spread == pytest.approx(4 / 3)
    # 21 rounds 1..21: the order-statistic 95% interval of a median of 21 is [x(6), x(16)].
    many = interval(np.arange(1.0, 22.0))
    assert many.p50 == 11.0 and 5.0 <= many.low <= 8.0 and 14.0 <= many.high <= 17.0
    assert interval([10.0, 10.2, 10.1]).stable and not interval([10.0, 14.0, 10.1]).stable


def _row(fmt, p50, low, high, top1=0.9, threads=1, size=1e6, model="m"):
    ext = ".onnx" if fmt.startswith("onnx") else ".tflite"
    ci = {"latency_ci_low": low, "latency_ci_high": high, "latency_spread": 0.1, "rounds": 5}
    return {
        "model": model,
        "format": fmt,
        "threads": threads,
        "latency_ms_p50": p50,
        **ci,
        "top1": top1,
        "size_bytes": size,
        "path": f"/x/{model}-{fmt}{ext}",
    }


def test_overlapping_intervals_are_a_tie_broken_by_the_rule():
    rows = [
        _row("onnx-int8", 3.5, 3.3, 3.9),
        _row("tflite-int8", 3.7, 3.4, 4.2, size=2e6),
        _row("tflite-fp32", 6.0, 5.8, 6.3),
    ]
    line = recommendation(rows)
    assert "tie within noise" in line and "onnx-int8" in line and "tflite-int8" in line
    assert "tflite-fp32" not in line.split("tie within noise")[1].split("by fewer")[0]
    assert recommended(rows)["format"] == "tflite-int8"  # fewer runtime dependencies beats 0.2 ms of noise
    why, fastest = line.splitlines()[1:3]  # what the tie rule did, and the fastest: never "Fastest" for the pick
    assert why.startswith("  Tied within noise within 1 point") and why.endswith(
        "the tie rule picked m tflite-int8, 2.00 MB"
    )
    assert fastest == "  (not the fastest: m onnx-int8 at p50 3.50 ± 0.30 ms)", fastest
    rows[1].update(latency_ci_low=3.95, latency_ci_high=4.3)  # now clearly slower: no tie, the fastest wins
    rows[1]["latency_ms_p50"] = 4.1
    assert "tie" not in recommendation(rows) and recommended(rows)["format"] == "onnx-int8"
    # Within one runtime, the smaller file, then fewer threads.
    rows = [_row("tflite-int8", 3.5, 3.3, 3.9, threads=2), _row("tflite-int8", 3.6, 3.4, 3.8, threads=1)]
    assert recommended(rows)["threads"] == 1


def test_thread_scaling_flag():
    rows = [
        _row("tflite-int8", 3.6, 3.5, 3.7),
        _row("tflite-int8", 3.9, 3.4, 4.5, threads=2),
        _row("tflite-fp32", 7.0, 6.9, 7.1),
        _row("tflite-fp32", 4.0, 3.9, 4.1, threads=2),
    ]
    flag_thread_scaling(rows)
    assert rows[1]["no_thread_gain"] and not rows[3]["no_thread_gain"] and "no_thread_gain" not in rows[0]


def _results(tmp_path, name, rows, cpu):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"rows": rows, "environment": {"cpu": cpu, "git_commit": "abc"}}))
    return folder / "results.json"


def test_compare_matches_rows_and_flags_differences_beyond_noise(tmp_path, capsys):
    a = _results(
        tmp_path,
        "pi4",
        [
            _row("tflite-int8", 10.0, 9.5, 10.5),
            _row("tflite-fp32", 20.0, 19.0, 21.0),
            _row("onnx-int8", 12.0, 11.0, 13.0),
        ],
        "Cortex-A72",
    )
    b = _results(
        tmp_path, "pi5", [_row("tflite-fp32", 19.5, 18.0, 21.5), _row("tflite-int8", 5.0, 4.8, 5.3)], "Cortex-A76"
    )
    out = tmp_path / "cmp"
    assert cli.main(["bench", "--compare", str(a), str(b.parent), "--out", str(out)]) == 0
    md = capsys.readouterr().out
    assert "pi4 p50 ms" in md and "pi5 p50 ms" in md and "Cortex-A76" in md
    with open(out / "compare.csv") as f:
        recs = {r["format"]: r for r in csv.DictReader(f)}
    assert float(recs["tflite-int8"]["pi5 ratio"]) == pytest.approx(0.5)
    assert recs["tflite-int8"]["pi5 beyond noise"] == "True"
    assert recs["tflite-fp32"]["pi5 beyond noise"] == "False"  # 19.5 vs 20.0: within noise
    assert recs["onnx-int8"]["pi5"] == ""  # not measured on the second machine
    assert "0.50x" in md and "no (within noise)" in md


def test_compare_needs_two_readable_results(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    for argv in (["bench", "--compare", str(bad)], ["bench", "--compare", str(bad), str(bad)]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err


def test_missing_litert_benchmark_is_reported_once(exported, colour_dataset, tmp_path, monkeypatch):
    from sportsedge.bench import crosscheck
    from sportsedge.bench.config import BenchConfig
    from sportsedge.bench.run import bench

    monkeypatch.setattr(crosscheck, "find_tool", lambda: None)
    out_dir, _, _ = exported
    said = []
    cfg = BenchConfig(
        threads=(1, 2), runs=4, rounds=2, warmup=1, e2e_runs=1, camera_runs=0, throughput_images=2, cross_check=True
    )
    rows = bench([out_dir / "tiny-tflite-int8.tflite"], colour_dataset / "test", tmp_path / "b", cfg, say=said.append)
    assert sum("litert-benchmark not found" in m for m in said) == 1
    assert len(rows) == 2 and all("litert_p50_ms" not in r and r["latency_ms_p50"] > 0 for r in rows)
