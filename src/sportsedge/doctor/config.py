"""Doctor settings: every default lives here; the CLI builds its options from them (core.options)."""

from __future__ import annotations

from dataclasses import dataclass

from sportsedge.core.formats import CALIBRATION_SIZE
from sportsedge.core.options import FRACTION, NON_NEGATIVE, POSITIVE_INT, check_bounds, option
from sportsedge.export.config import DEFAULT_MAX_DROP


@dataclass(frozen=True)
class DoctorConfig:
    model: str = option(help="a run folder, a .keras/.h5 file, a SavedModel folder or a float .onnx", positional=True)
    data: str = option(  # searched and reported on
        None, "labelled images (class subfolders named as the model's labels): searched and reported on"
    )
    out: str = option("doctor", "folder for doctor.md, doctor.html and the mixed int8 files")
    families: str = option(  # which int8 families to diagnose
        "auto", "int8 formats to diagnose: tflite, onnx, or auto (both; onnx alone for an .onnx)"
    )
    max_drop: float = option(  # the budget the search meets, in top-1 points against the float model
        DEFAULT_MAX_DROP,
        "top-1 points the mixed int8 file may lose against the float model (search images)",
        bound=NON_NEGATIVE,
    )
    min_agreement: float | None = option(  # the search's agreement floor; None = the format's parity floor
        None,
        "agreement with float the mixed file must keep, as export's --min-agreement (default: the format's floor)",
        bound=FRACTION,
    )
    shortlist: int = option(  # layers whose float gain is measured one by one
        8, "layers shortlisted by their quantization error, each then measured alone in float", bound=POSITIVE_INT
    )
    images: int = option(  # taken from --data, evenly over classes
        400, "images taken from --data (evenly over classes), split into search and report sets", bound=POSITIVE_INT
    )
    search_fraction: float = option(  # the share of --data the search may look at; the rest is the report's
        0.5, "share of the images the search measures candidates on; the report's figures use the rest", bound=FRACTION
    )
    calibration: str | None = option(  # as export's --calibration
        None, "folder of real images for int8 calibration (default: a run's train/, else --data)"
    )
    calibration_size: int = option(CALIBRATION_SIZE, "calibration images (as export's)", bound=POSITIVE_INT)
    threads: int = option(1, "threads of the latency run (plain int8 against the mixed file)", bound=POSITIVE_INT)

    def __post_init__(self) -> None:
        check_bounds(self)
