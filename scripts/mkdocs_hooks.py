"""mkdocs hook: fills ``<!-- generated: NAME -->`` in a page from sportsedge.cli.reference, so the
reference pages are built from the code (parsers, FORMATS, dataclasses, docstrings) at every build."""

from __future__ import annotations

import re

from sportsedge.cli.reference import GENERATED

_MARK = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.M)  # alone on its line (prose may quote one)


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs' hook signature
    """The page with each generated section filled in; an unknown NAME fails the build."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATED:
            raise KeyError(f"{page.file.src_path}: no generated section {name!r} (sportsedge.cli.reference)")
        return GENERATED[name]()

    return _MARK.sub(fill, markdown)
