"""onnxruntime's session options, built in one place so that every .onnx run (the runtime, export's
parity and search, doctor's activation matching and profiler) multiplies int8 the same way.

On an x86 CPU without VNNI, onnxruntime's uint8 x int8 kernels sum each pair of products with
PMADDUBSW, which saturates at 16 bits, so a QDQ int8 model computes something else than on an ARM
board or a VNNI CPU. On such a CPU the 5-epoch EfficientNet-Lite0 of the ARM test agreed with float
on 26 of its 36 images (33 with exact kernels), efficientnet_lite2_ft on 96.6% of 500 valid images
(99.2%). ``session.x64quantprecision`` switches onnxruntime to its exact uint8 x uint8 kernels,
about 9% slower there (docs/quantization.md); it is set only where the clamp is live.
"""

from __future__ import annotations

from typing import Any

from sportsedge.util.envinfo import int8_dot

EXACT_INT8 = "session.x64quantprecision"  # onnxruntime's key: exact u8u8 kernels on x86 (ignored elsewhere)


def exact_int8_needed() -> bool:
    return int8_dot() == "saturating"


def session_options(threads: int | None = None) -> Any:
    """``onnxruntime.SessionOptions``: ``threads`` intra-op threads (None: onnxruntime's default,
    all cores), one inter-op thread, errors only in its log, and exact int8 where needed."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or 0
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if exact_int8_needed():
        opts.add_session_config_entry(EXACT_INT8, "1")
    return opts
