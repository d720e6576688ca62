"""The Keras-file family: someone else's .keras, .h5 or SavedModel folder, wrapped in Keras to
take raw NHWC pixels (export/user_model.py)."""

from __future__ import annotations

from pathlib import Path

from sportsedge.export.source import SourceKind, has_suffix
from sportsedge.export.sources.family import SourceFamily


def is_saved_model(p: Path) -> bool:
    return p.is_dir() and (p / "saved_model.pb").is_file()


FAMILY = SourceFamily(
    name="keras-file",
    kinds=(
        (SourceKind.SAVED_MODEL, is_saved_model),
        (SourceKind.KERAS, has_suffix(".keras")),
        (SourceKind.H5, has_suffix(".h5", ".hdf5")),
    ),
    resolve="sportsedge.export.user_model:resolve_keras",
    run="sportsedge.export.user_model:run_keras",
    folders=("SavedModel folder (saved_model.pb)",),
    files=(".keras", ".h5"),
)
