"""Models, feature caching, the training loop, strategies, resume and evaluation reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sportsedge.core.errors import UsageError
from sportsedge.train.config import TrainConfig
from sportsedge.train.models import MODELS, get_model

from conftest import TINY_SIZE

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


@pytest.mark.parametrize("name", ["cnn", "cnn_v1", "efficientnet_b0", "mobilenet_v2"])
def test_each_model_builds_and_fits_one_step(name):
    entry = get_model(name)
    weights = "none"
    built = entry.build(5, weights)
    model = built.model
    assert model.input_shape == (None, *entry.input_size, 3)
    assert model.output_shape == (None, 5)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).integers(0, 256, (2, *entry.input_size, 3)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, np.array([0, 3]), batch_size=2, epochs=1, verbose=0)
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert any(changed)
    p = model.predict(x, verbose=0)
    assert np.allclose(p.sum(axis=1), 1, atol=1e-5)


@pytest.fixture(scope="module")
def b0_weights(tmp_path_factory) -> str:
    """A weights file for EfficientNetB0's backbone (random, as no ImageNet file is offline):
    pretrained weights of any origin make the builder freeze its lower layers."""
    import keras

    path = tmp_path_factory.mktemp("b0") / "backbone.weights.h5"
    keras.applications.EfficientNetB0(include_top=False, weights=None).save_weights(str(path))
    return str(path)


def test_frozen_layers(b0_weights):
    eff = get_model("efficientnet_b0").build(3, b0_weights).model
    # Built on input_tensor: the backbone's layers are the model's own, in the same order.
    frozen = [layer for layer in eff.layers[:200] if layer.weights]
    assert frozen and not any(layer.trainable for layer in frozen)
    assert all(layer.trainable for layer in eff.layers[200:] if layer.weights)
    mob = get_model("mobilenet_v2").build(3, "none")
    assert mob.features is not None and not any(w.trainable for w in mob.features.weights)
    assert all(w.trainable for w in mob.head.weights)
    # from --weights none nothing is frozen (frozen random layers would be fixed noise), at any size
    scratch = get_model("efficientnet_b0").make(3, "none", (128, 128))
    assert scratch.features is None and scratch.model.input_shape == (None, 128, 128, 3)
    assert all(layer.trainable for layer in scratch.model.layers if layer.weights)


def test_imagenet_weights_offline(keras_home):
    """MobileNetV2 asks for weights="imagenet" and Keras finds them in KERAS_HOME, offline."""
    import keras

    built = get_model("mobilenet_v2").build(3, "imagenet")
    ref = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(224, 224, 3))
    loaded = [w for w in built.features.weights if "Conv1" in w.path and "kernel" in w.path][0].numpy()
    assert np.std(loaded) > 0 and not np.allclose(loaded, ref.get_layer("Conv1").kernel.numpy())


def test_weights_errors():
    with pytest.raises(UsageError, match="weights file not found"):
        get_model("mobilenet_v2").build(3, "/nowhere/w.h5")
    with pytest.raises(UsageError, match="no pretrained weights"):
        get_model("cnn").build(3, "imagenet")
    with pytest.raises(UsageError, match="unknown model 'resnet'"):
        get_model("resnet")


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v2_linear", "efficientnet_b0"])
def test_registered_split_is_exact(name, b0_weights):
    """model(x) == head(features(x)) for the models whose frozen part can be cached."""
    built = get_model(name).build(4, b0_weights if name == "efficientnet_b0" else "none")
    x = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3)).astype("float32")
    feats = built.features(x, training=False)
    assert np.allclose(built.head(feats, training=False), built.model(x, training=False), atol=1e-6)
    trainable = {id(v) for v in built.model.trainable_weights}
    assert {id(v) for v in built.head.trainable_weights} == trainable  # the head is all that trains


def test_cached_features_give_the_same_head_outputs(colour_dataset, tiny_registered):
    """Training on cached features is training the full model: same outputs, same features."""
    from sportsedge.train.data import image_stream, scan_dataset
    from sportsedge.train.features import extract

    built = get_model(tiny_registered).build(3, "none")
    split = scan_dataset(colour_dataset).split("valid")
    feats, labels = extract(built.features, split, TINY_SIZE, batch=4)
    x = np.concatenate([b.numpy() for b, _ in image_stream(split, TINY_SIZE, batch=4)]).astype("float32")
    assert np.allclose(feats, built.features(x, training=False).numpy(), atol=1e-6)
    assert np.allclose(built.head(feats).numpy(), built.model(x, training=False).numpy(), atol=1e-6)
    assert labels.tolist() == list(split.labels)


def _train(tmp_path, dataset, model, **kw):
    from sportsedge.train.loop import train

    say = kw.pop("say", lambda m: None)
    cfg = TrainConfig(model=model, data=str(dataset), out=str(tmp_path / kw.pop("name", "run")), **kw)
    return train(cfg, say=say)


def test_train_writes_run_folder_and_reports(tmp_path, colour_dataset, tiny_registered):
    run = _train(tmp_path, colour_dataset, tiny_registered, epochs=3)
    for f in ("model.keras", "labels.txt", "config.json", "history.json", "history.png"):
        assert (run / f).is_file(), f
    assert not (run / "state.json").exists() and not (run / "checkpoint.weights.h5").exists()
    assert (run / "labels.txt").read_text() == "blue\ngreen\nred\n"
    config = json.loads((run / "config.json").read_text())
    assert config["classes"] == ["blue", "green", "red"] and config["cache_features"] == 2
    assert "tensorflow" in config["environment"]["versions"]
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 3
    for split in ("valid", "test"):
        m = json.loads((run / f"eval-{split}" / "metrics.json").read_text())
        assert set(m) >= {"top1", "top5", "loss", "macro_f1", "n"} and m["n"] == 9
        assert m["top5"] == 1.0  # 3 classes
        for f in ("report.txt", "report.json", "confusion_matrix.png", "misclassified.png"):
            assert (run / f"eval-{split}" / f).stat().st_size > 0
    assert (run / "history.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_matches_direct_computation(tmp_path, colour_dataset, tiny_registered):
    import keras

    from sportsedge.runtime import load_pixels
    from sportsedge.train.data import scan_dataset
    from sportsedge.train.evaluate import evaluate

    run = _train(tmp_path, colour_dataset, tiny_registered, epochs=2, cache_features=0)
    m = evaluate(run, split="valid")
    split = scan_dataset(colour_dataset).split("valid")
    model = keras.models.load_model(run / "model.keras")
    x = np.stack([load_pixels(p, TINY_SIZE) for p in split.paths]).astype("float32")
    top1 = float(np.mean(model.predict(x, verbose=0).argmax(1) == np.array(split.labels)))
    assert m["top1"] == pytest.approx(top1)


def test_refuses_to_overwrite(tmp_path, colour_dataset, tiny_registered):
    _train(tmp_path, colour_dataset, tiny_registered, epochs=1)
    with pytest.raises(UsageError, match="already holds a trained model"):
        _train(tmp_path, colour_dataset, tiny_registered, epochs=1)


def test_interrupt_then_resume(tmp_path, colour_dataset, tiny_registered):
    def stop_after_first(msg):
        if msg.startswith("epoch 1/3"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, colour_dataset, tiny_registered, epochs=3, say=stop_after_first)
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["epoch"] == 1 and (tmp_path / "run" / "checkpoint.weights.h5").is_file()
    with pytest.raises(UsageError, match="--resume"):
        _train(tmp_path, colour_dataset, tiny_registered, epochs=3)
    messages = []
    run = _train(tmp_path, colour_dataset, tiny_registered, epochs=3, resume=True, say=messages.append)
    assert any("resuming after epoch 1" in m for m in messages)
    assert [m.split()[1] for m in messages if m.startswith("epoch")] == ["2/3", "3/3"]
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 3


@pytest.mark.parametrize("cache", [0, 1])
def test_mirrored_strategy_matches_default(tmp_path, colour_dataset, tiny_registered, cache):
    import keras

    runs = [
        _train(
            tmp_path, colour_dataset, tiny_registered, epochs=2, cache_features=cache, augment=False, strategy=s, name=s
        )
        for s in ("default", "mirrored")
    ]
    a, b = (keras.models.load_model(r / "model.keras") for r in runs)
    ha, hb = (json.loads((r / "history.json").read_text()) for r in runs)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.allclose(wa, wb, atol=1e-5)
    assert np.allclose(ha["loss"], hb["loss"], atol=1e-5)


def test_label_smoothing_trains(tmp_path, colour_dataset, tiny_registered):
    run = _train(tmp_path, colour_dataset, tiny_registered, epochs=2, label_smoothing=0.1)
    assert json.loads((run / "config.json").read_text())["label_smoothing"] == 0.1
    with pytest.raises(UsageError, match="label_smoothing"):
        TrainConfig(model=tiny_registered, data="d", out="o", label_smoothing=1.5).resolved()


def test_cli_train_and_evaluate(tmp_path, colour_dataset, tiny_registered, capsys):
    from sportsedge.cli import main

    out = tmp_path / "cli-run"
    assert (
        main(
            [
                "train",
                "--model",
                tiny_registered,
                "--data",
                str(colour_dataset),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--cache-features",
                "0",
                "--no-augment",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "epoch 2/2" in captured.err and "ETA" in captured.err and "on test/: top-1" in captured.err
    assert main(["evaluate", str(out), "--split", "valid"]) == 0
    assert capsys.readouterr().out.startswith("valid: top-1")
    with pytest.raises(SystemExit) as exc:  # argparse: refused where it is parsed, before TensorFlow loads
        main(["train", "--model", "nope", "--data", str(colour_dataset), "--out", str(tmp_path / "x")])
    assert exc.value.code == 2 and "unknown model 'nope'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a training run" in capsys.readouterr().err


def test_config_validation(colour_dataset, tiny_registered):
    with pytest.raises(UsageError, match="unknown strategy"):
        TrainConfig(model=tiny_registered, data=str(colour_dataset), out="x", strategy="tpu").resolved()
    r = TrainConfig(model="mobilenet_v2", data="d", out="o").resolved()
    assert (r.weights, r.batch_size, r.epochs, r.cache_features, r.input_size) == ("imagenet", 100, 30, 1, (224, 224))
    assert TrainConfig(model="efficientnet_b0", data="d", out="o").resolved().early_stopping == 10
    # auto: ImageNet weights only when Keras has them on disk (the shared copy has MobileNetV2's only)
    from conftest import SHARED

    auto = TrainConfig(model="mobilenet_v2", data="d", out="o", weights="auto").resolved().weights
    assert auto == ("imagenet" if (SHARED / "keras_home").is_dir() else "none")
    assert TrainConfig(model="efficientnet_b0", data="d", out="o", weights="auto").resolved().weights == "none"
    assert TrainConfig(model="cnn", data="d", out="o", weights="auto").resolved().weights == "none"
    assert "tiny" in MODELS


def test_run_record_round_trip_and_old_files(tmp_path):
    from sportsedge.train.config import RunRecord

    rec = TrainConfig(model="mobilenet_v2", data="d", out="o", label_smoothing=0.1).resolved()
    rec = rec.replace(classes=("a", "b"), fit_seconds=1.5, bad_images={"x.jpg": "truncated"})
    rec.save(tmp_path)
    assert RunRecord.load(tmp_path) == rec
    # The settings are exactly what the pipeline fingerprints: every TrainConfig field plus two.
    assert list(rec.settings())[-2:] == ["augmentation", "input_size"] and rec.settings()["label_smoothing"] == 0.1
    # A config.json from an older version: fewer keys, one this version does not know (kept on save).
    old = {
        "model": "cnn",
        "data": "/d",
        "input_size": [224, 224],
        "classes": ["a"],
        "weights": "none",
        "epochs": 30,
        "fit_seconds": 12.0,
        "git_note": "kept",
    }
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = RunRecord.load(tmp_path)
    assert (loaded.model, loaded.input_size, loaded.classes, loaded.train_wall_seconds) == (
        "cnn",
        (224, 224),
        ("a",),
        None,
    )
    assert loaded.label_smoothing == 0.0 and loaded.extra == {"git_note": "kept"}
    loaded.save(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["git_note"] == "kept"
    (tmp_path / "config.json").write_text(json.dumps({"model": "cnn"}))
    with pytest.raises(UsageError, match="missing data, input_size"):
        RunRecord.load(tmp_path)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(UsageError, match="not valid JSON"):
        RunRecord.load(tmp_path)


def test_resume_keeps_early_stopping_state(tmp_path, colour_dataset, tiny_registered):
    """An interrupted run with early stopping, resumed, stops where the uninterrupted run did, with
    the same restored best weights; a finished run has nothing to resume."""
    import keras

    kw = dict(epochs=12, learning_rate=2.0, early_stopping=2, augment=False)
    whole = _train(tmp_path, colour_dataset, tiny_registered, name="whole", **kw)
    n = len(json.loads((whole / "history.json").read_text())["loss"])
    assert 3 < n < 12  # early stopping did stop it

    def stop_before_last(msg):
        if msg.startswith(f"epoch {n - 1}/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, colour_dataset, tiny_registered, name="cut", say=stop_before_last, **kw)
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert state["early_stopping"]["wait"] >= 1  # it was already counting epochs without improvement
    cut = _train(tmp_path, colour_dataset, tiny_registered, name="cut", resume=True, **kw)
    assert len(json.loads((cut / "history.json").read_text())["loss"]) == n
    a, b = (keras.models.load_model(r / "model.keras") for r in (whole, cut))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.allclose(wa, wb, atol=1e-6)
    assert sorted(p.name for p in cut.iterdir() if p.suffix in (".npz", ".h5") or p.name == "state.json") == []
    with pytest.raises(UsageError, match="nothing to resume"):
        _train(tmp_path, colour_dataset, tiny_registered, name="cut", resume=True, **kw)
