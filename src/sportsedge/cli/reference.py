"""The docs site's reference pages, generated from the code so they cannot drift: every command
and option from the argparse parsers, the formats from FORMATS, the metadata fields and bench's
result fields from their dataclasses, the exit codes from the CLI, the API from docstrings.

The docs build (scripts/mkdocs_hooks.py) replaces ``<!-- generated: NAME -->`` in a page with
``GENERATED[NAME]()``; the README's formats table is ``formats_table()`` too (a test checks).
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Callable

from sportsedge.cli.argtypes import IntermixedParser


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _subcommands(parser: IntermixedParser) -> dict[str, IntermixedParser]:
    found: dict[str, IntermixedParser] = {}
    for name, sub in parser.subcommands().items():
        found[name] = sub
        for inner, deeper in _subcommands(sub).items():
            found[f"{name} {inner}"] = deeper
    return found


def _option_rows(parser: IntermixedParser) -> list[str]:
    rows = []
    for action in parser.listed_actions():
        flags = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.metavar or action.dest}`"
        value = "" if action.nargs == 0 or not action.option_strings else f"`{action.metavar or action.dest.upper()}`"
        helptext = _cell(action.help % vars(action) if action.help else "")
        choices = f" (one of: {', '.join(map(str, action.choices))})" if action.choices else ""
        rows.append(f"| {flags} | {value} | {helptext}{choices} |")
    return rows


def cli_reference() -> str:
    """Every subcommand: its description, usage line and options, from the real parser."""
    from sportsedge.cli.main import build_parser

    parser = build_parser()
    out: list[str] = []
    for name, sub in _subcommands(parser).items():
        out += [f"## sportsedge {name}", "", _cell(sub.description or ""), ""]
        out += ["```text", sub.format_usage().strip(), "```", ""]
        rows = _option_rows(sub)
        if rows:
            out += ["| option | value | what it does |", "| --- | --- | --- |", *rows, ""]
    return "\n".join(out)


def _tolerance(atol: float, rel: float) -> str:
    return f"{atol:g}" + (f" or {rel:.0%} of the range" if rel else "")


def formats_table() -> str:
    """The formats: name, file, description, in `--formats all`, the golden check's tolerance."""
    from sportsedge.core.formats import FORMATS

    rows = ["| format | file | what it is | in `all` | verify tolerance |", "| --- | --- | --- | --- | --- |"]
    for f in FORMATS.values():
        tol = _tolerance(f.verify_atol, f.verify_rel)
        if f.verify_mixed is not None and f.verify_mixed != (f.verify_atol, f.verify_rel):
            tol += f"; with float layers {_tolerance(*f.verify_mixed)}"
        rows.append(f"| `{f.name}` | `{f.ext}` | {_cell(f.description)} | {'yes' if f.in_all else 'no'} | {tol} |")
    return "\n".join(rows)


def formats_reference() -> str:
    """Every field of every format (parity bounds too)."""
    from dataclasses import fields

    from sportsedge.core.formats import FORMATS, Format

    names = [f.name for f in fields(Format) if f.name not in ("name", "description")]
    rows = ["| format | " + " | ".join(names) + " |", "| --- " * (len(names) + 1) + "|"]
    for f in FORMATS.values():
        rows.append(f"| `{f.name}` | " + " | ".join(_cell(getattr(f, n)) for n in names) + " |")
    return formats_table() + "\n\nEvery field:\n\n" + "\n".join(rows) + "\n\n" + fields_table(Format)


def fields_table(cls: type) -> str:
    """A dataclass's or TypedDict's fields with the one-line comment each carries in the source."""
    comments = dict(re.findall(r"^\s{4}(\w+):[^#\n]*#\s*(.+)$", inspect.getsource(cls), re.M))
    hints = getattr(cls, "__annotations__", {})
    rows = ["| field | type | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{n}` | `{_cell(_type(t))}` | {_cell(comments.get(n, ''))} |" for n, t in hints.items()]
    return "\n".join(rows)


def _type(hint: object) -> str:
    return str(getattr(hint, "__forward_arg__", hint))  # a TypedDict keeps its string annotations as ForwardRefs


def metadata_reference() -> str:
    from sportsedge.runtime.metadata import ModelMetadata

    return fields_table(ModelMetadata)


def metrics_reference() -> str:
    from sportsedge.core.records import BenchRow

    return fields_table(BenchRow)


def exit_codes() -> str:
    from sportsedge.cli.main import EXIT_MEANINGS

    rows = ["| status | meaning |", "| --- | --- |"]
    rows += [f"| {code} | {why} |" for code, why in EXIT_MEANINGS.items()]
    return "\n".join(rows)


_SECTION = re.compile(r"^(Args|Returns|Raises|Yields):$")


def _docstring(doc: str | None) -> str:
    """A Google-style docstring as markdown: its sections as bold heads with one bullet per item."""
    out: list[str] = []
    section = False
    for line in inspect.cleandoc(doc or "").splitlines():
        text = re.sub(r":(?:meth|class|func):`~?([^`]+)`", r"`\1`", line)
        if _SECTION.match(text.strip()):
            section = True
            out += ["", f"**{text.strip()[:-1]}**", ""]
        elif section and text.startswith("        ") and out:
            out[-1] += " " + text.strip()  # an item's continuation line
        elif section and text.startswith("    "):
            name, sep, rest = text.strip().partition(": ")
            out.append(f"- `{name}`: {rest}" if sep and " " not in name else f"- {text.strip()}")
        else:
            section = section and bool(text.strip())
            out.append(text)
    return "\n".join(out)


def sports100_card() -> str:
    """The built-in model's card, as shipped beside it."""
    from sportsedge.core.builtin import BUILTIN, builtin_path

    return (builtin_path("sports100").parent / BUILTIN["sports100"].card).read_text()


def api_reference() -> str:
    """The public entry points' signatures and docstrings."""
    import importlib

    out: list[str] = []
    for title in PUBLIC:
        module, _, name = title.rpartition(".")
        obj = getattr(importlib.import_module(module), name)
        out += [f"## `{title}`", ""]
        with contextlib.suppress(TypeError, ValueError):  # a builtin without a signature
            out += ["```python", f"{title.rsplit('.', 1)[-1]}{inspect.signature(obj)}", "```", ""]
        out += [_docstring(obj.__doc__), ""]
        if inspect.isclass(obj):
            for name, member in vars(obj).items():
                func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                if name.startswith("_") or not callable(func) or not func.__doc__:
                    continue
                out += [f"### `{title.rsplit('.', 1)[-1]}.{name}`", "", "```python"]
                out += [f"{name}{inspect.signature(func)}", "```", "", _docstring(func.__doc__), ""]
    return "\n".join(out)


# The entry points people call, in the order a reader meets them.
PUBLIC = (
    "sportsedge.runtime.Classifier",
    "sportsedge.runtime.load_pixels",
    "sportsedge.runtime.ModelMetadata",
    "sportsedge.runtime.attach_metadata",
    "sportsedge.core.builtin.resolve",
    "sportsedge.bench.run.bench",
    "sportsedge.export.run.export",
    "sportsedge.pipeline.run.run_pipeline",
    "sportsedge.serve.app.build_app",
)

GENERATED: dict[str, Callable[[], str]] = {
    "cli": cli_reference,
    "formats": formats_reference,
    "formats-table": formats_table,
    "metadata": metadata_reference,
    "metrics": metrics_reference,
    "exit-codes": exit_codes,
    "api": api_reference,
    "sports100-card": sports100_card,
}
