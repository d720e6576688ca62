"""Every repository path the README and docs/ name exists: folders get renamed, and a guide that
points at a file that is gone is the first thing a newcomer trips on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "sportsedge"
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
TOP = ("src", "tests", "experiments", "scripts", "examples", "docs", ".ci")
# A path from the repository's root (src/..., docs/...), or a module path inside the package
# (export/config.py), or a Markdown link target.
ROOTED = re.compile(r"(?<![\w./~-])((?:" + "|".join(map(re.escape, TOP)) + r")/[\w./-]*[\w/])")
MODULE = re.compile(r"(?<![\w./~-])((?:[a-z_]+/)+[a-z_0-9]+\.py)\b")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def named_paths(doc: Path) -> set[str]:
    text = doc.read_text()
    found = {m.group(1).rstrip(".") for m in ROOTED.finditer(text)}
    found |= {m.group(1) for m in MODULE.finditer(text)}
    found |= {"./" + m.group(1) for m in LINK.finditer(text) if "://" not in m.group(1)}
    return found


def exists(doc: Path, path: str) -> bool:
    if path.startswith("./"):  # a link: relative to the page
        return (doc.parent / path[2:]).exists()
    if "*" in path or "<" in path:
        return True
    return any((base / path).exists() for base in (ROOT, PKG, doc.parent))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_page_names_exists(doc):
    missing = sorted(p for p in named_paths(doc) if not exists(doc, p))
    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_the_scan_finds_paths():
    # The check must be able to fail: it sees each kind of path in a page.
    found = named_paths(ROOT / "README.md")
    assert any(p.startswith("docs/") for p in found)
    assert not exists(ROOT / "README.md", "src/sportsedge/cli_train.py")
