"""`sportsedge` command line: parses arguments and calls library functions in-process.

Only argparse and the light settings modules (dataclasses and name tables, no numpy) are imported
here; each subcommand's handler is named as "module:function" and imported when that subcommand
runs, so `sportsedge --help` stays instant and `predict` never pulls in TensorFlow. Defaults and
choices are read from the settings dataclasses and tables, never typed here.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
import warnings

from sportsedge import __version__
from sportsedge.cli import doctor as cli_doctor
from sportsedge.cli import models as cli_models
from sportsedge.cli import runtime as cli_runtime
from sportsedge.cli import serve as cli_serve
from sportsedge.cli import train as cli_train
from sportsedge.cli.argtypes import IntermixedParser

# Exit statuses (the docs' reference lists EXIT_MEANINGS).
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_MEANINGS = {
    EXIT_OK: "success",
    EXIT_SOME_FAILED: "some inputs failed (the others were done), or a parity or golden check failed",
    EXIT_USAGE: "bad usage, model or data: one `error:` line says which and why",
    EXIT_INTERNAL: "an internal error: a bug in sportsedge (please report it with the SPORTSEDGE_DEBUG=1 traceback)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); finished work is kept and a re-run resumes",
}


COMMANDS = (
    cli_runtime.add_predict,
    cli_runtime.add_verify,
    cli_train.add_train,
    cli_train.add_evaluate,
    cli_train.add_export,
    cli_doctor.add_doctor,
    cli_models.add_label,
    cli_runtime.add_bench,
    cli_runtime.add_data,
    cli_serve.add_serve,
    cli_train.add_pipeline,
    cli_train.add_demo,
)


# The engines that run exported files (importlib.metadata reads their versions without importing them).
ENGINES = ("ai-edge-litert", "onnxruntime")


def version_line() -> str:
    """`sportsedge --version`: the package, Python and the runtime engines, as installed."""
    import platform
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            return f"{name} not installed"

    engines = ", ".join(installed(name) for name in ENGINES)
    return f"sportsedge {__version__} (Python {platform.python_version()}, {platform.machine()}; {engines})"


class _Version(argparse.Action):
    """--version on one line (argparse's own action wraps it at the terminal's width)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit()


def build_parser() -> IntermixedParser:
    parser = IntermixedParser(
        prog="sportsedge",
        description="Train image classifiers, export them to TFLite/ONNX, run and benchmark them on the edge.",
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="print the version and the runtime engines' and exit"
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def _resolve(spec: str):
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def _run(handler, args) -> int:
    """The command's handler; a full disk anywhere under it is DiskFull (one line, exit 1)."""
    from sportsedge.core.errors import DiskFull

    try:
        return handler(args)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(err.filename) from err
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    check = getattr(args, "check", None)
    if check is not None:  # rules across options (argparse's usage line and exit 2), before any import
        check(args)
    from sportsedge.core.errors import SportsedgeError

    saved_showwarning, warnings.showwarning = warnings.showwarning, _one_line_warning
    debug = bool(os.environ.get("SPORTSEDGE_DEBUG"))
    try:
        return _run(_resolve(args.handler), args)
    except SportsedgeError as err:
        if debug:  # the whole chain: what a library raised underneath, and where
            traceback.print_exception(err, file=sys.stderr)
        print(f"error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `sportsedge predict ... | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as err:  # a bug: keep it to one line unless asked for the traceback
        if debug:
            raise
        print(f"internal error: {type(err).__name__}: {err} (set SPORTSEDGE_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        warnings.showwarning = saved_showwarning


if __name__ == "__main__":
    sys.exit(main())
