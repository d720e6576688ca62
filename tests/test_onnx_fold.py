"""export/onnx_fold.py: a zero Pad feeding a Conv is folded into the Conv's own pads, exactly; what
cannot fold (a non-zero constant, reflect mode, padding on channels, a Pad read twice) is left."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from sportsedge.export.onnx_fold import fold_pads  # noqa: E402


def _model(pads: list[int], mode: str = "constant", value: float = 0.0, second_user: bool = False):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    p = numpy_helper.from_array(np.array(pads, np.int64), "p")
    v = numpy_helper.from_array(np.array(value, np.float32), "v")
    nodes = [
        helper.make_node("Pad", ["x", "p", "v"], ["xp"], mode=mode),
        helper.make_node("Conv", ["xp", "w"], ["y"], strides=[2, 2], pads=[1, 0, 0, 1]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if second_user:
        nodes.append(helper.make_node("Relu", ["xp"], ["z"]))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 17, 17])], outputs, [w, p, v]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model) -> np.ndarray:
    x = np.random.default_rng(1).normal(size=(1, 3, 17, 17)).astype(np.float32)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(["y"], {"x": x})[0]


def test_a_zero_pad_folds_into_the_conv_exactly():
    model = _model([0, 0, 0, 0, 0, 0, 1, 1])  # TF "same" at stride 2: one more at the end
    before = _run(model)
    assert fold_pads(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Conv"]
    conv = model.graph.node[0]
    assert list(next(a for a in conv.attribute if a.name == "pads").ints) == [1, 0, 1, 2]
    np.testing.assert_array_equal(_run(model), before)


@pytest.mark.parametrize(
    "kind",
    [
        dict(pads=[0, 0, 0, 0, 0, 0, 1, 1], value=1.0),
        dict(pads=[0, 0, 0, 0, 0, 0, 1, 1], mode="reflect"),
        dict(pads=[0, 1, 0, 0, 0, 0, 1, 1]),
        dict(pads=[0, 0, 0, 0, 0, 0, 1, 1], second_user=True),
    ],
)
def test_what_cannot_fold_is_left(kind):
    model = _model(**kind)
    assert fold_pads(model) == 0
    assert [n.op_type for n in model.graph.node][:2] == ["Pad", "Conv"]


@pytest.mark.torch
def test_a_pytorch_zeropad_before_a_strided_conv_leaves_no_pad(tmp_path):
    """The PyTorch route's case: nn.ZeroPad2d((0, 1, 0, 1)) then a stride-2 conv, as EfficientNet-Lite."""
    import io

    import torch

    net = torch.nn.Sequential(torch.nn.ZeroPad2d((0, 1, 0, 1)), torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU())
    buf = io.BytesIO()
    torch.onnx.export(net.eval(), (torch.zeros(1, 3, 32, 32),), buf, dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])  # fmt: skip
    (tmp_path / "f.onnx").write_bytes(buf.getvalue())
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quant_pre_process(str(tmp_path / "f.onnx"), str(tmp_path / "pre.onnx"))  # folds the pads' arithmetic
    model = onnx.load(str(tmp_path / "pre.onnx"))
    if "Pad" not in [n.op_type for n in model.graph.node]:
        pytest.skip("onnxruntime's own optimizer fused this Pad (it keeps EfficientNet-Lite's: see below)")
    x = np.random.default_rng(2).normal(size=(1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    assert fold_pads(model) == 1
    assert "Pad" not in [n.op_type for n in model.graph.node]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(["y"], {"x": x})[0], expected, atol=1e-5)


@pytest.mark.torch
@pytest.mark.slow
def test_efficientnet_lite0s_five_pads_are_folded_after_onnxruntimes_optimizer(tmp_path):
    """EfficientNet-Lite0 as PyTorch exports it: quant_pre_process keeps its five stride-2 Pads
    (the cause of the PyTorch route's slow onnx-int8); all five fold, and the outputs stay."""
    import io

    import torch
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from sportsedge.train.lite_torch import imagenet

    net = imagenet("lite0").eval()
    buf = io.BytesIO()
    torch.onnx.export(net, (torch.zeros(1, 3, 224, 224),), buf, dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])  # fmt: skip
    (tmp_path / "f.onnx").write_bytes(buf.getvalue())
    quant_pre_process(str(tmp_path / "f.onnx"), str(tmp_path / "pre.onnx"))
    model = onnx.load(str(tmp_path / "pre.onnx"))
    assert [n.op_type for n in model.graph.node].count("Pad") == 5
    x = np.random.default_rng(3).normal(size=(1, 3, 224, 224)).astype(np.float32)
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert fold_pads(model) == 5
    assert "Pad" not in [n.op_type for n in model.graph.node]
    after = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(after[0], before[0], atol=1e-4)
