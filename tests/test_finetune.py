"""Two-stage training (head, then top blocks on block-boundary features): stages, records, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sportsedge.core.errors import UsageError
from sportsedge.train.config import RunRecord, TrainConfig
from sportsedge.train.models import get_model

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


@pytest.fixture(scope="module")
def tiny_ft(tiny_registered):
    import tiny_registry  # noqa: F401  (registers tiny_ft)

    return "tiny_ft"


def _train(tmp_path, data, name="run", say=None, model="tiny_ft", **kw):
    from sportsedge.train.loop import train

    cfg = TrainConfig(model=model, data=str(data), out=str(tmp_path / name), **kw)
    return train(cfg, say=say or (lambda m: None))


def _weights(run):
    import keras

    return keras.models.load_model(run / "model.keras").get_weights()


def test_split_parts_compose(tiny_ft):
    """upper(lower(x)) and head(pool(lower(x))) are the model; only the head trains at first."""
    built = get_model(tiny_ft).build(3, "none")
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    whole = built.model.predict(x, verbose=0)
    boundary = built.lower.predict(x, verbose=0)
    assert np.allclose(built.upper.predict(boundary, verbose=0), whole, atol=1e-6)
    assert np.allclose(built.head.predict(built.pool.predict(boundary, verbose=0), verbose=0), whole, atol=1e-6)
    assert {w.path for w in built.model.trainable_weights} == {w.path for w in built.head.trainable_weights}


def test_mobilenet_v2_ft_parts():
    """The registered model: block-12 boundary, blocks 13-16 and the last conv unfreezable, BN never."""
    from sportsedge.train.stages import unfreeze

    built = get_model("mobilenet_v2_ft").build(4, "none")
    assert tuple(built.lower.output.shape[1:]) == (14, 14, 96)
    assert [g[0].name for g in built.blocks] == [
        "block_13_expand",
        "block_14_expand",
        "block_15_expand",
        "block_16_expand",
        "Conv_1",
    ]
    x = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3)).astype("float32")
    assert np.allclose(built.upper(built.lower(x)), built.model(x), atol=1e-5)
    before = len(built.upper.trainable_weights)
    assert before == 2  # the head's dense layer
    unfreeze(built, 2)
    names = {w.path.split("/")[0] for w in built.upper.trainable_weights}
    assert "block_16_project" in names and "Conv_1" in names and "block_15_project" not in names
    assert not any("_BN" in n or "_bn" in n for n in names)
    assert get_model("mobilenet_v2").recipe.finetune is None  # the seed's model is unchanged


def test_two_stages_train_and_record(tmp_path, colour_dataset, tiny_ft):
    import keras

    from sportsedge.pipeline.report import write_report

    messages = []
    run = _train(tmp_path / "runs", colour_dataset, name=tiny_ft, say=messages.append)
    shown = [m.split()[1] + " " + m.split()[2] for m in messages if m.startswith("epoch")]
    assert shown == ["1/6 [head]", "2/6 [head]", "3/6 [top", "4/6 [top", "5/6 [int8-aware]", "6/6 [int8-aware]"]
    rec = RunRecord.load(run)
    assert [s["name"] for s in rec.stages] == ["head", "top blocks", "int8-aware"]
    head, top, int8 = rec.stages
    assert int8["epochs"] == 2 and int8["fit_seconds"] > 0 and "last 2 epochs" in int8["schedule"]
    assert head["epochs"] == 2 and head["learning_rate"] == pytest.approx(1e-2)
    assert top["epochs"] == 2 and top["blocks"] == 1 and top["warmup_epochs"] == 0.5 and top["views_cached"] == 3
    assert top["fit_seconds"] > 0 and head["data_seconds"] > 0
    assert rec.finetune["epochs"] == 4 and len(json.loads((run / "history.json").read_text())["loss"]) == 6
    assert not (run / "cache").exists() and not (run / "state.json").exists()
    # Stage 2 moved the block's conv, never its batch-norm statistics.
    fresh = get_model(tiny_ft).build(3, "none").model
    model = keras.models.load_model(run / "model.keras")
    for name in ("block_1_conv", "block_1_bn"):
        a, b = model.get_layer(name).get_weights(), fresh.get_layer(name).get_weights()
        moved = [not np.allclose(x, y) for x, y in zip(a, b)]
        assert any(moved) if name == "block_1_conv" else not any(moved), name
    # The pipeline's report shows both stages.
    write_report(tmp_path, [tiny_ft], "valid")
    md = (tmp_path / "report.md").read_text()
    assert (
        "| head | head | 2 | 0.01 | 4 |" in md and "| top blocks | top 1 blocks + head (BatchNorm frozen) | 2 |" in md
    )
    assert (
        "| int8-aware | top 1 blocks + head (BatchNorm frozen), int8-aware | 2 | 0.01 (the top blocks' schedule" in md
    )
    assert "top blocks</td>" in (tmp_path / "report.html").read_text()


def test_finetune_options(tmp_path, colour_dataset, tiny_ft):
    run = _train(tmp_path, colour_dataset, finetune_epochs=0)
    assert [s["name"] for s in RunRecord.load(run).stages] == ["head"]
    with pytest.raises(UsageError, match="one training stage"):
        TrainConfig(model="mobilenet_v2", data="d", out="o", finetune_epochs=3).resolved()
    with pytest.raises(UsageError, match="--finetune-blocks must be 1..1"):
        _train(tmp_path, colour_dataset, name="b", finetune_blocks=2)
    with pytest.raises(UsageError, match="--finetune-int8-epochs \\(5\\) must be at most --finetune-epochs \\(4\\)"):
        _train(tmp_path, colour_dataset, name="c", finetune_int8_epochs=5)
    run = _train(tmp_path, colour_dataset, name="d", finetune_int8_epochs=0)  # fine-tuning without stage 3
    assert [s["name"] for s in RunRecord.load(run).stages] == ["head", "top blocks"]


def test_int8_aware_epochs_leave_the_kernels_on_the_int8_grid(tmp_path, colour_dataset, tiny_ft):
    """mobilenet_v2_ft's kind of int8-aware epochs (kernels only): recorded, and every trained
    kernel ends on its per-channel int8 grid (stage 2 alone leaves them off it)."""
    import keras

    from sportsedge.train.int8aware import REDUCED_AXES, snap

    def on_grid(run):
        model = keras.models.load_model(run / "model.keras")
        layers = [model.get_layer("block_1_conv"), model.layers[-1]]
        return [
            np.array_equal(snap(w := layer.kernel.numpy(), REDUCED_AXES[type(layer).__name__]), w) for layer in layers
        ]

    run = _train(tmp_path, colour_dataset, name="k", model="tiny_ft_kernels")
    int8 = RunRecord.load(run).stages[-1]
    assert (
        int8["name"] == "int8-aware" and int8["rounding"] == "kernels on the per-channel int8 grid (straight-through)"
    )
    assert on_grid(run) == [True, True]
    assert on_grid(_train(tmp_path, colour_dataset, name="f", finetune_int8_epochs=0)) == [False, False]


@pytest.mark.parametrize("stop_at", ["2/6 [head]", "3/6 [top", "4/6 [top", "5/6 [int8"])
def test_resume_across_the_stage_boundary(tmp_path, colour_dataset, tiny_ft, stop_at):
    """Interrupted at the end of stage 1, inside stage 2, at the end of stage 2 or inside stage 3
    (int8-aware: its calibrated ranges and float kernels are in the checkpoint), a resumed run ends
    with the weights of an uninterrupted one."""
    whole = _train(tmp_path, colour_dataset, name="whole")

    def stop(msg):
        if msg.startswith(f"epoch {stop_at}"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, colour_dataset, name="cut", say=stop)
    messages = []
    cut = _train(tmp_path, colour_dataset, name="cut", resume=True, say=messages.append)
    assert any(m.startswith("resuming after epoch") for m in messages)
    assert len(json.loads((cut / "history.json").read_text())["loss"]) == 6
    for a, b in zip(_weights(whole), _weights(cut)):
        assert np.allclose(a, b, atol=1e-6)


def test_pipeline_trains_exports_and_reports_a_two_stage_model(tmp_path, colour_dataset, tiny_ft):
    """`pipeline --models` takes a two-stage model: trained in both stages, exported, reported."""
    from sportsedge.bench.config import BenchConfig
    from sportsedge.export.config import ExportConfig
    from sportsedge.pipeline.config import PipelineConfig
    from sportsedge.pipeline.run import run_pipeline

    cfg = PipelineConfig(
        data=str(colour_dataset),
        out=str(tmp_path / "out"),
        models=(tiny_ft,),
        formats="tflite-fp32,tflite-int8",
        export=ExportConfig(calibration_size=20, parity_size=9),
        bench=BenchConfig(threads=(1,), runs=10, warmup=2, rounds=1, throughput_images=0, camera_runs=0),
    )
    messages = []
    run_pipeline(cfg, say=messages.append)
    assert any(m.startswith("epoch 6/6 [int8-aware]") for m in messages)
    out = tmp_path / "out"
    assert (out / "exports" / "tiny_ft-tflite-int8.tflite").is_file()
    assert "| top blocks |" in (out / "report.md").read_text()
    # Stage 3 left the dense kernel on the converter's own int8 grid: the int8 file's weights,
    # dequantized, are the Keras kernel (a float kernel would be up to half a step off).
    import keras
    from ai_edge_litert.interpreter import Interpreter

    kernel = keras.models.load_model(next(out.rglob("tiny_ft/model.keras"))).layers[-1].kernel.numpy()
    it = Interpreter(str(out / "exports" / "tiny_ft-tflite-int8.tflite"))
    (fc,) = [t for t in it.get_tensor_details() if tuple(t["shape"]) == kernel.T.shape]
    scales = fc["quantization_parameters"]["scales"]
    assert len(scales) == kernel.shape[1]  # per output channel
    assert np.allclose(it.get_tensor(fc["index"]) * scales[:, None], kernel.T, rtol=0, atol=1e-3 * scales.min())
