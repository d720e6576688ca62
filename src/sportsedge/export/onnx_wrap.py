"""A user's float ONNX classifier made to take raw NHWC pixels, and any ONNX classifier's final
softmax taken off (int8 files stop at the logits: runtime/outputs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sportsedge.core.errors import MissingDependencyError, ModelError, first_line
from sportsedge.core.input_transform import PixelTransform
from sportsedge.export.source import fixed_size, image_layout
from sportsedge.runtime.ort_session import session_options

INPUT_NAME = "pixels"  # the wrapped graph's input, as our own exports name it (onnx.py feeds it by name)
_FLOAT = 1  # onnx.TensorProto.FLOAT


def _onnx():
    try:
        import onnx
    except ImportError as err:
        raise MissingDependencyError("onnx", "train", "needed to export ONNX models") from err
    return onnx


def load_onnx(path: Path, transform: PixelTransform, size: tuple[int, int] | None) -> tuple[bytes, tuple, int]:
    """(wrapped model bytes, (height, width), classes) of a one-input float ONNX image classifier."""
    onnx = _onnx()
    try:
        model = onnx.load(str(path))
    except Exception as err:
        raise ModelError(path, f"not a valid ONNX model ({first_line(err)})") from err
    graph = model.graph
    weights = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in weights]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ModelError(
            path, f"has {len(inputs)} inputs and {len(graph.output)} outputs: only one image in, one score vector out"
        )
    inp = inputs[0]
    if inp.type.tensor_type.elem_type != _FLOAT:
        raise ModelError(path, "input is not float32: give the float model (sportsedge quantizes it)")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
    channels_first, native = image_layout(dims, path)
    size = fixed_size(native, size, path)
    wrapped = _wrap(onnx, model, inp.name, transform, size, channels_first, dims[0] or "N")
    out = run_onnx(wrapped, np.zeros((1, *size, 3), np.uint8), path)
    if out.ndim != 2:
        raise ModelError(path, f"output is not one score per class: shape {out.shape}")
    return wrapped, size, int(out.shape[1])


def _wrap(onnx, model, name: str, t: PixelTransform, size, channels_first: bool, batch) -> bytes:
    """Prepend raw NHWC pixels -> (BGR) -> *scale + offset -> (NCHW) -> the original input."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inner = "sportsedge_model_input"
    for node in graph.node:  # the original input becomes an internal tensor fed by our nodes
        node.input[:] = [inner if i == name else i for i in node.input]
    nodes: list[Any] = []  # onnx NodeProto / TensorProto: onnx ships no stubs
    consts: list[Any] = []
    x = INPUT_NAME

    def step(op, *args, **attrs):
        nonlocal x
        out = f"sportsedge_{op.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(op, [x, *args], [out], **attrs))
        x = out

    def const(cname, value):
        consts.append(numpy_helper.from_array(np.asarray(value), cname))
        return cname

    if t.bgr:
        step("Gather", const("sportsedge_bgr", np.array([2, 1, 0], np.int64)), axis=3)
    step("Mul", const("sportsedge_scale", np.array(t.scale, np.float32)))
    step("Add", const("sportsedge_offset", np.array(t.offset, np.float32)))
    if channels_first:
        step("Transpose", perm=[0, 3, 1, 2])
    nodes.append(helper.make_node("Identity", [x], [inner]))
    kept = [i for i in graph.input if i.name != name]
    new_input = helper.make_tensor_value_info(INPUT_NAME, _FLOAT, [batch, *size, 3])
    del graph.input[:]
    graph.input.extend([new_input, *kept])
    graph.initializer.extend(consts)
    old = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + old)
    onnx = _onnx()
    try:
        onnx.checker.check_model(model)
    except Exception as err:
        raise ModelError(None, f"the wrapped ONNX model does not check ({first_line(err)})") from err
    return model.SerializeToString()


def run_onnx(data: bytes, pixels: np.ndarray, where: Path | None = None) -> np.ndarray:
    """Outputs of the wrapped model, one image per call (models from PyTorch often fix batch 1)."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(data, session_options(), providers=["CPUExecutionProvider"])
        x = pixels.astype(np.float32)
        return np.concatenate([sess.run(None, {INPUT_NAME: x[i : i + 1]})[0] for i in range(len(x))])
    except Exception as err:
        raise ModelError(where, f"the model failed a test inference ({first_line(err)})") from err


def cut_softmax(data: bytes) -> bytes | None:
    """The graph without a final Softmax on the class axis (through Identity nodes), or None."""
    onnx = _onnx()
    from onnx import helper

    model = onnx.load_from_string(data)
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    out = graph.output[0]
    node = producer.get(out.name)
    while node is not None and node.op_type == "Identity":
        node = producer.get(node.input[0])
    if node is None or node.op_type != "Softmax":
        return None
    axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
    if axis not in (-1, 1):
        return None
    logits = node.input[0]
    dead = [node]
    cur = producer[out.name]
    while cur is not node:
        dead.append(cur)
        cur = producer[cur.input[0]]  # walked above: every node of the chain has a producer
    keep = [n for n in graph.node if all(n is not d for d in dead)]
    del graph.node[:]
    graph.node.extend(keep)
    new_out = helper.make_tensor_value_info(
        logits, _FLOAT, [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    )
    del graph.output[:]
    graph.output.append(new_out)
    return model.SerializeToString()
