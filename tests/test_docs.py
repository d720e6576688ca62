"""The front door holds: the README is short and has no dev-only paths, its formats table is the
code's, the docs site builds with --strict and its CLI reference lists every command and option,
and every example command in the README and the guides runs as printed.

An example command is a line of a ```bash or ```console block (console lines start with "$ ") in
README.md, docs/getting-started.md, docs/guides/*.md or docs/serve.md. A block preceded by
``<!-- docs-test: skip (REASON) -->`` is skipped with REASON (a board, sudo, training on the full
dataset); every other command runs, in a folder staged with the names the docs use (STAGED).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT
from isolation import TIMEOUT_S

DOC_PAGES = (
    "README.md",
    "docs/getting-started.md",
    *sorted(f"docs/guides/{p.name}" for p in (ROOT / "docs/guides").glob("*.md")),
    "docs/serve.md",
)
_SKIP = re.compile(r"<!-- docs-test: skip \((.+)\) -->")
_BLOCK = re.compile(r"(?:(<!-- docs-test: skip \([^\n]+\) -->)\n[ \t]*)?```(bash|console)\n(.*?)```", re.S)
COMMANDS = ("sportsedge", ".venv/bin/sportsedge")


@dataclass(frozen=True)
class Example:
    page: str  # the doc it is printed in
    line: int  # where its block starts
    command: str  # as printed (continuations joined); bash runs it, comments and pipes included
    skip: str  # the block's skip reason; "" = it runs

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.command}"


def examples() -> list[Example]:
    found = []
    for page in DOC_PAGES:
        text = (ROOT / page).read_text()
        for m in _BLOCK.finditer(text):
            marked = _SKIP.match(m.group(1) or "")
            skip = marked.group(1) if marked else ""
            line = text[: m.start()].count("\n") + 1
            body = m.group(3).replace("\\\n", " ")
            for raw in body.splitlines():
                if m.group(2) == "console":
                    if not raw.startswith("$ "):
                        continue  # output
                    raw = raw[2:]
                command = raw.strip()
                if command and not command.startswith("#"):
                    found.append(Example(page, line, command, skip))
    return found


EXAMPLES = examples()


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "../shared" not in text
    assert len(EXAMPLES) >= 20  # the parser found the guides' commands


def test_the_readme_formats_table_is_the_code_s():
    from sportsedge.cli.reference import formats_table

    for page in ("README.md", "docs/index.md"):
        assert formats_table() in (ROOT / page).read_text(), page


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.skip], ids=str)
def test_a_skipped_example_says_why(example):
    assert len(example.skip) > 10, example


def test_an_unmarked_block_holds_only_commands_we_can_run():
    runnable = [e for e in EXAMPLES if not e.skip]
    others = [str(e) for e in runnable if not e.command.startswith(COMMANDS + ("curl ",))]
    assert not others, "mark these blocks with <!-- docs-test: skip (why) -->: " + "; ".join(others)


# --- running them ------------------------------------------------------------------------------


def _stage(root: Path) -> Path:
    """The names the docs use, made from committed fixtures: a demo output whose cnn exports are
    the tiny fixture relabelled with three of the demo's scene classes, photos, a large JPEG, a
    clip and an export folder."""
    from dataclasses import replace

    import numpy as np

    from sportsedge.data.synthetic import render
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.metadata import attach_metadata

    from model_fixtures import FIXTURES

    rng = np.random.default_rng(0)
    classes = ("city", "forest", "ocean")
    for c in classes:
        for split in ("test", "valid"):
            folder = root / "demo-out/data" / split / c
            folder.mkdir(parents=True)
            for i in range(3):
                render(c, rng).save(folder / f"{i:03d}.jpg", quality=90)
    exports = root / "demo-out/exports"
    exports.mkdir(parents=True)
    for f in (FIXTURES / "exported").glob("tiny-*"):
        if f.suffix in (".tflite", ".onnx"):
            dst = exports / f.name.replace("tiny-", "cnn-")
            shutil.copy(f, dst)
            meta = Classifier.load(dst, verify=False).metadata
            attach_metadata(dst, replace(meta, labels=classes, model_name="cnn"))
    shutil.copytree(exports, root / "exports")
    shutil.copytree(root / "demo-out/data", root / "data/sports100")
    photos = root / "photos"
    photos.mkdir()
    for name, c in (("bowling.jpg", "city"), ("match.jpg", "ocean")):
        render(c, rng).save(photos / name, quality=90)
    shutil.copy(photos / "bowling.jpg", root / "photo.jpg")
    (root / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "photo.jpg", root / "examples" / "photo.jpg")  # the repository's sample
    render("forest", rng).resize((4056, 3040)).save(root / "court-4056x3040.jpg", quality=85)
    try:
        from sportsedge.data.clips import write_clip

        stills = [(np.asarray(render(c, rng)), 1.0) for c in classes]
        write_clip(root / "match.mp4", stills, (240, 320), fps=10)
    except Exception:  # no video extra: the video examples skip below
        pass
    venv = Path(sys.executable).parent.parent
    (root / ".venv").symlink_to(venv)
    return root


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return _stage(tmp_path_factory.mktemp("docs-examples"))


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.skip and not e.command.startswith("curl ")], ids=str)
def test_the_example_runs_as_printed(example, staged):
    argv = shlex.split(example.command, comments=True)
    if any(a.endswith(".mp4") for a in argv) and not (staged / "match.mp4").is_file():
        pytest.skip("the video extra is not installed")
    bindir = str(Path(sys.executable).parent)  # `sportsedge` as after `source .venv/bin/activate`
    if argv[1:2] == ["serve"]:
        return _serve_starts([bindir + "/sportsedge" if argv[0] == "sportsedge" else argv[0], *argv[1:]], staged)
    env = {**os.environ, "SPORTSEDGE_DEBUG": "", "PATH": bindir + os.pathsep + os.environ["PATH"]}
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", example.command],
        cwd=staged,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
    )
    assert proc.returncode == 0, f"{example}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


def _serve_starts(argv: list[str], cwd: Path) -> None:
    """A printed serve command starts serving (on a free port: the printed one may be taken here)."""
    import signal
    import socket

    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if "--port" in argv:
        i = argv.index("--port")
        del argv[i : i + 2]
    token = cwd / "token"
    token.write_text("a-test-token-of-24-chars\n")
    argv = [a if a != "token.txt" else str(token) for a in argv]
    server = subprocess.Popen([*argv, "--port", str(port)], cwd=cwd, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stderr.readline()
        assert first.startswith(("serving ", "warning: serving")), first + server.stderr.read()
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


# --- the site ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs extra (mkdocs) is not installed")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def test_the_cli_reference_lists_every_command_and_option(site):
    import html

    from sportsedge.cli.main import build_parser

    page = html.unescape((site / "reference/cli.html").read_text())
    missing = []
    for name, sub in build_parser().subcommands().items():
        for cmd, parser in [(name, sub), *((f"{name} {n}", p) for n, p in sub.subcommands().items())]:
            if f"sportsedge {cmd}" not in page:
                missing.append(cmd)
            missing += [f"{cmd} {o}" for a in parser.listed_actions() for o in a.option_strings if o not in page]
    assert not missing, missing


def test_the_site_needs_no_network(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, page
        assert "unpkg.com" not in text, page  # the offline plugin's Worker shim is ours (scripts/mkdocs_hooks.py)


def test_search_works_from_disk(site):
    """site/index.html opened from file:// in headless Chromium: type a word, get results."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from test_serve import _chromium

    browser = _chromium()
    try:
        browser.set_window_size(1280, 900)
        browser.get((site / "index.html").as_uri())
        box = WebDriverWait(browser, 30).until(lambda b: b.find_element(By.CSS_SELECTOR, "input.md-search__input"))
        box.click()
        box.send_keys("quantization")
        found = WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))
        assert any("Quantization" in item.text for item in found), [item.text[:80] for item in found]
        assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.quit()


# --- the built-in model ------------------------------------------------------------------------

SHARED_VALID = ROOT.parent / "shared/data/sports100-dev/valid"


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED_VALID.is_dir(), reason="needs ../shared (the real valid/ images)")
def test_sports100_gives_its_card_s_top1_on_the_500_valid_images():
    """As a user runs it: the installed `sportsedge` (a wheel in `make test-runtime`), over every
    valid/ image, counted against the folders: exactly the card's figure."""
    import json

    from sportsedge.core.builtin import BUILTIN, builtin_path

    card = (builtin_path("sports100").parent / BUILTIN["sports100"].card).read_text()
    said = re.search(r"top-1\*\* \((\d+) of (\d+)\) on the dataset's 500 `valid/` images", card)
    assert said, "the card gives no valid/ top-1"
    right, total = map(int, said.groups())
    cli = str(Path(sys.executable).parent / "sportsedge")
    proc = subprocess.run(
        [cli, "predict", "sports100", str(SHARED_VALID), "--json", "--top-k", "1"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    hits = sum(r["predictions"][0]["label"] == Path(r["path"]).parent.name for r in records)
    assert (hits, len(records)) == (right, total)


def test_sports100_is_a_name_every_command_takes(tmp_path):
    from PIL import Image

    from sportsedge.core.builtin import builtin_path, resolve
    from sportsedge.runtime import Classifier

    assert resolve("sports100") == builtin_path("sports100") and builtin_path("sports100").is_file()
    clf = Classifier.load("sports100")
    assert len(clf.labels) == 100 and clf.verify().ok and clf.metadata.format == "tflite-int8"
    (tmp_path / "sports100").write_bytes(b"")  # a file of that name in the folder wins
    assert resolve(tmp_path / "sports100") == tmp_path / "sports100"
    cli = str(Path(sys.executable).parent / "sportsedge")
    helptext = subprocess.run([cli, "predict", "--help"], capture_output=True, text=True, timeout=TIMEOUT_S).stdout
    assert "sports100" in helptext
    photos = tmp_path / "photos"  # unlabelled: bench times it and leaves accuracy out
    photos.mkdir()
    for i in range(2):
        Image.new("RGB", (64, 48), (40 * i, 90, 200)).save(photos / f"{i}.jpg")
    quick = ["--runs", "5", "--rounds", "1", "--warmup", "1", "--e2e-runs", "0", "--camera-runs", "0"]
    for argv in (
        ["verify", "sports100"],
        ["bench", "sports100", "--data", str(photos), "--out", str(tmp_path / "b"), *quick],
    ):
        proc = subprocess.run([cli, *argv], capture_output=True, text=True, timeout=TIMEOUT_S)
        assert proc.returncode == 0, (argv, proc.stderr)


def test_the_try_next_list_is_the_demo_s():
    """One list: README and getting-started show what the demo prints (its defaults)."""
    from sportsedge.pipeline.commands import try_next_block

    marker = "<!-- try-next: generated by sportsedge.pipeline.commands.try_next_block"
    for page in ("README.md", "docs/getting-started.md"):
        text = (ROOT / page).read_text()
        assert marker in text, page
        assert text.split(marker, 1)[1].split("-->\n", 1)[1].startswith(try_next_block()), page


def test_the_readme_and_the_docs_home_say_the_same_about_what_changed():
    import re

    lines = {}
    for page, link in (("README.md", "docs/changelog.md"), ("docs/index.md", "changelog.md")):
        found = re.search(r"^- \[What changed lately\]\(([^)]*)\): (.*)$", (ROOT / page).read_text(), re.M)
        assert found and found.group(1) == link, page
        lines[page] = found.group(2)
    assert lines["README.md"] == lines["docs/index.md"]


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED_VALID.is_dir(), reason="needs ../shared (the real valid/ images)")
def test_the_predict_guide_shows_what_its_commands_print(tmp_path):
    """The guide's console block, rerun on the photos it names: the very output it shows."""
    block = (ROOT / "docs/guides/predict.md").read_text().split("```console\n", 1)[1].split("```", 1)[0]
    (tmp_path / "photos").mkdir()
    for name in ("basketball", "bowling"):
        shutil.copy(SHARED_VALID / name / "1.jpg", tmp_path / "photos" / f"{name}.jpg")
    cli = str(Path(sys.executable).parent / "sportsedge")
    commands = [line for line in block.splitlines() if line.startswith("$ ")]
    printed = "".join(
        subprocess.run(
            [cli, *shlex.split(c[2:])[1:]], capture_output=True, text=True, cwd=tmp_path, timeout=TIMEOUT_S
        ).stdout
        for c in commands
    )
    assert printed == "".join(line + "\n" for line in block.splitlines() if not line.startswith("$ "))


def test_the_user_pages_read_for_users():
    """Friction a new user met (issue 46): each page says what a user needs, where they look."""
    import re

    started = (ROOT / "docs/getting-started.md").read_text()
    assert not re.search(r"commit `[0-9a-f]{7}`", started)  # history lives in the changelog
    assert "32-bit ARM (armv7l/armv6l)\nis not supported" in started
    pi = (ROOT / "docs/guides/raspberry-pi.md").read_text()
    first_block = pi.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "make dist" in first_block and "out/sports100" not in first_block  # no Kaggle, no hour of training
    assert "predict sports100" in pi.split("```bash\n", 2)[2].split("```", 1)[0]
    assert "composited over white" in (ROOT / "docs/guides/predict.md").read_text()
    for page in ("README.md", "docs/index.md", "docs/guides/raspberry-pi.md"):  # says how to install today
        text = " ".join((ROOT / page).read_text().split()).lower()
        assert "first upload to pypi" in text and "make dist" in text, page
