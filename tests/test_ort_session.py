"""onnxruntime's int8 on x86 without VNNI: the runtime's answers are the model's, not a clamp's.

The model is one QDQ 3x3 convolution with int8 weights of 127 over uint8 pixels of 255: every
pair of products sums to 64,770, beyond the 16 bits that PMADDUBSW keeps. Built here with onnx's
helper (a few nodes, no TensorFlow), so it needs no committed file."""

from __future__ import annotations

import numpy as np
import pytest

from sportsedge.util.envinfo import int8_dot

OUT_SCALE = 4000.0  # the output's int8 scale: 255*127*27/4000 = 218.6 fits uint8
EXACT = round(255 * 127 * 27 / OUT_SCALE) * OUT_SCALE  # what the graph computes


def saturating_conv(path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto
    from onnx import helper as h
    from onnx import numpy_helper as nh

    inits = [
        nh.from_array(np.array(1.0, np.float32), "one"),
        nh.from_array(np.array(0, np.uint8), "zero_u8"),
        nh.from_array(np.full((4, 3, 3, 3), 127, np.int8), "w_int8"),
        nh.from_array(np.ones(4, np.float32), "w_scale"),
        nh.from_array(np.zeros(4, np.int8), "w_zero"),
        nh.from_array(np.array(OUT_SCALE, np.float32), "out_scale"),
        nh.from_array(np.array([1, 4], np.int64), "shape"),
    ]
    nodes = [
        h.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]),
        h.make_node("QuantizeLinear", ["nchw", "one", "zero_u8"], ["x_q"]),
        h.make_node("DequantizeLinear", ["x_q", "one", "zero_u8"], ["x"]),
        h.make_node("DequantizeLinear", ["w_int8", "w_scale", "w_zero"], ["w"], axis=0),
        h.make_node("Conv", ["x", "w"], ["y"]),
        h.make_node("QuantizeLinear", ["y", "out_scale", "zero_u8"], ["y_q"]),
        h.make_node("DequantizeLinear", ["y_q", "out_scale", "zero_u8"], ["y_dq"]),
        h.make_node("GlobalAveragePool", ["y_dq"], ["pooled"]),
        h.make_node("Reshape", ["pooled", "shape"], ["scores"]),
    ]
    graph = h.make_graph(
        nodes,
        "saturating_conv",
        [h.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 8, 8, 3])],
        [h.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 4])],
        inits,
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def test_the_runtime_computes_int8_exactly_where_the_cpu_would_clamp(tmp_path):
    pytest.importorskip("onnxruntime")
    from sportsedge.runtime.backends import OnnxBackend

    scores = OnnxBackend(saturating_conv(tmp_path / "conv.onnx")).run(np.full((1, 8, 8, 3), 255, np.float32))
    # onnxruntime's default kernels give 460,000 on an AVX2 CPU without VNNI (about half).
    np.testing.assert_allclose(scores, EXACT, rtol=1e-6)


@pytest.mark.parametrize(
    ("machine", "flags", "expected"),
    [
        ("x86_64", frozenset({"avx2", "fma"}), "saturating"),
        ("x86_64", frozenset({"avx2", "avx512f", "avx512_vnni"}), "vnni"),
        ("AMD64", frozenset({"avx2", "avx_vnni"}), "vnni"),
        ("x86_64", None, "saturating"),  # flags unreadable: exact is slower, never wrong
        ("aarch64", frozenset({"asimd"}), "not x86"),
    ],
)
def test_int8_dot_reads_the_cpu(monkeypatch, machine, flags, expected):
    import sportsedge.util.envinfo as envinfo

    monkeypatch.setattr(envinfo, "cpu_flags", lambda: flags)
    assert int8_dot(machine) == expected


@pytest.mark.parametrize(("dot", "entry"), [("saturating", "1"), ("vnni", ""), ("not x86", "")])
def test_session_options_ask_for_exact_kernels_only_where_the_clamp_is_live(monkeypatch, dot, entry):
    pytest.importorskip("onnxruntime")
    import sportsedge.runtime.ort_session as ort_session

    monkeypatch.setattr(ort_session, "int8_dot", lambda: dot)
    opts = ort_session.session_options(threads=2)
    assert opts.intra_op_num_threads == 2
    try:
        got = opts.get_session_config_entry(ort_session.EXACT_INT8)
    except RuntimeError:  # onnxruntime raises for an entry never set
        got = ""
    assert got == entry
