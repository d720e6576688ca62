"""`sportsedge` command line: parses arguments and calls library functions in-process.

Only argparse is imported here; each subcommand's handler is named as "module:function" and
imported when that subcommand runs, so `sportsedge --help` stays instant and `predict` never
pulls in TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from . import __version__

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="classify images with an exported .tflite or .onnx model (no TensorFlow needed)",
        description="Classify images with an exported .tflite or .onnx model. Folders are searched "
        "recursively for images. Exit status: 0 all inputs classified, 1 some failed, 2 bad model or usage.",
    )
    p.add_argument("model", help="a .tflite or .onnx file exported by sportsedge (or any 1-input image classifier)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--top-k", type=_positive_int, default=5, help="predictions to show per image (default 5)")
    p.add_argument("--threads", type=_positive_int, default=None, help="inference threads (default: the engine's)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image (JSON Lines)")
    p.set_defaults(handler="sportsedge.runtime.predict_cli:run")


# One row per subcommand: each adds its parser; handlers are imported lazily.
COMMANDS = (_add_predict,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sportsedge",
        description="Train image classifiers, export them to TFLite/ONNX, run and benchmark them on the edge.",
    )
    parser.add_argument("--version", action="version", version=f"sportsedge {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def _resolve(spec: str):
    module, _, func = spec.partition(":")
    return getattr(importlib.import_module(module), func)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from .errors import SportsedgeError

    saved_showwarning, warnings.showwarning = warnings.showwarning, _one_line_warning
    try:
        return _resolve(args.handler)(args)
    except SportsedgeError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sportsedge predict ... | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as err:  # a bug: keep it to one line unless asked for the traceback
        if os.environ.get("SPORTSEDGE_DEBUG"):
            raise
        print(f"internal error: {type(err).__name__}: {err} (set SPORTSEDGE_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_USAGE
    finally:
        warnings.showwarning = saved_showwarning


if __name__ == "__main__":
    sys.exit(main())
