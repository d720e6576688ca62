"""Argument types and the parser class of the command line (light: argparse only).

One type per kind of number, so every option of that kind is range-checked where it is parsed,
with the option named in argparse's own error line; and a parser that accepts options and
positionals in any order (`predict MODEL --top-k 3 photo.jpg`).
"""

from __future__ import annotations

import argparse

from sportsedge.core.options import (
    BELOW_ONE,
    FRACTION,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    TCP_PORT,
    comma_list,
    one_of,
)

__all__ = ["IntermixedParser", "comma_list", "one_of"]


class IntermixedParser(argparse.ArgumentParser):
    """Options and positionals in any order: a leaf subcommand parses with argparse's intermixed
    parser, which fills positionals only after every option is taken. Parsers that own subcommands
    (the top level, `data`) keep the plain parse, which intermixing does not support."""

    _intermixing = False
    owns_subcommands = False  # set by add_subparsers (public API: no look at argparse's private actions)

    def add_subparsers(self, **kwargs):
        self.owns_subcommands = True
        self.subcommand_action = super().add_subparsers(**kwargs)
        return self.subcommand_action

    def subcommands(self) -> dict[str, IntermixedParser]:
        """Subcommand name -> its parser (none for a leaf; add_parser makes them of this class)."""
        return dict(self.subcommand_action.choices) if self.owns_subcommands else {}

    def listed_actions(self) -> list[argparse.Action]:
        """The arguments a user types (help and the subcommand slot left out), for the reference."""
        return [a for a in self._actions if a.dest != "help" and a is not getattr(self, "subcommand_action", None)]

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing or self.owns_subcommands:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls parse_known_args twice
        try:
            parsed, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        unknown = [a for a in extras if a.startswith("-") and a != "-"]
        if unknown:  # this subcommand's usage and a suggestion, not the top level's usage
            self.error(unknown_option(unknown[0], self.option_names()))
        return parsed, extras

    def option_names(self) -> list[str]:
        return [s for a in self._actions for s in a.option_strings if s.startswith("--")]


def unknown_option(given: str, known: list[str]) -> str:
    """ "unrecognized option --topk (did you mean --top-k?)": close matches by spelling, with the
    underscores and missing dashes people type."""
    import difflib

    name = given.split("=", 1)[0]
    tried = {name, name.replace("_", "-"), "--" + name.lstrip("-")}
    close = [m for t in tried for m in difflib.get_close_matches(t, known, n=1, cutoff=0.6)]
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unrecognized option {name}{hint}"


# The number types are the configs' bounds (core.options), so the command line and the configs
# refuse a value with the same words.
positive_int = POSITIVE_INT.parse
non_negative_int = NON_NEGATIVE_INT.parse
positive_float = POSITIVE.parse
non_negative_float = NON_NEGATIVE.parse
fraction = FRACTION.parse
tcp_port = TCP_PORT.parse
below_one = BELOW_ONE.parse


def per_channel(text: str) -> str:
    """One number for every channel or three (R,G,B), comma-separated; returned as given."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        # from None: argparse shows only this message; float()'s ValueError says the same
        raise argparse.ArgumentTypeError(f"not a number or three comma-separated numbers: {text!r}") from None
    if len(values) not in (1, 3):
        raise argparse.ArgumentTypeError(f"takes 1 number or 3 (R,G,B), got {len(values)}: {text!r}")
    return text
