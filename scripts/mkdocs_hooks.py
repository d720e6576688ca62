"""mkdocs hooks: fills ``<!-- generated: NAME -->`` in a page from sportsedge.cli.reference, so the
reference pages are built from the code (parsers, FORMATS, dataclasses, docstrings) at every build;
and points the `offline` plugin's Worker shim at our own (docs/assets/file-worker.js) instead of
unpkg.com, so search works from disk and the site fetches nothing."""

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


SHIM_CDN = "https://unpkg.com/iframe-worker/shim"
SHIM_OURS = "assets/file-worker.js"


def on_post_page(output: str, page, config) -> str:  # mkdocs' hook signature
    """The page with the Worker shim loaded from the site itself (relative to the page)."""
    if SHIM_CDN not in output:
        return output
    depth = page.file.dest_uri.count("/")
    return output.replace(SHIM_CDN, "../" * depth + SHIM_OURS)


def on_post_build(config) -> None:  # mkdocs' hook signature
    """404.html is rendered from the theme's template alone (no on_post_page): patch it too."""
    from pathlib import Path

    page = Path(config["site_dir"]) / "404.html"
    if page.is_file() and SHIM_CDN in (text := page.read_text()):
        page.write_text(text.replace(SHIM_CDN, SHIM_OURS))
