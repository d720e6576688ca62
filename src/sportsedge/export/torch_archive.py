"""A ``.pt2`` archive checked, before PyTorch opens it, to hold nothing that runs code on load.

``torch.export.load`` runs code from the file in four ways (torch 2.13, read in
``torch/export/pt2_archive/_package.py`` and ``torch/_export/serde/serialize.py``):

- a weight or constant whose payload config says ``use_pickle`` is read with
  ``torch.load(weights_only=False)``; custom and opaque objects are unpickled outright;
- the sample inputs (and a legacy archive's weights) go through ``torch.load(weights_only=True)``
  and, when that fails, again with ``weights_only=False``: their pickles must name only what
  tensors are rebuilt from (read with ``pickletools``, never run);
- every symbolic-shape expression (``expr_str``) goes through ``sympy.sympify``, which is ``eval``;
- an AOTInductor package (``data/aotinductor/``) is a shared library that is loaded and run.

So export refuses, from the archive's listing and JSON alone (no unpickling, no torch): pickled
entries, custom and opaque objects, compiled code, and any expression that is not plain symbolic
arithmetic. The load itself then runs with ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` (torch's documented
switch that overrides ``weights_only=False``), so a pickle this check did not name is still only
read as tensors. What the check refuses, ``torch.export.save`` never writes for a plain model.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tokenize
import zipfile
from collections.abc import Iterator
from pathlib import Path

from sportsedge.core.errors import ModelError, first_line
from sportsedge.export.torch_files import TorchFile, from_pickle

# Re-saving from plain tensors: what a user should do with a refused archive.
RESAVE = "re-save it from a model whose weights are plain tensors with torch.export.save"
# Names an expression may call or hold: sympy's arithmetic and the functions torch's deserializer
# passes to sympify (torch.utils._sympy.functions); symbols match _SYMBOL. Anything else is refused.
_SAFE_NAMES = frozenset(
    """Symbol Integer Rational Float Add Mul Pow Mod Max Min Abs Eq Ne Lt Le Gt Ge And Or Not Piecewise
    ITE floor ceiling sqrt oo zoo nan true false True False None S int_oo IntInfinity NegativeIntInfinity
    FloorDiv ModularIndexing Where PythonMod CleanDiv CeilToInt FloorToInt CeilDiv LShift RShift
    PowByNatural FloatPow FloatTrueDiv IntTrueDiv IsNonOverlappingAndDenseIndicator TruncToFloat
    TruncToInt RoundToInt RoundDecimal ToFloat Identity""".split()  # noqa: SIM905
)
_SYMBOL = re.compile(r"[a-z]{1,4}\d+")  # torch's symbols: s0, s77, u3, zuf0
_SAFE_OPS = frozenset("+ - * / // % ** ( ) , = < > <= >= == != & | ~".split())  # noqa: SIM905
_PLAIN_STRING = re.compile(r"""(['"])[A-Za-z_][A-Za-z0-9_]*\1""")  # Symbol('s77', ...)'s name


def check(path: Path) -> None:
    """Raise ModelError naming what in ``path`` would run code if PyTorch loaded it."""
    try:
        with zipfile.ZipFile(path) as archive:
            reason = _unsafe(archive)
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, UnicodeDecodeError) as err:
        raise ModelError(path, f"not a loadable torch.export program ({first_line(err)})") from err
    if reason:
        raise ModelError(path, f"{reason}: sportsedge never runs code from a model file; {RESAVE}")


def _unsafe(archive: zipfile.ZipFile) -> str | None:
    names = archive.namelist()
    for name in names:
        if "/aotinductor/" in f"/{name}":
            return f"holds compiled AOTInductor code ({name})"
        if name.endswith("_config.json") and "/data/" in f"/{name}":
            reason = _pickled_payload(name, json.loads(archive.read(name)))
            if reason:
                return reason
        if name.endswith(".pt") and not _plain_tensors(archive.read(name)):
            return f"{name} is a pickle of more than tensors"
        if name.endswith(".json") and ("/models/" in f"/{name}" or name.endswith("serialized_exported_program.json")):
            for expr in _expressions(json.loads(archive.read(name))):
                if not _plain_expression(expr):
                    return f"holds a shape expression that is not plain arithmetic ({expr[:60]!r})"
    return None


def _plain_tensors(data: bytes) -> bool:
    """True if a ``torch.save`` payload inside the archive (sample inputs, a legacy archive's
    weights) is a ZIP whose pickle names only what tensors, tuples and dicts are rebuilt from."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            pickled = [n for n in inner.namelist() if n.endswith("data.pkl")]
            return len(pickled) == 1 and from_pickle(inner.read(pickled[0])) is TorchFile.STATE_DICT
    except (zipfile.BadZipFile, OSError, EOFError):
        return False  # torch.save has written ZIP archives since 1.6; a bare pickle is not one


def _pickled_payload(name: str, config: object) -> str | None:
    """Why a weights or constants payload config names a pickle, or None."""
    entries = config.get("config", {}) if isinstance(config, dict) else {}
    for key, meta in entries.items() if isinstance(entries, dict) else ():
        if not isinstance(meta, dict):
            return f"{name} is not a payload config"
        if str(meta.get("path_name", "")).startswith(("custom_obj_", "opaque_obj_")):
            return f"{key!r} is a pickled object ({name})"
        if meta.get("use_pickle"):
            return f"{key!r} is stored as a pickle ({name})"
    return None


def _expressions(node: object) -> Iterator[str]:
    """Every ``expr_str`` value anywhere in a serialized program."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "expr_str" and isinstance(value, str):
                    yield value
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _plain_expression(expr: str) -> bool:
    """True if ``expr`` is sympy arithmetic over symbols and known functions (no attribute, index,
    call of anything else, or string other than a symbol's name): what sympify may safely eval."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(expr).readline) if t.string.strip()]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    for i, tok in enumerate(tokens):
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if tok.type == tokenize.NUMBER:
            continue
        if tok.type == tokenize.STRING and _PLAIN_STRING.fullmatch(tok.string):
            continue
        if tok.type == tokenize.NAME and "__" not in tok.string:
            if after == "=" or tok.string in _SAFE_NAMES or _SYMBOL.fullmatch(tok.string):
                continue  # a keyword argument's name is never evaluated
            return False
        if tok.type == tokenize.OP and tok.string in _SAFE_OPS:
            continue
        return False
    return True


@contextlib.contextmanager
def weights_only() -> Iterator[None]:
    """Every ``torch.load`` inside reads tensors only, whatever ``weights_only`` its caller passes."""
    keys = ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")  # torch refuses both set
    before = {key: os.environ.pop(key, None) for key in keys}
    os.environ[keys[0]] = "1"
    try:
        yield
    finally:
        for key, value in before.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
