"""tflite-int8's activation ranges fitted to the calibration images (export/ranges.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sportsedge.export.ranges import BINS, mse_range

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


def _histogram(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.histogram(values, BINS, (lo, hi))[0]


def _int8_mse(values: np.ndarray, lo: float, hi: float) -> float:
    step = (hi - lo) / 255
    q = np.clip(np.round((values - lo) / step), 0, 255) * step + lo
    return float(((values - q) ** 2).mean())


def test_rare_outliers_are_clipped_and_the_error_drops():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 2_000_000), [-40.0, 38.0, 25.0]])
    lo, hi = float(values.min()), float(values.max())
    new_lo, new_hi = mse_range(_histogram(values, lo, hi), lo, hi)
    assert new_hi - new_lo < 0.5 * (hi - lo)  # the outliers no longer set the step
    assert new_lo < -3 and new_hi > 3  # the bulk stays inside
    assert _int8_mse(values, new_lo, new_hi) < 0.5 * _int8_mse(values, lo, hi)


def test_spread_values_keep_their_range():
    values = np.random.default_rng(1).uniform(-3, 5, 100_000)
    lo, hi = float(values.min()), float(values.max())
    new_lo, new_hi = mse_range(_histogram(values, lo, hi), lo, hi)
    assert new_hi - new_lo > 0.95 * (hi - lo)


def test_one_sided_activations_keep_zero():
    values = np.abs(np.random.default_rng(2).normal(0, 1, 2_000_000))
    values[:3] = 30.0
    new_lo, new_hi = mse_range(_histogram(values, 0.0, 30.0), 0.0, 30.0)
    assert new_lo == 0.0 and new_hi < 0.7 * 30.0
    assert _int8_mse(values, new_lo, new_hi) < _int8_mse(values, 0.0, 30.0)


@pytest.fixture(scope="session")
def range_exports(tmp_path_factory, tiny_run):
    """The tiny run's tflite-int8 with min..max and with fitted ranges."""
    from sportsedge.export.config import AccuracyConfig, ExportConfig, RangeFit
    from sportsedge.export.run import export, parse_formats

    out = {}
    for fit in RangeFit:
        folder = tmp_path_factory.mktemp(f"ranges-{fit}")
        accuracy = AccuracyConfig(max_drop=None, activation_ranges=fit)
        manifest = export(
            [tiny_run], parse_formats("tflite-int8"), folder, ExportConfig(calibration_size=30, accuracy=accuracy)
        )
        out[fit] = (folder, manifest["artifacts"]["tiny-tflite-int8.tflite"])
    return out


def _activation_quantization(path) -> dict[str, tuple[float, int]]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    return {tensors[i]["name"]: tensors[i]["quantization"] for op in interp._get_ops_details() for i in op["outputs"]}


def test_fitted_ranges_narrow_activations_and_keep_inputs_outputs(range_exports):
    from ai_edge_litert.interpreter import Interpreter

    from sportsedge.export.config import RangeFit
    from sportsedge.runtime import Classifier

    mse, mm = range_exports[RangeFit.MSE][1], range_exports[RangeFit.MINMAX][1]
    assert mse["ranges"]["activation_ranges"] == "mse" and mse["ranges"]["activations"] >= 2
    assert mm["ranges"] == {"activation_ranges": "minmax", "path": "public converter"}
    assert mse["settings"]["accuracy"]["activation_ranges"] == "mse"  # in the fingerprint
    files = {fit: d / "tiny-tflite-int8.tflite" for fit, (d, _) in range_exports.items()}
    fitted, minmax = (_activation_quantization(files[f]) for f in (RangeFit.MSE, RangeFit.MINMAX))
    assert fitted.keys() == minmax.keys()
    # Every activation's step is the converter's or finer, and some are finer.
    assert all(fitted[n][0] <= minmax[n][0] * (1 + 1e-6) for n in fitted)
    assert any(fitted[n][0] < minmax[n][0] * 0.99 for n in fitted)
    # The graph's input and output are quantized as the converter quantizes them.
    for f in files.values():
        interp = Interpreter(model_path=str(f))
        assert interp.get_input_details()[0]["quantization"] == (1.0, 0)
    outs = [Interpreter(model_path=str(f)).get_output_details()[0]["quantization"] for f in files.values()]
    assert outs[0] == outs[1]
    blue = np.full((32, 32, 3), (0, 0, 230), np.uint8)
    assert Classifier.load(files[RangeFit.MSE]).predict(blue, top_k=1)[0].label == "blue"


def test_changing_the_fit_redoes_the_artifact(range_exports, tiny_run):
    from sportsedge.export.config import AccuracyConfig, ExportConfig, RangeFit
    from sportsedge.export.run import export, parse_formats

    folder, _ = range_exports[RangeFit.MINMAX]
    messages = []
    for fit in (RangeFit.MINMAX, RangeFit.MSE):
        accuracy = AccuracyConfig(max_drop=None, activation_ranges=fit)
        config = ExportConfig(calibration_size=30, accuracy=accuracy)
        export([tiny_run], parse_formats("tflite-int8"), folder, config, say=messages.append)
    assert messages[0] == "[1/1] tiny-tflite-int8.tflite: unchanged, skipped"
    assert messages[1] == "[1/1] tiny-tflite-int8.tflite: converting ..."


def test_cli_rejects_an_unknown_fit(tiny_run, tmp_path):
    from sportsedge.cli import main

    with pytest.raises(SystemExit) as e:
        main(["export", str(tiny_run), "--out", str(tmp_path), "--activation-ranges", "percentile"])
    assert e.value.code == 2


def test_baked_preprocessing_keeps_its_exact_span(tmp_path):
    """MobileNetV2's own input layers (rescale to -1..1, zero padding, conv): the rescaled pixels
    keep one int8 level per pixel value, where the converter's range would be wider."""
    import keras

    from sportsedge.export import tflite, tflite_convert
    from sportsedge.export.config import RangeFit
    from sportsedge.export.ranges import fit

    inp = keras.Input((16, 16, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inp)
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3)(x))
    model.export(str(tmp_path / "sm"), verbose=False)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    pixels[0, 0, 0], pixels[1, 0, 0] = 0, 255  # the full pixel range, as the export's calibration has
    from types import SimpleNamespace

    from sportsedge.export.source import SourceKind

    source = SimpleNamespace(kind=SourceKind.KERAS)  # a Keras source: calibrated through its SavedModel
    ctx = SimpleNamespace(logits_saved_model=str(tmp_path / "sm"), calibration=pixels, source=source)
    fitted, summary = fit(tflite_convert.calibrated_float(ctx), pixels, RangeFit.MSE)
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite.quantize(fitted))
    scales = {n.split(";")[0]: q[0] for n, q in _activation_quantization(path).items()}
    rescaled = [s for n, s in scales.items() if "rescaling" in n]
    assert rescaled and all(s == pytest.approx(2 / 255, rel=1e-5) for s in rescaled), scales
    assert summary["activations"] >= 3


def test_a_graph_that_cannot_be_histogrammed_keeps_min_max(tiny_run, tmp_path, monkeypatch):
    from sportsedge.export import ranges
    from sportsedge.export.config import AccuracyConfig, ExportConfig
    from sportsedge.export.run import export, parse_formats

    def refuse(*args, **kwargs):
        raise RuntimeError("tensor 7 is not kept\nmore detail")

    monkeypatch.setattr(ranges, "histograms", refuse)
    messages = []
    config = ExportConfig(calibration_size=30, accuracy=AccuracyConfig(max_drop=None))
    manifest = export([tiny_run], parse_formats("tflite-int8"), tmp_path, config, say=messages.append)
    entry = manifest["artifacts"]["tiny-tflite-int8.tflite"]
    assert entry["status"] == "passed", entry["parity"]
    assert entry["ranges"] == {"activation_ranges": "minmax", "asked": "mse", "why": "tensor 7 is not kept"}
