"""Handler of `sportsedge doctor`."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path


def doctor_cmd(args) -> int:
    from sportsedge.core.errors import MissingDependencyError
    from sportsedge.core.options import from_args
    from sportsedge.doctor.config import DoctorConfig
    from sportsedge.doctor.report import agreement_warning
    from sportsedge.doctor.run import check_source, doctor
    from sportsedge.export.commands import user_model

    cfg = from_args(DoctorConfig, args)
    # Both halves read ONNX graphs (the ONNX half, and the int8 check of an .onnx source); a .tflite
    # is refused first, in its own words.
    if Path(cfg.model).suffix.lower() != ".tflite" and importlib.util.find_spec("onnx") is None:
        raise MissingDependencyError("onnx", "train", "sportsedge doctor reads and quantizes ONNX graphs")
    if "tensorflow" in check_source(cfg.model).needs:  # an .onnx is diagnosed without TensorFlow
        from sportsedge.train import require_tensorflow

        require_tensorflow()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out, found = doctor(cfg, user_model(args))
    for d in found:
        met = "" if d.met else " (budget not met)"
        warning = agreement_warning(d, cfg.min_agreement)
        print(f"{d.format}: {', '.join(d.float_layers) or 'no layer'} kept float{met}{warning}")
    print(f"report: {out / 'doctor.html'} (and doctor.md)")
    return 0
