"""Quantization that keeps accuracy: QAT in its own process, and the int8 remedies, on the tiny run."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from sportsedge.core.errors import MissingDependencyError, UsageError

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


@pytest.fixture(scope="session")
def qat_export(tmp_path_factory, tiny_run):
    import keras  # noqa: F401  (the main process has Keras 3 loaded before the worker runs)

    from sportsedge.export.config import ExportConfig, QatConfig
    from sportsedge.export.run import export, parse_formats

    out = tmp_path_factory.mktemp("qat")
    messages = []
    qat = QatConfig(epochs=2, learning_rate=1e-3, batch_size=4)
    manifest = export(
        [tiny_run],
        parse_formats("tflite-int8", qat=True),
        out,
        ExportConfig(calibration_size=30, qat=qat),
        say=messages.append,
    )
    return out, manifest, messages


def test_qat_round_trip_in_worker_process(qat_export):
    from ai_edge_litert.interpreter import Interpreter

    from sportsedge.runtime import Classifier

    out, manifest, messages = qat_export
    entry = manifest["artifacts"]["tiny-tflite-int8-qat.tflite"]
    assert entry["status"] == "passed", entry["parity"]
    qat = entry["qat"]
    assert [h["epoch"] for h in qat["history"]] == [1, 2] and qat["train_images"] == 18
    assert qat["rebuild_max_abs_diff"] < 1e-3  # the tf-keras rebuild carried the trained weights
    assert (
        qat["left_to_calibration"] == {"rescaling": "input scaling"}
        or "input scaling" in qat["left_to_calibration"].values()
    )
    # Checked against the fine-tuned model; how far fine-tuning moved it is recorded beside.
    # Two epochs on the colours move no prediction: the fine-tuned model agrees with the one before.
    assert qat["agreement_fine_tuned_vs_before"] == 1.0 and qat["top1_before"] == 1.0
    done = [m for m in messages if m.startswith("[") and "top-1" in m]
    assert "(fine-tuned Keras " in next(m for m in done if "int8-qat" in m)
    assert "(Keras " in next(m for m in done if "tflite-int8.tflite" in m)
    d = Interpreter(model_path=str(out / "tiny-tflite-int8-qat.tflite")).get_input_details()[0]
    assert d["dtype"] == np.uint8 and d["quantization"] == (1.0, 0)
    clf = Classifier.load(out / "tiny-tflite-int8-qat.tflite")
    assert clf.metadata.format == "tflite-int8-qat"
    # QAT trains and converts the model without its softmax: the file ends at the logits too.
    assert str(clf.output) == "logits" and entry["output"] == "logits"
    assert "top5_overlap" in entry["parity"]
    assert clf.predict(np.full((32, 32, 3), (0, 0, 230), np.uint8), top_k=1)[0].label == "blue"


def test_main_process_keras_untouched_by_qat(qat_export):
    import keras
    import tensorflow as tf

    assert "TF_USE_LEGACY_KERAS" not in os.environ
    assert "tf_keras" not in sys.modules and "tensorflow_model_optimization" not in sys.modules
    assert keras.__version__.startswith("3.") and tf.keras.__version__.startswith("3.")


def test_qat_settings_in_fingerprint_and_not_in_all(qat_export, tiny_run):
    from sportsedge.export.config import ExportConfig, QatConfig
    from sportsedge.export.run import export, parse_formats

    assert "tflite-int8-qat" not in [f.name for f in parse_formats("all")]
    out, manifest, _ = qat_export
    assert manifest["artifacts"]["tiny-tflite-int8-qat.tflite"]["settings"]["qat"]["epochs"] == 2
    messages = []
    export(
        [tiny_run],
        parse_formats("tflite-int8-qat"),
        out,
        ExportConfig(calibration_size=30, qat=QatConfig(epochs=2, learning_rate=1e-3, batch_size=4)),
        say=messages.append,
    )
    assert messages == ["[1/1] tiny-tflite-int8-qat.tflite: unchanged, skipped"]


def test_missing_qat_extra_names_it(monkeypatch):
    import importlib.util

    from sportsedge.export import qat

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorflow_model_optimization" else real(name, *a),
    )
    with pytest.raises(MissingDependencyError, match=r"sportsedge\[qat\]"):
        qat.require_qat()


@pytest.fixture(scope="session")
def remedy_export(tmp_path_factory, tiny_run):
    """max_drop below zero can never be met: every remedy and step runs, the best is kept."""
    from sportsedge.export.config import AccuracyConfig, ExportConfig
    from sportsedge.export.run import export, parse_formats

    out = tmp_path_factory.mktemp("remedies")
    never = AccuracyConfig(max_drop=0.0)
    object.__setattr__(never, "max_drop", -1.0)  # a bound the config refuses to users; forced for this test
    manifest = export(
        [tiny_run],
        parse_formats("tflite-int8"),
        out,
        ExportConfig(calibration_size=4, accuracy=never),
        say=lambda m: None,
    )
    return out, manifest


def test_every_remedy_path_produces_a_working_model(remedy_export):
    from sportsedge.runtime import Classifier

    out, manifest = remedy_export
    entry = manifest["artifacts"]["tiny-tflite-int8.tflite"]
    acc = entry["accuracy"]
    assert acc["met"] is False and acc["max_drop"] == -1.0
    labels = [a["label"] for a in acc["attempts"]]
    assert labels[0] == "calibration x4" and labels[-1] == "int16 activations"
    assert [a["remedy"] for a in acc["attempts"]].count("fallback") == 1  # searched: one file, not steps
    by_label = {a["label"]: a for a in acc["attempts"]}
    fallback = next(a for a in acc["attempts"] if a["remedy"] == "fallback")
    assert by_label["calibration x4"]["calibration_images"] == 16
    assert by_label["int16 activations"]["input_dtype"] == "float32"
    assert fallback["input_dtype"] == "uint8" and fallback["float_ops"] and fallback["float_layers"]
    assert fallback["label"] == f"fallback {len(fallback['float_layers'])} float" and fallback["search_candidates"] >= 2
    files = sorted((out / "attempts").glob("tiny-tflite-int8+*.tflite"))
    assert len(files) == len(labels)
    for f in files:  # each remedy's model runs and still names the colour
        top = Classifier.load(f).predict(np.full((32, 32, 3), (0, 0, 230), np.uint8), top_k=1)[0]
        assert top.label == "blue", f
        assert Classifier.load(f).metadata.format == "tflite-int8+" + f.stem.split("+", 1)[1]
    assert entry["status"] == "passed", entry["parity"]
    kept = [a for a in acc["attempts"] if a["label"] == acc["kept"]] or [acc["post_training"]]
    assert kept[0]["drop"] == min([a["drop"] for a in acc["attempts"]] + [acc["post_training"]["drop"]])


def test_int16_remedy_runs_16_bit_activations(remedy_export, tiny_run):
    from ai_edge_litert.interpreter import Interpreter

    from sportsedge.runtime import Classifier

    from conftest import noisy

    out, manifest = remedy_export
    path = out / "attempts" / "tiny-tflite-int8+int16-activations.tflite"
    interp = Interpreter(model_path=str(path))
    dtypes = {np.dtype(t["dtype"]).name for t in interp.get_tensor_details()}
    assert "int16" in dtypes
    # Parity, not only the dtype: its recorded attempt agrees with Keras on the parity set, and on
    # fresh noisy images it names every colour.
    attempts = manifest["artifacts"]["tiny-tflite-int8.tflite"]["accuracy"]["attempts"]
    attempt = next(a for a in attempts if a["label"] == "int16 activations")
    assert attempt["agreement"] == 1.0 and attempt["drop"] <= 0.0
    colours = ("red", "green", "blue") * 2
    images = np.stack([noisy(c, 100 + i) for i, c in enumerate(colours)])
    clf = Classifier.load(path)
    assert [clf.labels[i] for i in clf.scores(images).argmax(1)] == list(colours)


def test_first_remedy_meeting_the_bound_is_kept(tiny_run, tmp_path, monkeypatch):
    from sportsedge.export import remedies
    from sportsedge.export.config import AccuracyConfig, ExportConfig
    from sportsedge.export.run import export, parse_formats

    drops = iter([5.0, 3.0, 0.5])  # post-training, calibration x4, the searched fallback
    seen = []

    def fake_measure(ctx, data, label, base="tflite-int8"):
        seen.append(label or remedies.PLAIN)
        return {
            "drop": next(drops),
            "agreement": 0.9,
            "top1": 0.9,
            "input_dtype": "uint8",
            "size_bytes": len(data),
            "check_seconds": 0.0,
            "status": "passed",
        }

    monkeypatch.setattr(remedies, "_measure", fake_measure)
    manifest = export(
        [tiny_run],
        parse_formats("tflite-int8"),
        tmp_path,
        ExportConfig(calibration_size=4, accuracy=AccuracyConfig(max_drop=1.0)),
        say=lambda m: None,
    )
    acc = manifest["artifacts"]["tiny-tflite-int8.tflite"]["accuracy"]
    assert seen[:2] == ["post-training", "calibration x4"] and seen[2].startswith("fallback ")  # int16 never tried
    assert acc["kept"] == seen[2] and "met" not in acc
    entry = manifest["artifacts"]["tiny-tflite-int8.tflite"]
    assert entry["float_layers"] and entry["float_layers_why"].startswith("--max-drop 1:")


def test_failed_parity_triggers_remedies_even_without_accuracy_loss(tiny_run, tmp_path, monkeypatch):
    """A model at chance loses no accuracy, but int8 that disagrees with it must not pass silently."""
    from sportsedge.export import remedies
    from sportsedge.export.config import AccuracyConfig, ExportConfig
    from sportsedge.export.run import export, parse_formats

    results = iter([("FAILED", 0.1), ("FAILED", 0.2), ("passed", 0.97)])

    def fake_measure(ctx, data, label, base="tflite-int8"):
        status, agreement = next(results)
        return {
            "drop": 0.0,
            "agreement": agreement,
            "top1": 0.3,
            "input_dtype": "uint8",
            "size_bytes": len(data),
            "check_seconds": 0.0,
            "status": status,
        }

    monkeypatch.setattr(remedies, "_measure", fake_measure)
    accuracy = AccuracyConfig(max_drop=1.0, remedies=("calibration", "int16"))
    manifest = export(
        [tiny_run],
        parse_formats("tflite-int8"),
        tmp_path,
        ExportConfig(calibration_size=4, accuracy=accuracy),
        say=lambda m: None,
    )
    acc = manifest["artifacts"]["tiny-tflite-int8.tflite"]["accuracy"]
    assert [a["label"] for a in acc["attempts"]] == ["calibration x4", "int16 activations"]
    assert acc["kept"] == "int16 activations"


def test_no_remedy_when_post_training_is_within_bound(tiny_run, tmp_path):
    from sportsedge.export.config import AccuracyConfig, ExportConfig
    from sportsedge.export.run import export, parse_formats

    manifest = export(
        [tiny_run],
        parse_formats("tflite-int8"),
        tmp_path,
        ExportConfig(calibration_size=30, accuracy=AccuracyConfig(max_drop=100.0)),
        say=lambda m: None,
    )
    acc = manifest["artifacts"]["tiny-tflite-int8.tflite"]["accuracy"]
    assert acc["kept"] == "post-training" and acc["attempts"] == []
    assert not (tmp_path / "attempts").exists()


def test_unknown_remedy_is_one_line():
    from sportsedge.export.config import parse_remedies

    assert parse_remedies("none") == () and parse_remedies("int16,calibration") == ("int16", "calibration")
    with pytest.raises(UsageError, match="unknown remedy 'bogus'"):
        parse_remedies("bogus")


@pytest.mark.parametrize("name", ["cnn", "mobilenet_v2", "efficientnet_b0"])
def test_registered_models_are_flat_graphs(name):
    """QAT (tfmot) rejects models nested as layers: every registry model is one flat graph."""
    from sportsedge.train.models import get_model

    model = get_model(name).build(5, "none").model
    assert not [layer.name for layer in model.layers if getattr(layer, "layers", None)]


def test_cli_unknown_remedy_exits_2(tiny_run, tmp_path, capsys):
    from sportsedge.cli import main

    with pytest.raises(SystemExit) as stop:  # argparse's usage line and one error line, exit 2
        main(["export", str(tiny_run), "--out", str(tmp_path), "--remedies", "fallback,magic"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and "argument --remedies: unknown remedy 'magic'" in err[-1]


def test_cli_qat_without_the_extra_names_it(tiny_run, tmp_path, capsys, monkeypatch):
    import importlib.util

    from sportsedge.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf_keras" else real(name, *a))
    assert main(["export", str(tiny_run), "--out", str(tmp_path), "--qat"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sportsedge[qat]" in err
    assert not (tmp_path / "manifest.json").exists()  # failed before any work
