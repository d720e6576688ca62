"""The registry of source families (export/sources/): which family a MODEL argument belongs to,
and what it can do. Export, doctor, the CLI and the Python API ask here; none branches on a kind.

A new family (a TensorFlow.js or ExecuTorch program, a Hugging Face classifier) is one module
under export/sources/ with a ``SourceFamily`` record, added to ``FAMILIES`` (or ``register``-ed)."""

from __future__ import annotations

from pathlib import Path

from sportsedge.core.errors import InputError, ModelError, UsageError
from sportsedge.core.formats import Format
from sportsedge.export.sources import keras_file, keras_run, onnx_file, torch_program
from sportsedge.export.sources.family import SourceFamily, impl

# Every family by name, in the order a MODEL argument is tried against them.
FAMILIES: dict[str, SourceFamily] = {
    f.name: f for f in (keras_run.FAMILY, keras_file.FAMILY, onnx_file.FAMILY, torch_program.FAMILY)
}
# Those a fresh interpreter knows too (export/isolated.py converts only their sources in a worker).
BUILTIN_FAMILIES = frozenset(FAMILIES)


def register(family: SourceFamily) -> SourceFamily:
    """Add a family (tried after those before it); a name or kind already taken is refused."""
    taken = {kind for f in FAMILIES.values() for kind, _ in f.kinds}
    clash = [kind for kind, _ in family.kinds if kind in taken]
    if family.name in FAMILIES or clash:
        raise ValueError(f"source family {family.name!r}: {clash[0] if clash else family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    del FAMILIES[name]


def family_of(kind: str) -> SourceFamily:
    """The family of a source kind ("run", "keras", "onnx", "torch", ...)."""
    for family in FAMILIES.values():
        if any(kind == k for k, _ in family.kinds):
            return family
    raise KeyError(f"no source family has kind {kind!r}")


def source_kind(path: str | Path) -> str:
    """The kind of a MODEL argument, or the one line that refuses it."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such run folder or model file")
    for family in FAMILIES.values():
        for kind, test in family.kinds:
            if test(p):
                return kind
    for family in FAMILIES.values():
        if p.is_file() and family.refusal is not None and p.suffix.lower() in family.refused:
            raise ModelError(p, impl(family.refusal)(p))
    raise InputError(p, "not a " + ", a ".join(_names(p)))


def _names(p: Path) -> list[str]:
    """What a MODEL argument may be, as the refusal lists it: the folders, then the files."""
    folders = [name for f in FAMILIES.values() for name in f.folders]
    files = [name for f in FAMILIES.values() for name in f.files]
    listed = ", ".join(files[:-1]) + f" or {files[-1]}" if len(files) > 1 else "".join(files)
    return [*folders[:-1], f"{folders[-1]}, or a {listed} file"] if folders else [f"{listed} file"]


def check_formats(path: Path, kind: str, formats: list[Format]) -> None:
    """UsageError for the first format a source of ``kind`` cannot become."""
    family = family_of(kind)
    for fmt in formats:
        if not family.formats(fmt):
            raise UsageError(f"{path}: {family.why_not}, not {fmt.name}")


def resolve_source(path: str | Path, user, calibration: str | None):
    """(Source, loaded model or None) for a MODEL argument, by its family (a run loads lazily)."""
    path = Path(path)
    kind = source_kind(path)
    return impl(family_of(kind).resolve)(path, kind, user, calibration)


def converter(fmt: Format, kind: str):
    """The format's ``convert(ctx, tell) -> Converted`` for a source of ``kind``: the family's own
    where it has one, else the format table's."""
    return impl(family_of(kind).converters.get(fmt.name, fmt.converter))
