"""Bring your own model: classifiers that are not in our registry, built here, exported as a user would."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sportsedge import cli
from sportsedge.core.formats import FORMATS

from conftest import LABELS, TINY_SIZE, noisy, solid

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra

KERAS_FORMATS = "tflite-fp32,tflite-fp16,tflite-dynamic,tflite-int8,onnx-fp32,onnx-int8"


def _colour_head(keras, x, activation="softmax"):
    """GAP then Dense(3) with weights 10*I: names the dominant colour of inputs centred on 0."""
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(len(LABELS), activation=activation)
    out = dense(x)
    return dense, out


def symmetric_model(activation="softmax"):
    """Expects pixels in [-1, 1] (keras.applications' "tf" mode), like a notebook's MobileNet."""
    import keras

    inp = keras.Input((*TINY_SIZE, 3))
    dense, out = _colour_head(keras, inp, activation)
    model = keras.Model(inp, out, name="user_symmetric")
    dense.set_weights([np.eye(3, dtype="float32") * 10, np.zeros(3, "float32")])
    return model


def _sorted_labels(folder):
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))


@pytest.fixture(scope="session")
def user_files(tmp_path_factory):
    """A user's models as files: .keras (symmetric), .h5, SavedModel, a logits .keras, MobileNetV3Small."""
    import keras

    tmp = tmp_path_factory.mktemp("user-models")
    files = {}
    sym = symmetric_model()
    files["keras"] = tmp / "notebook.keras"
    sym.save(files["keras"])
    files["h5"] = tmp / "legacy.h5"
    sym.save(files["h5"])
    files["saved_model"] = tmp / "saved"
    sym.export(str(files["saved_model"]), verbose=False)
    files["logits"] = tmp / "logits.keras"
    symmetric_model(activation=None).save(files["logits"])
    v3 = keras.applications.MobileNetV3Small(
        input_shape=(*TINY_SIZE, 3), weights=None, classes=3, include_preprocessing=True, minimalistic=True
    )
    # Trained a little on solid colours: confident outputs, so int8 agreement means something.
    x = np.stack([noisy(c, seed) for seed in range(20) for c in LABELS]).astype("float32")
    y = np.tile(np.arange(3), 20)
    v3.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    v3.fit(x, y, epochs=15, batch_size=20, verbose=0)
    files["mnv3"] = tmp / "mnv3.keras"
    v3.save(files["mnv3"])
    labels = tmp / "labels.txt"
    labels.write_text("".join(f"{name}\n" for name in LABELS))
    return files, labels


def _export(tmp, model, formats, data, *extra) -> tuple[int, dict, str]:
    out = tmp / "out"
    argv = ["export", str(model), "--out", str(out), "--formats", formats, "--calibration-size", "30"]
    argv += ["--calibration", str(data / "train"), "--parity-data", str(data / "valid"), *map(str, extra)]
    code = cli.main(argv)
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else {}
    return code, manifest, out


def _bench_tf_free(out, data, tmp):
    """Every artifact loads and benchmarks with TensorFlow unimportable (labels from the files)."""
    from test_bench import bench_blocked

    proc = bench_blocked(
        [
            out,
            "--data",
            data / "valid",
            "--out",
            tmp / "bench",
            "--threads",
            "1",
            "--rounds",
            "1",
            "--runs",
            "3",
            "--warmup",
            "1",
            "--e2e-runs",
            "1",
            "--camera-runs",
            "0",
        ]
    )
    rows = json.loads((tmp / "bench" / "results.json").read_text())["rows"]
    assert len(rows) == len(json.loads((out / "manifest.json").read_text())["artifacts"]), proc.stderr
    assert all(r["n_images"] == 9 and r["latency_ms_p50"] > 0 for r in rows)


def _check_artifacts(out, manifest, name, formats, expect_logits=(), keras_top1=1.0):
    """``keras_top1``: the source model's top-1 on the 9 parity images (the colour models get all);
    None: not known in advance, but one value for every artifact (one model, one parity set)."""
    if keras_top1 is None:
        keras_top1 = next(iter(manifest["artifacts"].values()))["parity"]["top1_keras"]
    from sportsedge.runtime import Classifier

    arts = manifest["artifacts"]
    assert sorted(arts) == sorted(FORMATS[f].artifact_name(name) for f in formats.split(","))
    for art, entry in arts.items():
        assert entry["status"] == "passed", (art, entry["parity"])
        assert entry["parity"]["n"] == 9 and entry["parity"]["top1_keras"] == pytest.approx(keras_top1)
        clf = Classifier.load(out / art, verify=True)
        assert clf.labels == LABELS and clf.input_size == TINY_SIZE
        assert clf.metadata.extra["model_preprocess"]["name"]
        if entry["format"] in expect_logits:
            assert str(clf.output) == "logits", art
        probs = clf.scores(np.stack([solid(c) for c in LABELS]))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    return arts


@pytest.mark.parametrize("kind", ["keras", "h5", "saved_model"])
def test_symmetric_keras_model_exports_every_format(kind, user_files, colour_dataset, tmp_path):
    files, labels = user_files
    code, manifest, out = _export(
        tmp_path, files[kind], KERAS_FORMATS, colour_dataset, "--labels", labels, "--preprocess", "symmetric"
    )
    assert code == 0
    name = files[kind].stem
    # A SavedModel is one opaque graph to Keras (TFSMLayer): its TFLite int8 keeps the softmax; ONNX cuts it.
    logits = ("onnx-int8",) if kind == "saved_model" else ("tflite-int8", "onnx-int8")
    _check_artifacts(out, manifest, name, KERAS_FORMATS, expect_logits=logits)
    _bench_tf_free(out, colour_dataset, tmp_path)
    from sportsedge.runtime import Classifier

    for fmt in ("tflite-fp32", "tflite-int8", "onnx-int8"):
        clf = Classifier.load(out / FORMATS[fmt].artifact_name(name))
        for colour in LABELS:  # the symmetric preprocessing is inside: raw pixels give the right colour
            assert clf.predict(solid(colour), top_k=1)[0].label == colour, (fmt, colour)


def test_logits_model_is_detected_and_softmaxed_in_the_runtime(user_files, colour_dataset, tmp_path):
    files, labels = user_files
    formats = "tflite-fp32,tflite-int8,onnx-fp32"
    code, manifest, out = _export(
        tmp_path,
        files["logits"],
        formats,
        colour_dataset,
        "--labels",
        labels,
        "--preprocess",
        "symmetric",
    )
    assert code == 0
    arts = _check_artifacts(out, manifest, "logits", formats, expect_logits=tuple(formats.split(",")))
    assert all(e["output"] == "logits" for e in arts.values())
    _bench_tf_free(out, colour_dataset, tmp_path)


def test_mobilenet_v3_small_with_raw_pixels(user_files, colour_dataset, tmp_path):
    files, labels = user_files
    formats = "tflite-fp32,tflite-int8,onnx-fp32"
    code, manifest, out = _export(
        tmp_path, files["mnv3"], formats, colour_dataset, "--labels", labels, "--preprocess", "raw", "--name", "v3"
    )
    assert code == 0
    # Trained briefly from random weights without a seed: its own top-1, the same for every artifact.
    _check_artifacts(out, manifest, "v3", formats, keras_top1=None)
    _bench_tf_free(out, colour_dataset, tmp_path)


def _nchw_onnx(path):
    """A tiny float NCHW classifier as PyTorch would export it, fixed batch 1: mean over H and W,
    then 10*I - 5 and a softmax; it expects 0..1 pixels (--preprocess unit)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["z"]),
        helper.make_node("Add", ["z", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "nchw",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, *TINY_SIZE])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 3])],
        [
            numpy_helper.from_array(np.eye(3, dtype=np.float32) * 10, "w"),
            numpy_helper.from_array(np.full(3, -5.0, np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_channels_first_keras_model(colour_dataset, tmp_path):
    """An NCHW Keras model (as converted from PyTorch): the artifact takes NHWC pixels and transposes inside."""
    import keras

    inp = keras.Input((3, *TINY_SIZE))
    x = keras.layers.Permute((2, 3, 1))(inp)  # its own first layer back to NHWC (CPU kernels are NHWC)
    dense, out = _colour_head(keras, x)
    model = keras.Model(inp, out)
    dense.set_weights([np.eye(3, dtype="float32") * 10, np.zeros(3, "float32")])
    path = tmp_path / "nchw.keras"
    model.save(path)
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    code, manifest, out = _export(
        tmp_path, path, "tflite-fp32,tflite-int8", colour_dataset, "--labels", labels, "--preprocess", "symmetric"
    )
    assert code == 0
    _check_artifacts(out, manifest, "nchw", "tflite-fp32,tflite-int8", expect_logits=("tflite-int8",))
    from sportsedge.runtime import Classifier

    clf = Classifier.load(out / "nchw-tflite-int8.tflite")
    assert clf.input_size == TINY_SIZE
    assert [clf.predict(solid(c), top_k=1)[0].label for c in LABELS] == list(LABELS)


def test_nchw_onnx_model_quantizes_to_int8(colour_dataset, tmp_path):
    from sportsedge.runtime import Classifier

    model = _nchw_onnx(tmp_path / "torch_export.onnx")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    code, manifest, out = _export(
        tmp_path, model, "onnx-fp32,onnx-int8", colour_dataset, "--labels", labels, "--preprocess", "unit"
    )
    assert code == 0
    arts = _check_artifacts(out, manifest, "torch_export", "onnx-fp32,onnx-int8", expect_logits=("onnx-int8",))
    _bench_tf_free(out, colour_dataset, tmp_path)
    assert arts["torch_export-onnx-int8.onnx"]["parity"]["top5_overlap"] == 1.0
    clf = Classifier.load(out / "torch_export-onnx-int8.onnx")
    for colour in LABELS:
        assert clf.predict(solid(colour), top_k=1)[0].label == colour


def test_onnx_model_refuses_tflite_formats(colour_dataset, tmp_path, capsys):
    model = _nchw_onnx(tmp_path / "m.onnx")
    code, _, _ = _export(
        tmp_path, model, "tflite-fp32", colour_dataset, "--labels", colour_dataset / "train", "--preprocess", "unit"
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "only to onnx-fp32 and onnx-int8" in err


def test_flat_parity_folder_gives_agreement_only(user_files, colour_dataset, tmp_path):
    import shutil

    files, labels = user_files
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, p in enumerate(sorted((colour_dataset / "valid").rglob("*.jpg"))):
        shutil.copy(p, flat / f"{i}.jpg")
    out = tmp_path / "out"
    code = cli.main(_argv(files["keras"], out, "tflite-fp32", labels, "symmetric", flat))
    assert code == 0
    p = json.loads((out / "manifest.json").read_text())["artifacts"]["notebook-tflite-fp32.tflite"]["parity"]
    assert p["top1_keras"] is None and p["agreement"] == 1.0 and p["n"] == len(list(flat.iterdir()))


# ---------------------------------------------------------------- what we cannot take: one line, exit 2


def _argv(model, out, formats, labels, preprocess, parity) -> list[str]:
    """`export` of a user model without calibration images (flat folders and error cases)."""
    return [
        "export",
        str(model),
        "--out",
        str(out),
        "--formats",
        formats,
        "--labels",
        str(labels),
        "--preprocess",
        preprocess,
        "--parity-data",
        str(parity),
    ]


def _error_line(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture(scope="session")
def bad_models(tmp_path_factory):
    import keras

    tmp = tmp_path_factory.mktemp("bad-models")
    a, b = keras.Input((*TINY_SIZE, 3)), keras.Input((*TINY_SIZE, 3))
    two = keras.layers.Add()([a, b])
    _, out = _colour_head(keras, two)
    files = {"two_inputs": tmp / "two_inputs.keras"}
    keras.Model([a, b], out).save(files["two_inputs"])
    inp = keras.Input((*TINY_SIZE, 3))
    _, out = _colour_head(keras, inp)
    files["two_outputs"] = tmp / "two_outputs.keras"
    keras.Model(inp, [out, out]).save(files["two_outputs"])
    vec = keras.Input((16,))
    files["not_image"] = tmp / "not_image.keras"
    keras.Model(vec, keras.layers.Dense(3, activation="softmax")(vec)).save(files["not_image"])
    dyn = keras.Input((None, None, 3))
    _, out = _colour_head(keras, dyn)
    files["dynamic"] = tmp / "dynamic.keras"
    keras.Model(dyn, out).save(files["dynamic"])

    @keras.saving.register_keras_serializable(package="user_tests")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2

    inp = keras.Input((*TINY_SIZE, 3))
    _, out = _colour_head(keras, Doubler()(inp))
    files["custom"] = tmp / "custom.keras"
    keras.Model(inp, out).save(files["custom"])
    keras.saving.get_custom_objects().clear()  # as in a fresh process: the class is not importable
    return files


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("two_inputs", "has 2 inputs and 1 outputs"),
        ("two_outputs", "has 1 inputs and 2 outputs"),
        ("not_image", "input is not an image tensor"),
        ("dynamic", "dynamic height/width: give --input-size"),
        ("custom", "needs the custom class 'Doubler'"),
    ],
)
def test_models_we_cannot_take_get_one_line(name, message, bad_models, colour_dataset, tmp_path, capsys):
    argv = _argv(
        bad_models[name], tmp_path / "o", "tflite-fp32", colour_dataset / "train", "raw", colour_dataset / "valid"
    )
    err = _error_line(capsys, argv)
    assert message in err and str(bad_models[name]) in err


def test_dynamic_size_works_with_input_size(bad_models, colour_dataset, tmp_path):
    code, manifest, _ = _export(
        tmp_path,
        bad_models["dynamic"],
        "tflite-fp32",
        colour_dataset,
        "--labels",
        colour_dataset / "train",
        "--preprocess",
        "symmetric",
        "--input-size",
        "32x32",
    )
    assert code == 0 and manifest["artifacts"]["dynamic-tflite-fp32.tflite"]["status"] == "passed"


def test_label_count_must_match_outputs(user_files, colour_dataset, tmp_path, capsys):
    files, _ = user_files
    four = tmp_path / "four.txt"
    four.write_text("a\nb\nc\nd\n")
    argv = _argv(files["keras"], tmp_path / "o", "tflite-fp32", four, "raw", colour_dataset / "valid")
    assert "outputs 3 scores but --labels" in _error_line(capsys, argv)


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("--labels", "needs --labels"),
        ("--preprocess", "say what the model expects"),
        ("--parity-data", "--parity-data DIR"),
    ],
)
def test_user_models_need_labels_preprocessing_and_data(drop, message, user_files, colour_dataset, tmp_path, capsys):
    files, labels = user_files
    opts = {"--labels": str(labels), "--preprocess": "raw", "--parity-data": str(colour_dataset / "valid")}
    del opts[drop]
    argv = ["export", str(files["keras"]), "--out", str(tmp_path / "o"), "--formats", "tflite-fp32"]
    assert message in _error_line(capsys, argv + [x for kv in opts.items() for x in kv])


def test_int8_of_a_user_model_needs_calibration(user_files, colour_dataset, tmp_path, capsys):
    files, labels = user_files
    argv = _argv(files["keras"], tmp_path / "o", "tflite-int8", labels, "raw", colour_dataset / "valid")
    assert "tflite-int8 needs --calibration DIR" in _error_line(capsys, argv)


@pytest.mark.parametrize("cut", ["half", "empty"])
def test_a_truncated_keras_file_says_damaged(user_files, colour_dataset, tmp_path, capsys, cut):
    files, labels = user_files
    data = files["keras"].read_bytes()
    trunc = tmp_path / "trunc.keras"
    trunc.write_bytes(data[: len(data) // 2] if cut == "half" else b"")
    argv = _argv(trunc, tmp_path / "o", "tflite-fp32", labels, "raw", colour_dataset / "valid")
    line = _error_line(capsys, argv)
    assert "damaged or truncated .keras" in line and "File not found" not in line and str(trunc) in line
