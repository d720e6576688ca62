"""Source families (issue 52): one record per family in one registry (export/families.py), asked by
export, doctor, the CLI and the Python API; nothing else branches on a source kind.

`python tests/test_source_families.py [SRC]` prints the counts (tables describing a source kind
outside the registry, branches on a kind outside it) for a source tree (default: this one's).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np
import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "sportsedge"
# The registry: the only modules that may name a kind (the records and the table of them).
REGISTRY = ("export/sources/", "export/families.py", "export/source.py")
KIND_VALUES = {"run", "keras", "h5", "saved_model", "onnx", "torch"}  # the built-in families' kinds
OLD_TABLES = {"KINDS", "EXPORTABLE", "KIND_CONVERTERS", "REFERENCE", "RUNNERS", "TORCH_REFUSED"}


def _is_kind(node: ast.AST, plain: bool) -> bool:
    """``source.kind``, ``ctx.source.kind``, ``s.kind`` (not ``msg.kind`` of a message); a bare
    ``kind`` too where ``plain`` (in the packages that handle sources: export, doctor, cli, pipeline)."""
    text = ast.unparse(node)
    return (plain and text == "kind") or text.endswith("source.kind") or text == "s.kind"


def kind_branches(tree: ast.AST, plain: bool = True) -> list[int]:
    """The lines where a module decides by a source kind: SourceKind.X, a comparison of a kind with
    a kind's value, a kind used as a table's key (each line once)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "SourceKind":
            found.add(node.lineno)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            values = {s.value for s in sides if isinstance(s, ast.Constant)}
            if any(_is_kind(s, plain) for s in sides) and values & KIND_VALUES:
                found.add(node.lineno)
        elif isinstance(node, ast.Subscript) and _is_kind(node.slice, plain):
            found.add(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":  # noqa: SIM102
            if node.args and _is_kind(node.args[0], plain):
                found.add(node.lineno)
    return sorted(found)


def kind_tables(tree: ast.Module) -> list[str]:
    """Module-level tables describing source kinds: the old ones by name, any dict keyed by SourceKind."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        keys = value.keys if isinstance(value, ast.Dict) else []
        keyed = any(k is not None and ast.unparse(k).startswith("SourceKind.") for k in keys)
        names += [t.id for t in targets if isinstance(t, ast.Name) and (t.id in OLD_TABLES or keyed)]
    return names


def counts(root: Path = PKG, registry: tuple[str, ...] = REGISTRY) -> dict[str, list[str]]:
    """{"branches": [...], "tables": [...]} outside ``registry``, each "file:line" or "file: NAME"."""
    out: dict[str, list[str]] = {"branches": [], "tables": []}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if registry and rel.startswith(registry):
            continue
        tree = ast.parse(path.read_text())
        plain = rel.startswith(("export/", "doctor/", "cli/", "pipeline/"))
        out["branches"] += [f"{rel}:{line}" for line in kind_branches(tree, plain)]
        out["tables"] += [f"{rel}: {t}" for t in kind_tables(tree)]
    return out


def test_nothing_outside_the_registry_branches_on_a_source_kind():
    found = counts()
    assert found == {"branches": [], "tables": []}, found


def test_the_count_sees_a_branch_coming_back():
    snippet = """
from sportsedge.export.source import SourceKind
REFERENCE = {SourceKind.ONNX: "float ONNX"}
def f(ctx, kind):
    if ctx.source.kind is SourceKind.TORCH:
        pass
    if kind == "onnx":
        pass
    return TABLE.get(ctx.source.kind), TABLE[kind]
def g(msg):
    return msg.kind is MessageKind.SAY
"""
    tree = ast.parse(snippet)
    assert kind_branches(tree) == [3, 5, 7, 9]  # the table, the `is`, == "onnx", .get and [kind]; not msg.kind
    assert kind_tables(tree) == ["REFERENCE"]


def test_every_family_entry_resolves():
    """The "module:function" names of every record point at real functions."""
    from sportsedge.core.formats import FORMATS
    from sportsedge.export.families import FAMILIES
    from sportsedge.export.sources.family import impl

    fields = ("resolve", "run", "refusal", "doctor_refusal", "lazy_model", "layer_names", "tflite_layer")
    fields += ("float_onnx", "float_tflite", "calibrated_float", "minmax_int8", "int16", "debug_source")
    for family in FAMILIES.values():
        for name in fields:
            spec = getattr(family, name)
            assert spec is None or callable(impl(spec)), (family.name, name)
        assert set(family.converters) <= set(FORMATS)
        assert all(callable(impl(c)) for c in family.converters.values())
        assert [k for k, _ in family.kinds], family.name


def test_the_registry_recognises_and_refuses_as_before(tmp_path):
    from sportsedge.core.errors import InputError, ModelError
    from sportsedge.export.families import family_of, source_kind

    cases = {"m.keras": "keras", "m.h5": "h5", "m.HDF5": "h5", "m.onnx": "onnx", "m.pt2": "torch"}
    for name, kind in cases.items():
        (tmp_path / name).write_bytes(b"x")
        assert source_kind(tmp_path / name) == kind
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"x")
    assert source_kind(tmp_path / "sm") == "saved_model" and family_of("saved_model").name == "keras-file"
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(InputError) as err:
        source_kind(tmp_path / "m.txt")
    assert str(err.value).endswith(
        "not a sportsedge run folder (config.json + model.keras), a SavedModel folder (saved_model.pb), "
        "or a .keras, .h5, .onnx or .pt2 (torch.export) file"
    )
    (tmp_path / "m.pth").write_bytes(b"x")
    with pytest.raises(ModelError):
        source_kind(tmp_path / "m.pth")


# ---------------------------------------------------------------- a family registered by a test

# The formats the fake family declares (every family-independent path: TFLite and ONNX, float and int8).
DECLARED = ("tflite-fp32", "tflite-int8", "onnx-fp32", "onnx-int8")


def _fake_resolve(path: Path, kind: str, user, calibration):
    """A .fake file: JSON weights of a linear classifier on the image's mean colour, as Keras."""
    import keras

    from sportsedge.core.outputs import OutputKind
    from sportsedge.export.source import Source, model_sha256
    from sportsedge.export.user_model import Loaded

    spec = json.loads(path.read_text())
    inp = keras.Input((32, 32, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 255)(keras.layers.GlobalAveragePooling2D()(inp))
    dense = keras.layers.Dense(len(spec["labels"]), activation="softmax", name="scores")
    model = keras.Model(inp, dense(x), name="fake")
    dense.set_weights([np.array(spec["weights"], np.float32), np.array(spec["bias"], np.float32)])
    data = Path(spec["data"])
    source = Source(
        path=path,
        kind=kind,
        name="fake",
        labels=tuple(spec["labels"]),
        input_size=(32, 32),
        transform=None,
        output=OutputKind.PROBABILITIES,
        calibration_dir=Path(calibration) if calibration else data / "train",
        parity_dir=data / "valid",
        sha256=model_sha256(path),
    )
    return source, Loaded(model)


def _fake_reference(model, pixels: np.ndarray) -> np.ndarray:
    """The family's own outputs, in numpy: what every exported file is checked against."""
    w, b = model.get_layer("scores").get_weights()
    z = pixels.reshape(len(pixels), -1, 3).mean(axis=1) / 255 @ w + b
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.tensorflow  # exports: needs the train extra
def test_a_registered_family_exports_to_every_format_it_declares(colour_dataset, tmp_path):
    from sportsedge.core.errors import InputError, ModelError, UsageError
    from sportsedge.core.formats import FORMATS
    from sportsedge.export.config import ExportConfig
    from sportsedge.export.families import FAMILIES, register, resolve_source, source_kind, unregister
    from sportsedge.export.run import export, parse_formats, resolve_sources
    from sportsedge.export.source import has_suffix
    from sportsedge.export.sources.family import SourceFamily
    from sportsedge.runtime import Classifier

    from conftest import LABELS, solid

    path = tmp_path / "colours.fake"
    spec = {"labels": LABELS, "weights": (np.eye(3) * 12).tolist(), "bias": [-4.0] * 3, "data": str(colour_dataset)}
    path.write_text(json.dumps(spec))
    (tmp_path / "colours.fake0").write_text("{}")
    family = SourceFamily(
        name="fake",
        kinds=(("fake", has_suffix(".fake")),),
        resolve=_fake_resolve,
        run=_fake_reference,
        files=(".fake",),
        refused=(".fake0",),
        refusal=lambda p: "a version-0 fake file: save it again as .fake",
        reference="the fake model",
        formats=lambda fmt: fmt.name in DECLARED,
        why_not="a fake model exports only to its four formats",
    )
    register(family)
    try:
        with pytest.raises(ValueError):
            register(family)  # a name taken twice is refused
        assert source_kind(path) == "fake"
        with pytest.raises(ModelError, match="version-0 fake file"):
            source_kind(tmp_path / "colours.fake0")
        with pytest.raises(UsageError, match="a fake model exports only to its four formats, not tflite-fp16"):
            resolve_sources([resolve_source(path, ExportConfig().user, None)], [FORMATS["tflite-fp16"]], ExportConfig())
        lines: list[str] = []
        out = tmp_path / "out"
        manifest = export(
            [str(path)], parse_formats(",".join(DECLARED)), out, ExportConfig(calibration_size=30), lines.append
        )
    finally:
        unregister("fake")
    assert "fake" not in FAMILIES
    with pytest.raises(InputError):
        source_kind(path)  # unregistered: no longer recognised
    entries = manifest["artifacts"]
    assert sorted(e["format"] for e in entries.values()) == sorted(DECLARED)
    assert any("(the fake model 1.000)" in line for line in lines), lines
    for name, entry in entries.items():
        assert entry["status"] == "passed" and entry["source_kind"] == "fake", (name, entry["parity"])
        clf = Classifier.load(out / name)
        for colour in LABELS:
            assert clf.predict(solid(colour), top_k=1)[0].label == colour, (name, colour)


if __name__ == "__main__":  # the counts for a source tree: python tests/test_source_families.py [SRC/sportsedge]
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else PKG
    for where, registry in (("outside the registry", REGISTRY), ("in the whole package", ())):
        for what, places in counts(root, registry).items():
            print(f"{what} {where}: {len(places)}")
            print("".join(f"  {p}\n" for p in places), end="")
