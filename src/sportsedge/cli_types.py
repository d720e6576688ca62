"""Argument types and the parser class of the command line (light: argparse only).

One type per kind of number, so every option of that kind is range-checked where it is parsed,
with the option named in argparse's own error line; and a parser that accepts options and
positionals in any order (`predict MODEL --top-k 3 photo.jpg`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable


class IntermixedParser(argparse.ArgumentParser):
    """Options and positionals in any order: a leaf subcommand parses with argparse's intermixed
    parser, which fills positionals only after every option is taken. Parsers that own subcommands
    (the top level, `data`) keep the plain parse, which intermixing does not support."""

    _intermixing = False

    def _has_subcommands(self) -> bool:
        return any(isinstance(a, argparse._SubParsersAction) for a in self._actions)

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing or self._has_subcommands():
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls parse_known_args twice
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _number(kind: type, text: str):
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def _checked(kind: type, ok: Callable[[float], bool], rule: str, name: str):
    def parse(text: str):
        value = _number(kind, text)
        if value != value or not ok(value):  # NaN fails every rule
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


positive_int = _checked(int, lambda v: v >= 1, "at least 1", "positive_int")
non_negative_int = _checked(int, lambda v: v >= 0, "0 or more", "non_negative_int")
positive_float = _checked(float, lambda v: 0 < v < float("inf"), "a positive number", "positive_float")
non_negative_float = _checked(float, lambda v: 0 <= v < float("inf"), "0 or a positive number", "non_negative_float")
fraction = _checked(float, lambda v: 0 <= v <= 1, "a fraction from 0 to 1", "fraction")
tcp_port = _checked(int, lambda v: 1 <= v <= 65535, "a TCP port from 1 to 65535", "tcp_port")
below_one = _checked(float, lambda v: 0 <= v < 1, "from 0 up to (not including) 1", "below_one")


def int_range(low: int, high: int, name: str):
    """A whole number from ``low`` to ``high``."""
    return _checked(int, lambda v: low <= v <= high, f"from {low} to {high}", name)


def comma_list(item: Callable[[str], object], name: str = "list"):
    """A comma list whose every item goes through ``item`` (duplicates dropped, order kept)."""

    def parse(text: str):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"empty list: {text!r}")
        return tuple(dict.fromkeys(item(p) for p in parts))

    parse.__name__ = name
    return parse


def one_of(names: Iterable[str], what: str, also: Iterable[str] = ()):
    """A name from a registry (read when the parser is built), with the choices in the error."""
    allowed = (*names, *also)

    def parse(text: str):
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r} (choose from {', '.join(allowed)})")
        return text

    parse.__name__ = what
    return parse


def per_channel(text: str) -> str:
    """One number for every channel or three (R,G,B), comma-separated; returned as given."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or three comma-separated numbers: {text!r}") from None
    if len(values) not in (1, 3):
        raise argparse.ArgumentTypeError(f"takes 1 number or 3 (R,G,B), got {len(values)}: {text!r}")
    return text
