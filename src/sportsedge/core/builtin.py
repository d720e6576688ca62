"""Models shipped inside the package, by name: ``sportsedge predict sports100 photo.jpg``.

A MODEL argument (and ``Classifier.load``) that names no existing file but a name in BUILTIN
means the packaged file; a file of that name in the current folder wins. Each one carries labels,
digests and a golden check like every export, and is verified at load like any other file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class BuiltinModel:
    file: str  # the model file in sportsedge/core/models/ (package data, not a package)
    card: str  # its model card beside it (data, licences, accuracy, how to rebuild)
    summary: str  # one line for --help


BUILTIN: dict[str, BuiltinModel] = {
    "sports100": BuiltinModel(
        "sports100.tflite",
        "sports100.md",
        "the 100 Sports dataset's classes; MobileNetV2, full int8, 224 px, 2.9 MB",
    ),
}


def builtin_path(name: str) -> Path:
    """The packaged file of a built-in model (KeyError for an unknown name)."""
    return Path(str(resources.files("sportsedge.core") / "models" / BUILTIN[name].file))


def resolve(model: str | os.PathLike[str]) -> Path:
    """``model`` as a path: an existing file or folder as given, else a built-in name's file, else
    the path unchanged (the caller's missing-file error names what the user typed)."""
    path = Path(model)
    if path.exists() or str(model) not in BUILTIN:
        return path
    return builtin_path(str(model))


def names_help() -> str:
    """The built-in names for a MODEL help text."""
    return "; built-in: " + ", ".join(f"{n} ({m.summary})" for n, m in BUILTIN.items())
