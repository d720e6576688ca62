"""Layers that hold, read from the source (every import, top-level or inside a function): the
TF-free packages never import the TensorFlow side, and no two parts import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "sportsedge"
TF_FREE = ("runtime", "benchmarks", "serve")  # run on a device: no TensorFlow there
TF_SIDE = ("export", "train", "pipeline")


def _unit(module: str) -> str:
    """The part a sportsedge module belongs to: its subpackage, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> set[str]:
    """Fully qualified sportsedge modules imported by one file (relative imports resolved)."""
    module = "sportsedge." + ".".join(path.relative_to(PKG).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith("sportsedge"):
                found.add(target)
                found |= {
                    f"{target}.{a.name}" for a in node.names if (PKG / Path(*target.split(".")[1:]) / a.name).exists()
                }
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sportsedge")}
    return found


def unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        unit = rel.parts[0].removesuffix(".py")
        if unit == "__init__":
            continue
        targets = {_unit(t) for t in imports_of(path)}
        graph.setdefault(unit, set()).update(t for t in targets if t and t != unit and t != "__init__")
    return graph


def test_the_graph_sees_imports_inside_functions():
    # label_cli imports its helpers inside run(): the scan must see them, or the test proves nothing.
    assert "sportsedge.runtime.modelspec" in imports_of(PKG / "runtime" / "label_cli.py")
    assert "export" in unit_graph()["pipeline"]


@pytest.mark.parametrize("light", TF_FREE)
def test_tf_free_packages_never_import_the_tensorflow_side(light):
    offenders = {}
    for path in (PKG / light).rglob("*.py"):
        bad = sorted(t for t in imports_of(path) if _unit(t) in TF_SIDE)
        if bad:
            offenders[str(path.relative_to(PKG))] = bad
    # benchmarks' --keras baseline is the one documented exception: it needs the train extra.
    offenders.pop("benchmarks/keras_baseline.py", None)
    assert not offenders, offenders


def test_runtime_imports_nothing_that_imports_it_back():
    graph = unit_graph()

    def reaches(start: str, goal: str, seen=()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph.get(start, ()))

    loops = sorted(u for u in graph["runtime"] if reaches(u, "runtime"))
    assert not loops, f"runtime imports {loops}, which import runtime back"


def _resolve(spec: str):
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def test_every_table_entry_resolves():
    """Names in the tables (format converters, command handlers, remedies) point at real
    functions: a renamed function fails here, not in a user's export."""
    from sportsedge.cli import build_parser
    from sportsedge.export.config import REMEDIES
    from sportsedge.export.remedies import CANDIDATES
    from sportsedge.formats import FORMATS

    for fmt in FORMATS.values():
        assert callable(_resolve(fmt.converter)), fmt.name
    handlers = set()
    parser = build_parser()
    for action in parser._subparsers._group_actions:
        for sub in action.choices.values():
            handlers.add(sub.get_default("handler"))
            for nested in sub._subparsers._group_actions if sub._subparsers else ():
                handlers |= {p.get_default("handler") for p in nested.choices.values()}
    handlers.discard(None)
    assert len(handlers) >= 11 and all(callable(_resolve(h)) for h in handlers)
    assert set(CANDIDATES) == set(REMEDIES) and all(callable(f) for f in CANDIDATES.values())
