"""Multiply-accumulates per inference, counted from an exported .tflite graph: a cost that does
not depend on the machine, so a user can reason about a board nobody timed.

Counted: CONV_2D (output elements x kernel height x width x input channels), DEPTHWISE_CONV_2D
(output elements x kernel height x width) and FULLY_CONNECTED (output elements x inputs) - more
than 99% of a convolutional classifier's arithmetic; adds, pooling and activations are left out,
as in the published MAC counts of MobileNet and EfficientNet. The ops and their tensors come
from LiteRT's interpreter (runtime/graph.py, the door to its one private call).
An ONNX file is one graph with the same layers as its model's .tflite files: the bench fills
its count from a .tflite row of the same model (``fill_by_model``).
"""

from __future__ import annotations

from sportsedge.runtime.graph import per_op_macs, tflite_macs

__all__ = ["fill_by_model", "per_op_macs", "tflite_macs"]


def fill_by_model(rows: list[dict]) -> None:
    """Rows without a count (ONNX) take the count of a row of the same model that has one."""
    known = {r["model"]: r["macs"] for r in rows if r.get("macs")}
    for r in rows:
        if r.get("macs") is None and r["model"] in known:
            r["macs"] = known[r["model"]]
