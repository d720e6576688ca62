"""Branches and helpers that had no test of their own: atomic writes that fail, the ONNX backend's
NCHW and fixed-batch inputs, the tflite_runtime fallback, the bench's reference row and its
worst-classes figure, and the label-smoothed loss."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import LABELS, solid
from isolation import TIMEOUT_S


def test_atomic_path_keeps_the_old_file_when_the_body_raises(tmp_path):
    from sportsedge.util import fileio

    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), fileio.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary left behind
    fileio.write_text(target, "new")
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) == oct(0o666 & ~fileio.current_umask())


def _nchw_mean_model(path, batch):
    """An ONNX classifier with an NCHW float input (batch fixed or dynamic): the per-channel mean / 255."""
    pytest.importorskip("onnx", reason="builds the model with onnx (the train extra)")
    from onnx import TensorProto, helper, save

    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])
    scale = helper.make_tensor("s", TensorProto.FLOAT, [], [1 / 255])
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Mul", ["f", "s"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "nchw", [inp], [out], [scale])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize("batch", [1, "n"])
def test_onnx_nchw_and_fixed_batch(tmp_path, batch):
    from sportsedge.runtime import Classifier

    path = tmp_path / f"nchw-{batch}.onnx"
    _nchw_mean_model(path, batch)
    with pytest.warns(UserWarning, match="no labels"):
        clf = Classifier.load(path)
    assert clf.input_size == (8, 8)
    images = np.stack([solid(c, (8, 8)) for c in LABELS])  # red, green, blue: channels-last pixels
    scores = clf.scores(images)  # three images through a batch-1 model are run one at a time
    assert scores.shape == (3, 3) and np.allclose(scores, np.eye(3), atol=1e-6)  # channels landed right


def test_tflite_runtime_fallback_when_litert_is_missing(labelled_models):
    """32-bit ARM boards have no ai-edge-litert: .tflite models load through tflite_runtime."""
    code = f"""
import sys, types
from ai_edge_litert.interpreter import Interpreter as Real
used = []
class Fallback(Real):
    def __init__(self, *a, **k):
        used.append(1)
        super().__init__(*a, **k)
for name in [m for m in sys.modules if m.startswith("ai_edge_litert")]:
    del sys.modules[name]
sys.modules["ai_edge_litert"] = None
pkg, sub = types.ModuleType("tflite_runtime"), types.ModuleType("tflite_runtime.interpreter")
sub.Interpreter, pkg.interpreter = Fallback, sub
sys.modules.update({{"tflite_runtime": pkg, "tflite_runtime.interpreter": sub}})
from sportsedge.runtime import Classifier
clf = Classifier.load({str(labelled_models["tflite-int8"])!r})
import numpy as np
assert clf.predict(np.full((32, 32, 3), (0, 0, 255), np.uint8), top_k=1)[0].label == "blue"
assert used, "the fallback interpreter was not used"
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_real_tflite_runtime_package(labelled_models):
    """With the real tflite-runtime package (it needs numpy < 2: not in this environment)."""
    pytest.importorskip("tflite_runtime.interpreter", reason="tflite-runtime not installed (it pins numpy < 2)")
    from tflite_runtime.interpreter import Interpreter

    interp = Interpreter(model_path=str(labelled_models["tflite-int8"]))
    interp.allocate_tensors()
    assert interp.get_input_details()[0]["dtype"] == np.uint8


def test_compare_names_the_classes_that_lost_recall():
    from sportsedge.bench.accuracy import compare

    y = np.array([0, 0, 1, 1, 2, 2])
    ref = np.eye(3)[[0, 0, 1, 1, 2, 0]]  # the reference misses one image of class 2
    probs = np.eye(3)[[0, 0, 0, 0, 2, 2]]  # the candidate loses class 1 entirely, finds class 2
    res = compare(probs, ref, y, ("a", "b", "c"))
    assert res["agreement_vs_fp32"] == pytest.approx(3 / 6)
    assert res["worst_classes"] == [{"class": "b", "recall_drop": 1.0}]  # c improved: not listed


@pytest.mark.tensorflow
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_label_smoothed_loss_is_the_formula(smoothing):
    import keras

    from sportsedge.train.loop import _loss

    y_true = np.array([[0], [2]])
    y_pred = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32)
    target = np.eye(3)[[0, 2]] * (1 - smoothing) + smoothing / 3
    expected = -np.mean(np.sum(target * np.log(y_pred), axis=1))
    loss = _loss(keras, smoothing)
    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    got = float(np.mean(keras.ops.convert_to_numpy(fn(y_true, y_pred))))
    assert got == pytest.approx(expected, rel=1e-5)
