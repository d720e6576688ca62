"""The TypedDicts of core/records.py describe what export and bench really write."""

from __future__ import annotations

import json

from sportsedge.bench.report import FIELDS
from sportsedge.core.records import BenchRow, ManifestEntry, Parity

from model_fixtures import FIXTURES


def test_manifest_entries_have_only_typed_keys():
    manifest = json.loads((FIXTURES / "exported" / "manifest.json").read_text())
    for name, entry in manifest["artifacts"].items():
        assert set(entry) <= set(ManifestEntry.__annotations__), (name, set(entry) - set(ManifestEntry.__annotations__))
        assert set(entry["parity"]) <= set(Parity.__annotations__), name


def test_bench_rows_have_only_typed_keys(exported, colour_dataset, tmp_path):
    from sportsedge.bench.config import BenchConfig
    from sportsedge.bench.run import bench

    out, _, _ = exported
    config = BenchConfig(threads=(1,), runs=4, rounds=1, warmup=1, e2e_runs=1, camera_runs=0, throughput_images=0)
    rows = bench([out / "tiny-tflite-int8.tflite"], colour_dataset / "test", tmp_path, config, say=lambda m: None)
    for row in rows:
        assert set(row) <= set(BenchRow.__annotations__), set(row) - set(BenchRow.__annotations__)
    assert set(FIELDS) <= set(BenchRow.__annotations__)  # the report's columns are typed rows' keys
