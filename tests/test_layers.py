"""The layer rule, stated once and read from the source (every import, top-level or inside a
function): which package may import which, checked transitively over every module.

docs/architecture.md explains the layers; this graph is the rule. A new package must be placed
in it, and a module outside a package (beside ``__init__``/``__main__``) fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "sportsedge"

# package -> the packages its modules may import. Bottom to top: the flow train -> export ->
# runtime -> bench / serve, with pipeline and the CLI on top. runtime, bench and serve run on a
# device (no TensorFlow): none of them may reach train or export, even through a helper.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "util": frozenset({"core"}),
    "runtime": frozenset({"core", "util"}),
    "data": frozenset({"core", "util", "runtime"}),
    "train": frozenset({"core", "util", "runtime", "data"}),
    "export": frozenset({"core", "util", "runtime", "data", "train"}),
    "bench": frozenset({"core", "util", "runtime", "data"}),
    "serve": frozenset({"core", "util", "runtime"}),
    "doctor": frozenset({"core", "util", "runtime", "data", "train", "export", "bench"}),
    "pipeline": frozenset({"core", "util", "runtime", "data", "train", "export", "bench"}),
    "cli": frozenset({"core", "util", "runtime", "data", "train", "export", "bench", "serve", "doctor", "pipeline"}),
}
TOP_LEVEL = frozenset({"__init__", "__main__"})  # the only modules outside a package
DEVICE = ("runtime", "bench", "serve")  # packages that run where TensorFlow is not installed
TENSORFLOW_SIDE = frozenset({"train", "export"})
# The one exception, imported lazily by `bench --keras` (it needs the train extra).
EXCEPTIONS = {("sportsedge.bench.keras_baseline", "train")}


def module_of(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    where = PKG.parent / Path(*dotted.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """Fully qualified sportsedge modules one file imports (relative imports resolved); importing
    ``a.b.c`` also runs the packages ``a`` and ``a.b``, so those count too."""
    module = module_of(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    named = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] == "sportsedge":
                named.add(target)
                named |= {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
        elif isinstance(node, ast.Import):
            named |= {a.name for a in node.names if a.name.split(".")[0] == "sportsedge"}
    found = set()
    for name in named:
        parts = name.split(".")
        found |= {".".join(parts[:i]) for i in range(2, len(parts) + 1) if _is_module(".".join(parts[:i]))}
    return found - {module}


def module_graph() -> dict[str, set[str]]:
    return {module_of(p): imports_of(p) for p in PKG.rglob("*.py")}


def layer_of(module: str) -> str:
    """The package a module belongs to; "" for the top (``sportsedge``, its ``__main__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] not in TOP_LEVEL else ""


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the rule: upward or sideways across packages, or reaching the
    TensorFlow side from a device package through any chain of imports."""
    found = []
    for mod, targets in sorted(graph.items()):
        here = layer_of(mod)
        for t in sorted(targets):
            there = layer_of(t)
            if here == "" or there in ("", here) or (mod, there) in EXCEPTIONS:  # the top may import all
                continue
            if there not in MAY_IMPORT.get(here, frozenset()):
                found.append(f"{mod} imports {t}: {here} may not import {there}")
    for mod in sorted(m for m in graph if layer_of(m) in DEVICE):
        seen, todo = set(), [mod]
        while todo:
            cur = todo.pop()
            for t in graph.get(cur, ()):
                if t in seen or (cur, layer_of(t)) in EXCEPTIONS:
                    continue
                seen.add(t)
                todo.append(t)
        bad = sorted(t for t in seen if layer_of(t) in TENSORFLOW_SIDE)
        if bad:
            found.append(f"{mod} reaches {bad[0]} (TensorFlow side) through its imports")
    return found


def test_every_module_sits_in_a_package_of_its_layer():
    loose = sorted(p.name for p in PKG.glob("*.py") if p.stem not in TOP_LEVEL)
    assert not loose, f"modules outside a layer package: {loose}"
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(MAY_IMPORT), f"packages not placed in MAY_IMPORT: {packages ^ set(MAY_IMPORT)}"


def test_the_rule_is_a_layer_order():
    # Each package's allowed set is closed (what it may import, it may reach) and holds no cycle.
    for pkg, allowed in MAY_IMPORT.items():
        assert pkg not in allowed
        for dep in allowed:
            assert MAY_IMPORT[dep] <= allowed, f"{pkg} may import {dep} but not all {dep} may import"


def test_no_import_breaks_the_layer_rule():
    assert violations(module_graph()) == []


def test_the_check_fails_on_an_upward_import():
    # The check must be able to fail: train importing export (the old upward import) is caught,
    # directly and as a device package reaching export through train.
    graph = module_graph()
    graph["sportsedge.train.stages"] = graph["sportsedge.train.stages"] | {"sportsedge.export.config"}
    graph["sportsedge.runtime.classifier"] = graph["sportsedge.runtime.classifier"] | {"sportsedge.data.clips"}
    graph["sportsedge.data.clips"] = graph["sportsedge.data.clips"] | {"sportsedge.train.models"}
    found = violations(graph)
    assert "sportsedge.train.stages imports sportsedge.export.config: train may not import export" in found
    assert any(v.startswith("sportsedge.runtime.classifier imports sportsedge.data.clips") for v in found)
    assert any(v.startswith("sportsedge.runtime.classifier reaches sportsedge.") for v in found)


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for mod, targets in module_graph().items():
        graph.setdefault(layer_of(mod), set()).update(layer_of(t) for t in targets)
    for pkg in graph:
        graph[pkg] -= {pkg, ""}

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    assert not [p for p in graph if p and reaches(p, p)]


def test_the_graph_sees_imports_inside_functions():
    # label_cli imports its helpers inside run(): the scan must see them, or the test proves nothing.
    assert "sportsedge.runtime.modelspec" in imports_of(PKG / "runtime" / "label_cli.py")
    assert "sportsedge.train" in imports_of(PKG / "bench" / "keras_baseline.py")


def _resolve(spec: str):
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def test_every_table_entry_resolves():
    """Names in the tables (format converters, command handlers, remedies) point at real
    functions: a renamed function fails here, not in a user's export."""
    from sportsedge.cli import build_parser
    from sportsedge.core.formats import FORMATS
    from sportsedge.export.config import REMEDIES
    from sportsedge.export.remedies import CANDIDATES

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


@pytest.mark.parametrize("public", ["Classifier", "ModelMetadata", "attach_metadata", "load_pixels"])
def test_the_runtime_stays_the_public_api(public):
    import sportsedge.runtime

    assert hasattr(sportsedge.runtime, public)
