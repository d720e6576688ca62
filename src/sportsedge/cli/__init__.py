"""The ``sportsedge`` command line: one module of options per stage, ``main`` on top.

Only argparse and the light settings modules are imported here; each subcommand's handler is named
as "module:function" and imported when that subcommand runs.
"""

from sportsedge.cli.main import EXIT_INTERNAL, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, build_parser, main

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "build_parser", "main"]
