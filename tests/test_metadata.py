"""Labels and input spec travel inside the model file (and in a sidecar)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from sportsedge.core.errors import ModelError
from sportsedge.runtime import Classifier, ModelMetadata, attach_metadata, sidecar_path
from sportsedge.runtime.metadata import read_tflite_metadata, split_tflite

from conftest import LABELS, TINY_SIZE


@pytest.mark.parametrize("fmt", ["tflite-fp32", "tflite-int8", "onnx-fp32"])
def test_round_trip_inside_the_file(fmt, tiny_models, copy_model):
    path = copy_model(tiny_models[fmt])
    meta = ModelMetadata(
        labels=("rouge", "vert", "bleu"),
        model_name="colour",
        input_size=TINY_SIZE,
        format=fmt,
        source_run="runs/x",
        extra={"note": "é ✓"},
    )
    attach_metadata(path, meta, sidecar=False)
    assert not sidecar_path(path).exists()
    clf = Classifier.load(path)  # the interpreter/session still loads the file
    assert clf.metadata == meta
    assert clf.labels == ("rouge", "vert", "bleu")
    assert clf.predict(_red(), top_k=1)[0].label == "rouge"


def _red():
    from conftest import solid

    return solid("red")


def test_tflite_zip_is_what_tflite_tooling_reads(tiny_models, copy_model):
    path = copy_model(tiny_models["tflite-fp32"])
    original = path.read_bytes()
    attach_metadata(path, ModelMetadata(labels=LABELS), sidecar=False)
    data = path.read_bytes()
    assert data.startswith(original)  # flatbuffer untouched, archive appended
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("labels.txt").decode() == "red\ngreen\nblue\n"
        assert json.loads(zf.read("sportsedge.json"))["labels"] == list(LABELS)


def test_reattaching_replaces_not_appends(tiny_models, copy_model):
    path = copy_model(tiny_models["tflite-fp32"])
    attach_metadata(path, ModelMetadata(labels=("a", "b", "c")), sidecar=False)
    once = path.stat().st_size
    attach_metadata(path, ModelMetadata(labels=("x", "y", "z")), sidecar=False)
    assert path.stat().st_size == once
    assert split_tflite(path.read_bytes())[0] == tiny_models["tflite-fp32"].read_bytes()
    assert Classifier.load(path).labels == ("x", "y", "z")

    onnx_path = copy_model(tiny_models["onnx-fp32"])
    attach_metadata(onnx_path, ModelMetadata(labels=("a", "b", "c")), sidecar=False)
    attach_metadata(onnx_path, ModelMetadata(labels=("x", "y", "z")), sidecar=False)
    assert Classifier.load(onnx_path).labels == ("x", "y", "z")


def test_labels_only_archive_from_other_tooling(tiny_models):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("labels.txt", "cat\ndog\nfish\n")
    meta = read_tflite_metadata(tiny_models["tflite-fp32"].read_bytes() + buf.getvalue())
    assert meta.labels == ("cat", "dog", "fish")


def test_sidecar_is_the_fallback(tiny_models, copy_model):
    path = copy_model(tiny_models["onnx-fp32"])
    sidecar_path(path).write_text(json.dumps(ModelMetadata(labels=("r", "g", "b")).to_dict()))
    assert Classifier.load(path).labels == ("r", "g", "b")


def test_attach_writes_sidecar_too(tiny_models, copy_model):
    path = copy_model(tiny_models["tflite-int8"])
    meta = ModelMetadata(labels=LABELS, input_size=TINY_SIZE, format="tflite-int8")
    attach_metadata(path, meta)
    assert ModelMetadata.from_dict(json.loads(sidecar_path(path).read_text())) == meta


def test_attach_refuses_non_models(tmp_path):
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelError, match="x.tflite: not a TFLite flatbuffer"):
        attach_metadata(bad, ModelMetadata(labels=LABELS))
    with pytest.raises(ModelError, match="unknown model type"):
        attach_metadata(tmp_path / "x.pb", ModelMetadata(labels=LABELS))
    assert bad.read_bytes() == b"not a flatbuffer at all"  # left as it was
