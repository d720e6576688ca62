"""Benchmarks: honest shapes and numbers (never timing thresholds), TF-free."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess

import numpy as np
import pytest

from sportsedge.bench.plot import pareto_front
from sportsedge.bench.report import FIELDS, recommendation

from isolation import TENSORFLOW_SIDE, run_python

VIDEO = importlib.util.find_spec("av") is not None  # the video extra: the 1080p clip's frames/s
PLOTS = importlib.util.find_spec("matplotlib") is not None  # the train extra's matplotlib: pareto.png


def bench_blocked(argv: list, blocked=TENSORFLOW_SIDE) -> subprocess.CompletedProcess:
    """`sportsedge bench ARGV` in a subprocess where the ``blocked`` modules cannot be imported."""
    code = f"from sportsedge.cli import main\nsys.exit(main(['bench', *{[str(a) for a in argv]!r}]))\n"
    proc = run_python(code, blocked)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="session")
def bench_out(exported, colour_dataset, tmp_path_factory):
    """`sportsedge bench` on the tiny export folder, with TensorFlow blocked."""
    out_dir, _, _ = exported
    out = tmp_path_factory.mktemp("bench")
    proc = bench_blocked(
        [
            out_dir,
            "--data",
            colour_dataset / "test",
            "--out",
            out,
            "--threads",
            "1,2",
            "--runs",
            "30",
            "--warmup",
            "3",
            "--rounds",
            "2",
            "--cross-check",
        ]
    )
    return out, proc


def test_runs_without_tensorflow_and_writes_everything(bench_out):
    out, proc = bench_out
    for f in ("results.json", "results.csv", "results.md"):
        assert (out / f).stat().st_size > 0, f
    if PLOTS:
        assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:  # a device without matplotlib: everything but the plot
        assert not (out / "pareto.png").exists()
    from PIL import Image

    with Image.open(out / "media" / "camera-4056x3040.jpg") as img:
        assert img.size == (4056, 3040)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("recommended: tiny-") and len(lines[0]) <= 120  # the answer first, short
    assert lines[1].startswith(("  Fastest within 1 point of the best top-1", "  Tied within noise within 1 point"))
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    assert lines[header].split()[:3] == ["model", "format", "thr"] and lines[header - 1] == ""  # the table, after
    assert max(len(line) for line in lines) <= 120
    assert lines[-1].endswith("results.md (every column: --wide)")


def test_rows_complete_and_ordered(bench_out, exported):
    out, _ = bench_out
    res = json.loads((out / "results.json").read_text())
    rows = res["rows"]
    assert len(rows) == 6 * 2  # six formats x threads 1, 2
    assert {r["threads"] for r in rows} == {1, 2}
    # Only some rows have these: .tflite (cross-check), ONNX at 2 threads (shared session), threads > 1.
    optional = {"litert_p50_ms", "throughput_shared_img_s", "no_thread_gain"}
    for r in rows:
        assert set(FIELDS) - optional <= set(r), set(FIELDS) - optional - set(r)
        assert 0 < r["latency_ms_p50"] <= r["latency_ms_p99"]
        # Every round's raw timings are kept, and the figures recompute from them.
        assert len(r["timings_ns"]) == r["rounds"] == 2 and all(len(t) == 15 for t in r["timings_ns"])
        assert r["latency_ms_p50"] == pytest.approx(np.median([np.median(t) / 1e6 for t in r["timings_ns"]]))
        assert r["latency_ci_low"] <= r["latency_ms_p50"] <= r["latency_ci_high"] and isinstance(r["stable"], bool)
        assert r["throughput_img_s"] > 0
        assert (r["litert_p50_ms"] > 0) if r["path"].endswith(".tflite") else "litert_p50_ms" not in r
        assert ("throughput_shared_img_s" in r) == (r["path"].endswith(".onnx") and r["threads"] == 2)
        assert ("no_thread_gain" in r) == (r["threads"] == 2)
        assert r["peak_rss_mb"] > 10 and r["load_ms"] > 0 and r["e2e_ms_p50"] > 0
        # A 4056x3040 JPEG and (with the video extra) a 1080p clip made from the split, measured;
        # no comparison of two timings here (benchmarks compare, tests count).
        assert r["e2e_camera_ms_p50"] > 0
        assert (r["video_fps"] > 0) if VIDEO else r["video_fps"] is None
        assert r["n_images"] == 9 and 0 <= r["top1"] <= r["top5"] <= 1
    assert res["environment"]["cores"] >= 1 and "numpy" in res["environment"]["versions"]
    with open(out / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 12


def test_fp32_agrees_with_itself_and_quantized_compared(bench_out, colour_dataset):
    from sportsedge.core.metrics import predicted
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.imagesets import load_images

    out, _ = bench_out
    rows = json.loads((out / "results.json").read_text())["rows"]
    by_format = {r["format"]: r for r in rows}
    assert by_format["tflite-fp32"]["agreement_vs_fp32"] == 1.0  # the reference row (see below) is itself
    files = sorted((colour_dataset / "test").glob("*/*"))
    pixels, _ = load_images(files, (32, 32), "test")
    reference = predicted(Classifier.load(by_format["tflite-fp32"]["path"]).scores(pixels))
    for fmt in ("tflite-int8", "onnx-int8", "tflite-fp32"):
        mine = predicted(Classifier.load(by_format[fmt]["path"]).scores(pixels))
        assert by_format[fmt]["agreement_vs_fp32"] == pytest.approx(float(np.mean(mine == reference)))
        assert isinstance(by_format[fmt]["worst_classes"], list)


def test_accuracy_matches_a_direct_computation(bench_out, exported, colour_dataset):
    from sportsedge.runtime import Classifier

    out, _ = bench_out
    rows = json.loads((out / "results.json").read_text())["rows"]
    row = next(r for r in rows if r["format"] == "tflite-int8")
    clf = Classifier.load(row["path"])
    files = sorted((colour_dataset / "test").glob("*/*"))
    hits = [clf.predict(f, top_k=1)[0].label == f.parent.name for f in files]
    assert row["top1"] == pytest.approx(np.mean(hits))


def test_pareto_front_and_recommendation():
    pts = [(1.0, 0.5), (2.0, 0.9), (1.5, 0.4), (3.0, 0.95), (2.5, 0.85)]
    assert pareto_front(pts) == [0, 1, 3]
    rows = [
        {
            "model": "m",
            "format": f,
            "threads": 1,
            "latency_ms_p50": lat,
            "top1": acc,
            "size_bytes": 1e6,
            "path": f"/x/{f}",
        }
        for f, (lat, acc) in zip("abcde", pts)
    ]
    assert recommendation(rows).startswith("recommended: d, 1 thread(s)")  # nothing else within 1 point of 0.95
    rows[1]["top1"] = 0.945  # now b is within 1 point, and faster
    assert recommendation(rows).startswith("recommended: b, 1 thread(s)")
    assert "saturate" not in recommendation(rows)


def test_saturated_accuracy_is_said():
    """The demo's easy scenes: every model at 100% — the recommendation says accuracy does not
    separate them (one model at 100% alone says nothing)."""
    rows = [
        {
            "model": m,
            "format": "tflite-int8",
            "threads": 1,
            "latency_ms_p50": lat,
            "top1": 1.0,
            "size_bytes": 1e6,
            "path": f"/x/{m}",
        }
        for m, lat in (("cnn", 1.0), ("lite0", 2.0))
    ]
    assert "every artifact scores 100.0% top-1 here: these images saturate accuracy" in recommendation(rows)
    assert "saturate" not in recommendation(rows[:1])


def test_bad_inputs(tmp_path, exported, colour_dataset):
    from sportsedge.bench.run import bench, discover
    from sportsedge.core.errors import InputError

    with pytest.raises(InputError, match="no such model file"):
        discover([tmp_path / "nope.tflite"])
    with pytest.raises(InputError, match="no .tflite or .onnx files in this folder"):
        discover([tmp_path])
    out_dir, _, _ = exported
    with pytest.raises(InputError, match="data folder not found"):
        bench([out_dir], tmp_path / "nodata", tmp_path / "o", say=lambda m: None)
    with pytest.raises(InputError, match="pass one split folder"):  # the dataset root by mistake
        bench([out_dir / "tiny-onnx-fp32.onnx"], colour_dataset, tmp_path / "o", say=lambda m: None)


def test_without_matplotlib_results_are_still_written(exported, colour_dataset, tmp_path):
    """On a device with only the runtime installed there is no matplotlib: no PNG, a warning."""
    out_dir, _, _ = exported
    proc = bench_blocked(
        [
            out_dir / "tiny-tflite-int8.tflite",
            "--data",
            colour_dataset / "test",
            "--out",
            tmp_path,
            "--threads",
            "1",
            "--runs",
            "5",
        ],
        blocked=("tensorflow", "keras", "matplotlib"),
    )
    assert (tmp_path / "results.md").is_file() and not (tmp_path / "pareto.png").exists()
    assert "warning: pareto.png not written: matplotlib is not installed" in proc.stderr


def test_keras_baseline_row(fresh_export, tiny_run, colour_dataset, tmp_path):
    from sportsedge.bench.config import BenchConfig
    from sportsedge.bench.run import bench

    out_dir, _, _ = fresh_export  # the export of this very run
    rows = bench(
        [out_dir / "tiny-onnx-fp32.onnx"],
        colour_dataset / "test",
        tmp_path,
        BenchConfig(threads=(1,), runs=5, warmup=1, e2e_runs=2),
        keras_runs=[tiny_run],
        say=lambda m: None,
    )
    keras_row, onnx_row = rows[0], rows[1]
    assert keras_row["format"] == "keras-fp32" and keras_row["path"].endswith("model.keras")
    assert keras_row["top1"] == onnx_row["top1"] and keras_row["agreement_vs_fp32"] == 1.0
    assert keras_row["latency_ms_p50"] > 0 and keras_row["peak_rss_mb"] > onnx_row["peak_rss_mb"]  # TF is big
    assert "keras-fp32" in (tmp_path / "results.md").read_text()


def test_the_reference_row_is_tflite_fp32(bench_out):
    import json

    from sportsedge.bench.run import REFERENCE_FORMATS, reference_rows

    rows = [{"model": "m", "format": f} for f in ("onnx-fp32", "tflite-int8", "tflite-fp32")]
    rows.append({"model": "n", "format": "onnx-fp32"})
    assert REFERENCE_FORMATS[0] == "tflite-fp32"
    assert reference_rows(rows) == {"m": 2, "n": 3}  # TFLite float32 preferred; ONNX when it is all there is
    out, _ = bench_out
    by_format = {r["format"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert by_format["tflite-fp32"]["agreement_vs_fp32"] == 1.0 and by_format["tflite-fp32"]["worst_classes"] == []


def test_macs_are_counted_from_the_graph_and_onnx_rows_take_their_models(bench_out):
    """The tiny model: Conv2D(4, 3x3) valid on 32x32x3 (30x30x4 outputs x 27) and Dense 4 -> 3."""
    out, _ = bench_out
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["macs"] for r in rows} == {30 * 30 * 4 * 27 + 4 * 3}
    assert {r["format"] for r in rows} >= {"onnx-fp32", "tflite-int8", "tflite-fp16"}


@pytest.mark.tensorflow
def test_macs_of_depthwise_and_strided_layers(tmp_path):
    import tensorflow as tf

    from sportsedge.bench.macs import tflite_macs

    inp = tf.keras.Input((64, 48, 3))
    x = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same")(inp)  # 32x24x8 x 27
    x = tf.keras.layers.DepthwiseConv2D(5, padding="same")(x)  # 32x24x8 x 25
    x = tf.keras.layers.Conv2D(16, 1)(x)  # 32x24x16 x 8
    x = tf.keras.layers.Dense(10)(tf.keras.layers.GlobalAveragePooling2D()(x))  # 16 x 10
    path = tmp_path / "m.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, x)).convert())
    assert tflite_macs(path) == 32 * 24 * 8 * 27 + 32 * 24 * 8 * 25 + 32 * 24 * 16 * 8 + 16 * 10


def test_classes_are_checked_before_any_image_is_decoded(exported, tmp_path, monkeypatch):
    from PIL import Image

    from sportsedge.bench import run
    from sportsedge.bench.config import BenchConfig
    from sportsedge.core.errors import InputError

    (tmp_path / "data" / "purple").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(tmp_path / "data" / "purple" / "0.png")

    def no_decoding(*args, **kw):
        raise AssertionError("images decoded before the classes were checked")

    monkeypatch.setattr(run, "load_images", no_decoding)
    out_dir, _, _ = exported
    with pytest.raises(InputError, match="the data has classes the model does not know: purple"):
        run.bench(
            [out_dir / "tiny-onnx-fp32.onnx"], tmp_path / "data", tmp_path / "out", BenchConfig(), say=lambda m: None
        )


def test_an_unlabelled_folder_is_timed_but_not_scored(exported, colour_dataset, tmp_path):
    import shutil

    from sportsedge.bench.config import BenchConfig
    from sportsedge.bench.run import bench

    flat = tmp_path / "photos"
    flat.mkdir()
    for i, f in enumerate(sorted((colour_dataset / "test").rglob("*.*"))):
        shutil.copy(f, flat / f"{i}{f.suffix}")
    messages = []
    out, _, _ = exported
    config = BenchConfig(threads=(1,), runs=4, rounds=1, warmup=1, e2e_runs=1, camera_runs=0, throughput_images=0)
    rows = bench([out], flat, tmp_path / "out", config, say=messages.append)
    assert len(rows) == 6 and all(r["top1"] is None and r["latency_ms_p50"] > 0 for r in rows)
    assert all(r["n_images"] == 9 and r["agreement_vs_fp32"] is not None for r in rows)
    assert sum("no class folders" in m for m in messages) == 1  # said once
    from sportsedge.bench.report import recommendation

    assert "Fastest (no accuracy figures: unlabelled images)" in recommendation(rows).splitlines()[1]


def test_the_pareto_plot_marks_the_pick_shows_a_one_point_front_and_covers_every_point():
    from sportsedge.bench.plot import pareto_view

    def row(f, lat, acc):
        return {"model": "m", "format": f, "threads": 1, "latency_ms_p50": lat, "top1": acc, "size_bytes": 1e6,
                "path": f"/x/{f}.tflite"}  # fmt: skip

    rows = [row("a", 1.0, 0.95), row("b", 2.0, 0.90), row("c", 9.0, 0.50)]
    view = pareto_view(rows)
    assert [r["format"] for r in view.front] == ["a"]  # one point: still a front to draw
    assert view.pick is not None and view.pick["format"] == "a"
    assert view.xlim[0] < 1.0 and view.xlim[1] > 9.0 and view.ylim[0] < 50 and view.ylim[1] > 95
