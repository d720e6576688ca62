"""One way from an option to a config: each config field carries its help, its parser and its
bound (``option(...)``); the CLI builds its arguments from them (``add_options``), a parsed
namespace becomes the config (``from_args``), and the config checks its own values in
``__post_init__`` (``check_bounds``), so the CLI, the Python API and the pipeline refuse the same
nonsense with the same words.

Light on purpose: argparse reads it to build ``--help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sportsedge.core.errors import UsageError


@dataclass(frozen=True)
class Bound:
    """A rule a number must meet, in code and in words."""

    ok: Callable[[float], bool]  # True when the value is allowed
    rule: str  # the rule in words: "must be {rule}, got ..."
    kind: type = int  # int or float: what the command line parses

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and (math.isnan(value) or (self.kind is int and not value.is_integer())):
            return False
        return bool(self.ok(value))

    def parse(self, text: str) -> Any:
        """argparse's type: the number, or argparse's error with the rule."""
        try:
            value = self.kind(text)
        except ValueError:
            what = "a whole number" if self.kind is int else "a number"
            # from None: argparse shows only this message; int()'s ValueError says the same
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not self.holds(value):
            raise argparse.ArgumentTypeError(f"must be {self.rule}, got {text}")
        return value


POSITIVE_INT = Bound(lambda v: v >= 1, "at least 1")
NON_NEGATIVE_INT = Bound(lambda v: v >= 0, "0 or more")
POSITIVE = Bound(lambda v: 0 < v < math.inf, "a positive number", float)
NON_NEGATIVE = Bound(lambda v: 0 <= v < math.inf, "0 or a positive number", float)
FRACTION = Bound(lambda v: 0 <= v <= 1, "a fraction from 0 to 1", float)
BELOW_ONE = Bound(lambda v: 0 <= v < 1, "from 0 up to (not including) 1", float)
TCP_PORT = Bound(lambda v: 1 <= v <= 65535, "a TCP port from 1 to 65535")


def int_between(low: int, high: int) -> Bound:
    return Bound(lambda v: low <= v <= high, f"from {low} to {high}")


def comma_list(item: Callable[[str], Any], name: str = "list") -> Callable[[str], tuple[Any, ...]]:
    """A comma list whose every item goes through ``item`` (duplicates dropped, order kept)."""

    def parse(text: str) -> tuple[Any, ...]:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"empty list: {text!r}")
        return tuple(dict.fromkeys(item(p) for p in parts))

    parse.__name__ = name
    return parse


def one_of(names: Iterable[str], what: str, also: Iterable[str] = ()) -> Callable[[str], str]:
    """A name from a registry, read when a value is parsed (so names registered later count),
    with the choices in the error."""

    def parse(text: str) -> str:
        allowed = (*names, *also)
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r} (choose from {', '.join(allowed)})")
        return text

    parse.__name__ = what
    return parse


@dataclass(frozen=True)
class Option:
    """How one config field appears on the command line (a field's ``metadata["option"]``)."""

    help: str | Callable[[], str]  # the one help text ("(default X)" is added); a callable reads a
    # registry when the parser is built
    bound: Bound | None = None  # the values allowed (None: any)
    parse: Callable[[str], Any] | None = None  # argparse type when not a plain bounded number
    metavar: str | None = None  # argparse's metavar
    choices: Iterable[Any] | None = None  # argparse's choices
    positional: bool = False  # an argument without a flag (serve MODEL)
    required: bool = False  # the command line must give it (the field's default is a template's blank)
    negate: bool = False  # a bool field that defaults to True: the flag turns it off (--no-augment)


def option(default: Any = dataclasses.MISSING, help: str | Callable[[], str] = "", **how: Any) -> Any:
    """A dataclass field with its command-line form (``how``: the rest of Option's fields)."""
    return dataclasses.field(default=default, metadata={"option": Option(help=help, **how)})


def flag_of(name: str, prefix: str = "", negate: bool = False) -> str:
    """The command-line flag of a field: --field-name, --no-field-name, --qat-field-name."""
    return ("--no-" if negate else "--") + (prefix + name).replace("_", "-")


def options_of(cls: type) -> dict[str, tuple[dataclasses.Field[Any], Option]]:
    return {f.name: (f, f.metadata["option"]) for f in dataclasses.fields(cls) if "option" in f.metadata}


def check_bounds(config: Any, prefix: str = "") -> None:
    """Raise UsageError for the first field whose value breaks its bound (None always passes:
    it means "the default of the layer below"); ``prefix`` as the config's options have it."""
    for name, (_, opt) in options_of(type(config)).items():
        value = getattr(config, name)
        if opt.bound is not None and value is not None:
            values = value if isinstance(value, tuple) else (value,)
            bad = [v for v in values if not opt.bound.holds(v)]
            if bad:
                raise UsageError(f"{name} ({flag_of(name, prefix)}) must be {opt.bound.rule}, got {bad[0]}")


def _default_text(f: dataclasses.Field[Any]) -> str | None:
    if f.default is dataclasses.MISSING or f.default is None or isinstance(f.default, bool):
        return None
    value = f.default
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parser that raises UsageError, as argparse's type (argparse's own error line, exit 2)."""

    def checked(text: str) -> Any:
        try:
            return parse(text)
        except UsageError as err:
            raise argparse.ArgumentTypeError(str(err)) from err

    checked.__name__ = getattr(parse, "__name__", "value")
    return checked


def add_options(
    parser: Any,
    cls: type,
    names: Iterable[str] | None = None,
    skip: Iterable[str] = (),
    prefix: str = "",
) -> None:
    """Add the options of ``cls``'s fields (``names``, or all but ``skip``) to an argparse parser
    or group; ``prefix`` names a nested config's options (``qat_`` -> --qat-epochs, read back by
    ``from_args(..., prefix=)``)."""
    table = options_of(cls)
    chosen = list(table) if names is None else list(names)
    for name in chosen:
        if name in skip:
            continue
        f, opt = table[name]
        default = None if f.default is dataclasses.MISSING else f.default
        shown = _default_text(f)
        text = opt.help() if callable(opt.help) else opt.help
        help_text = text + (f" (default {shown})" if shown else "")
        kwargs: dict[str, Any] = {"dest": prefix + name, "help": help_text.replace("%", "%%")}
        if isinstance(f.default, bool) and opt.parse is None:
            kwargs["action"] = "store_false" if opt.negate else "store_true"
        else:
            kwargs["default"] = default
            if opt.parse is not None:
                kwargs["type"] = _argparse_type(opt.parse)
            elif opt.bound is not None:
                kwargs["type"] = opt.bound.parse
            if opt.metavar:
                kwargs["metavar"] = opt.metavar
            if opt.choices is not None:
                kwargs["choices"] = list(opt.choices)
        if opt.positional:
            del kwargs["dest"]
            kwargs.pop("default", None)
            parser.add_argument(name, **kwargs)
            continue
        if opt.required or f.default is dataclasses.MISSING:
            kwargs["required"] = True
            kwargs.pop("default", None)
        parser.add_argument(flag_of(name, prefix, opt.negate), **kwargs)


def from_args(cls: type, args: argparse.Namespace, prefix: str = "", **given: Any) -> Any:
    """The config of ``cls`` from a parsed namespace: every field the namespace has (under
    ``prefix``), then ``given``; fields the command lacks keep their defaults."""
    names = {f.name for f in dataclasses.fields(cls)}
    ns = vars(args)
    values = {k: ns[prefix + k] for k in names if prefix + k in ns}
    for k, v in values.items():
        if isinstance(v, list):
            values[k] = tuple(v)
    return cls(**{**values, **given})
