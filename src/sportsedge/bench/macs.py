"""Multiply-accumulates per inference, counted from an exported .tflite graph: a cost that does
not depend on the machine, so a user can reason about a board nobody timed.

Counted: CONV_2D (output elements x kernel height x width x input channels), DEPTHWISE_CONV_2D
(output elements x kernel height x width) and FULLY_CONNECTED (output elements x inputs) - more
than 99% of a convolutional classifier's arithmetic; adds, pooling and activations are left out,
as in the published MAC counts of MobileNet and EfficientNet. The ops and their tensors come
from LiteRT's interpreter (``_get_ops_details``, its one private call here, checked to exist).
An ONNX file is one graph with the same layers as its model's .tflite files: the bench fills
its count from a .tflite row of the same model (``fill_by_model``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# op -> MACs from (output shape, weight shape): the weight is the op's second input
_PER_OP = {
    "CONV_2D": lambda out, w: int(np.prod(out)) * int(np.prod(w[1:])),  # w: (out c, kh, kw, in c)
    "DEPTHWISE_CONV_2D": lambda out, w: int(np.prod(out)) * int(w[1] * w[2]),  # w: (1, kh, kw, c)
    "FULLY_CONNECTED": lambda out, w: int(np.prod(out)) * int(w[-1]),  # w: (units, inputs)
}


def per_op_macs(path: str | Path) -> dict[str, int]:
    """MACs of each counted op, by the name of its output tensor (empty where the interpreter
    cannot list its ops)."""
    from sportsedge.runtime.backends import litert_interpreter_class

    interpreter = litert_interpreter_class()(model_path=str(path))
    ops_details = getattr(interpreter, "_get_ops_details", None)
    if ops_details is None:
        return {}
    details = interpreter.get_tensor_details()
    shapes = {t["index"]: tuple(int(v) for v in t["shape"]) for t in details}
    names = {t["index"]: t["name"] for t in details}
    out = {}
    for op in ops_details():
        count = _PER_OP.get(op["op_name"])
        if count is not None and len(op["inputs"]) >= 2 and len(op["outputs"]):
            shape, weight = shapes.get(int(op["outputs"][0])), shapes.get(int(op["inputs"][1]))
            if shape and weight:
                out[names[int(op["outputs"][0])]] = count((1, *shape[1:]), weight)
    return out


def tflite_macs(path: str | Path) -> int | None:
    """MACs of one inference (batch 1), or None where the interpreter cannot list its ops."""
    from sportsedge.runtime.backends import litert_interpreter_class

    interpreter = litert_interpreter_class()(model_path=str(path))
    ops_details = getattr(interpreter, "_get_ops_details", None)
    if ops_details is None:  # an interpreter without it (old tflite-runtime): the column stays empty
        return None
    shapes = {t["index"]: tuple(int(v) for v in t["shape"]) for t in interpreter.get_tensor_details()}
    total = 0
    for op in ops_details():
        count = _PER_OP.get(op["op_name"])
        if count is None or len(op["inputs"]) < 2:
            continue
        out, weight = shapes.get(int(op["outputs"][0])), shapes.get(int(op["inputs"][1]))
        if out and weight:
            total += count((1, *out[1:]), weight)
    return total


def fill_by_model(rows: list[dict]) -> None:
    """Rows without a count (ONNX) take the count of a row of the same model that has one."""
    known = {r["model"]: r["macs"] for r in rows if r.get("macs")}
    for r in rows:
        if r.get("macs") is None and r["model"] in known:
            r["macs"] = known[r["model"]]
