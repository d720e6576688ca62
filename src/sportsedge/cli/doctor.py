"""`sportsedge doctor`'s parser (the export side: the train extra; an .onnx needs no TensorFlow)."""

from __future__ import annotations

from sportsedge.cli.models import model_options
from sportsedge.core.options import add_options
from sportsedge.doctor.config import DoctorConfig


def add_doctor(sub) -> None:
    p = sub.add_parser(
        "doctor",
        help="why an int8 model loses accuracy, layer by layer, and the fewest float layers that win it back",
        description="Quantize a model as export would (tflite-int8 and onnx-int8), measure every layer's int8 "
        "error, rank the culprits by what keeping each float wins back, search the fewest layers kept float "
        "that meet --max-drop, time plain int8 against the mixed file, and write OUT/doctor.md and "
        "OUT/doctor.html with the export command to use. Takes what export takes as a source (not a .tflite "
        "or an int8 .onnx).",
    )
    add_options(p, DoctorConfig)
    model_options(p, "your own model (not a sportsedge run)")
    p.set_defaults(handler="sportsedge.doctor.commands:doctor_cmd")
