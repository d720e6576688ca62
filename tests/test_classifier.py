"""Classifier: correct answers from every backend, quantized I/O, threads, bad model files."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from sportsedge.core.errors import InputError, ModelError
from sportsedge.core.formats import FORMATS as TABLE
from sportsedge.runtime import Classifier, MissingLabelsWarning

from conftest import LABELS, TINY_SIZE, solid
from model_fixtures import TINY_FILES

FORMATS = list(TINY_FILES)  # the hand-set colour models (committed in tests/fixtures/labelled)
# Every format of the table has a committed tiny export (tests/fixtures/exported), or a reason here.
NO_FIXTURE = {
    f.name: "trains in its own process with the qat extra (tests/test_quantize.py)"
    for f in TABLE.values()
    if not f.in_all
}
EXPORTED = [name for name in TABLE if name not in NO_FIXTURE]


def test_every_format_has_a_committed_fixture_or_a_reason(exported):
    _, manifest, _ = exported
    committed = {entry["format"] for entry in manifest["artifacts"].values()}
    missing = [name for name in TABLE if name not in committed and name not in NO_FIXTURE]
    assert not missing, f"formats with neither a fixture in tests/fixtures/exported nor a reason: {missing}"


@pytest.mark.parametrize("fmt", EXPORTED)
def test_every_format_loads_and_names_the_colours(fmt, exported):
    out, manifest, _ = exported
    (entry,) = [e for e in manifest["artifacts"].values() if e["format"] == fmt]
    clf = Classifier.load(out / entry["path"])  # digest and golden check at load
    assert clf.labels == tuple(sorted(LABELS)) and clf.metadata.format == fmt  # class folders, sorted
    for colour in LABELS:
        assert clf.predict(solid(colour), top_k=1)[0].label == colour


@pytest.mark.parametrize("fmt", FORMATS)
def test_predicts_known_colours(fmt, labelled_models):
    clf = Classifier.load(labelled_models[fmt])
    for colour in LABELS:
        preds = clf.predict(solid(colour))
        assert [p.label for p in preds][0] == colour
        assert preds[0].index == LABELS.index(colour)
        assert preds[0].score > 0.95
        assert len(preds) == 3 and preds[0].score >= preds[1].score >= preds[2].score


@pytest.mark.parametrize("fmt", FORMATS)
def test_path_pil_array_and_batch_agree(fmt, labelled_models, tmp_path):
    clf = Classifier.load(labelled_models[fmt])
    rng = np.random.default_rng(4)
    arr = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)  # not the model size: gets resized
    Image.fromarray(arr).save(tmp_path / "x.png")
    a = clf.predict(tmp_path / "x.png", top_k=3)
    b = clf.predict(Image.fromarray(arr), top_k=3)
    c = clf.predict(arr, top_k=3)
    batch = clf.predict_batch([arr, solid("blue"), str(tmp_path / "x.png")], top_k=3)
    assert a == b == c
    for got in (batch[0], batch[2]):  # batched kernels may round differently in the last bits
        assert [p.index for p in got] == [p.index for p in a]
        assert np.allclose([p.score for p in got], [p.score for p in a], rtol=0, atol=1e-6)
    assert batch[1][0].label == "blue"


def test_int8_model_takes_raw_uint8_pixels(labelled_models):
    clf = Classifier.load(labelled_models["tflite-int8"])
    assert clf.input_dtype == np.uint8
    pixels = np.arange(32 * 32 * 3, dtype=np.uint32).reshape(1, 32, 32, 3).astype(np.uint8)
    x = clf.to_input(pixels)  # scale 1, zero point 0: pixels go in untouched, every value 0..255
    assert x.dtype == np.uint8 and np.array_equal(x, pixels)
    scores = clf.scores(solid("green")[None])
    assert scores.dtype == np.float32 and 0.95 < scores[0, 1] <= 1.0  # dequantized output


def test_int8_matches_float(labelled_models):
    f32 = Classifier.load(labelled_models["tflite-fp32"])
    i8 = Classifier.load(labelled_models["tflite-int8"])
    rng = np.random.default_rng(5)
    imgs = rng.integers(0, 256, (20, *TINY_SIZE, 3), dtype=np.uint8)
    assert np.abs(f32.scores(imgs) - i8.scores(imgs)).max() < 0.05


def test_top_k_bounds(labelled_models):
    clf = Classifier.load(labelled_models["onnx-fp32"])
    assert len(clf.predict(solid("red"), top_k=1)) == 1
    assert len(clf.predict(solid("red"), top_k=99)) == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_threads_share_one_classifier(fmt, labelled_models):
    clf = Classifier.load(labelled_models[fmt], threads=1)
    rng = np.random.default_rng(6)
    imgs = [rng.integers(0, 256, (*TINY_SIZE, 3), dtype=np.uint8) for _ in range(40)]
    serial = [clf.predict(img, top_k=3) for img in imgs]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(worker: int):
        try:
            for _ in range(5):
                for i in range(worker, len(imgs), 4):
                    got = clf.predict(imgs[i], top_k=3)
                    if results.setdefault(i, got) != got:
                        raise AssertionError(f"image {i} gave two answers")
        except BaseException as err:  # surfaced in the main thread below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [results[i] for i in range(len(imgs))] == serial


# ------------------------------------------------------------------ bad model files


def test_model_without_labels_warns_and_names_by_index(tiny_models):
    with pytest.warns(MissingLabelsWarning, match="no labels"):
        clf = Classifier.load(tiny_models["tflite-fp32"])
    assert clf.labels == ("class_0", "class_1", "class_2")
    assert clf.predict(solid("blue"))[0].label == "class_2"


@pytest.mark.parametrize("fmt", ["tflite-fp32", "onnx-fp32"])
def test_truncated_model(fmt, labelled_models, copy_model):
    path = copy_model(labelled_models[fmt])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match=f"{path.name}: not a "):
        Classifier.load(path)


@pytest.mark.parametrize("name", ["model.tflite", "model.onnx"])
def test_non_model_file(name, tmp_path):
    path = tmp_path / name
    path.write_text("hello, I am a text file pretending to be a model\n" * 10)
    with pytest.raises(ModelError, match=f"{name}: not a"):
        Classifier.load(path)


def test_missing_empty_and_unknown_model_files(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        Classifier.load(tmp_path / "gone.tflite")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="empty model file"):
        Classifier.load(tmp_path / "empty.onnx")
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ModelError, match="a Keras HDF5 model, which the runtime does not load: export it first"):
        Classifier.load(tmp_path / "weights.h5")
    (tmp_path / "weights.bin").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ModelError, match="unknown model type"):
        Classifier.load(tmp_path / "weights.bin")


def test_tflite_with_unusual_extension_is_sniffed(labelled_models, copy_model):
    path = copy_model(labelled_models["tflite-fp32"], "colour.bin")
    assert Classifier.load(path).predict(solid("red"))[0].label == "red"


def test_label_count_mismatch(tiny_models, copy_model):
    from sportsedge.runtime import ModelMetadata, attach_metadata

    path = copy_model(tiny_models["onnx-fp32"])
    attach_metadata(path, ModelMetadata(labels=("a", "b")), sidecar=False)
    with pytest.raises(ModelError, match="2 labels but the model outputs 3"):
        Classifier.load(path)


def test_bad_image_names_the_file(labelled_models, tmp_path):
    clf = Classifier.load(labelled_models["tflite-fp32"])
    (tmp_path / "bad.jpg").write_text("text")
    with pytest.raises(InputError, match="bad.jpg: not an image"):
        clf.predict(tmp_path / "bad.jpg")
    with pytest.raises(InputError, match="bad.jpg"):
        clf.predict_batch([solid("red"), tmp_path / "bad.jpg"])
