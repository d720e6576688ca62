"""Hostile ``.pt2`` files: a program saved by ``torch.export.save``, rewritten so that loading it
with ``torch.export.load`` would create a marker file. Each variant uses one of the ways torch 2.13
runs code from an archive (src/sportsedge/export/torch_archive.py lists them). No torch needed.

    python tests/hostile_pt2.py PROGRAM.pt2 DYNAMIC.pt2 OUT_DIR
"""

from __future__ import annotations

import builtins
import json
import pickle
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path


class Touch:
    """Unpickled, it opens (creates) ``path``: the payload."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (builtins.open, (self.path, "w"))


def _rewrite(src: Path, dst: Path, change: Callable[[str, bytes], bytes]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info.filename)))
    return dst


def _pickled_weight(marker: Path):
    def change(name: str, data: bytes) -> bytes:
        if name.endswith("model_weights_config.json"):
            config = json.loads(data)
            first = next(iter(config["config"]))
            config["config"][first]["use_pickle"] = True
            return json.dumps(config).encode()
        if name.endswith("data/weights/weight_0"):
            return pickle.dumps(Touch(marker), protocol=2)
        return data

    return change


def _sample_inputs(marker: Path):
    def change(name: str, data: bytes) -> bytes:
        return pickle.dumps(Touch(marker), protocol=2) if "sample_inputs/" in name else data

    return change


def _opaque_constant(marker: Path):
    def change(name: str, data: bytes) -> bytes:
        if name.endswith("model_constants_config.json"):
            entry = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True, "tensor_meta": None}
            return json.dumps({"config": {"obj": entry}}).encode()
        return data

    return change


def _shape_expression(marker: Path):
    def change(name: str, data: bytes) -> bytes:
        if "/models/" not in name:
            return data
        text = data.decode()
        start = text.index('"expr_str": "') + len('"expr_str": "')
        payload = f"__import__('builtins').open('{marker}', 'w') and "
        return (text[:start] + payload + text[start:]).encode()

    return change


# name -> (rewrite, which source program: the fixed-batch or the dynamic one)
VARIANTS: dict[str, tuple[Callable[[Path], Callable[[str, bytes], bytes]], str]] = {
    "pickled-weight": (_pickled_weight, "program"),
    "sample-inputs": (_sample_inputs, "program"),
    "opaque-constant": (_opaque_constant, "program"),
    "shape-expression": (_shape_expression, "dynamic"),
}


def write_hostile(program: Path, dynamic: Path, out: Path, marker: Path) -> dict[str, Path]:
    """Every variant in ``out``; each would create ``marker`` if its payload ran."""
    out.mkdir(parents=True, exist_ok=True)
    sources = {"program": program, "dynamic": dynamic}
    return {name: _rewrite(sources[src], out / f"{name}.pt2", make(marker)) for name, (make, src) in VARIANTS.items()}


if __name__ == "__main__":
    target = Path(sys.argv[3])
    for name, path in write_hostile(Path(sys.argv[1]), Path(sys.argv[2]), target, target / "ran").items():
        print(f"{name}: {path}")
