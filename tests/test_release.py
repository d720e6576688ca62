"""The release as a user gets it: `make dist`'s sdist and wheel (built here the same way), checked by
twine and carrying the licence; the wheel, not the tree, installed into a fresh venv without
TensorFlow, then the README's first commands: `--version`, `predict sports100` on the repository's
sample photo, `verify sports100`, `bench sports100`."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow
PHOTO = ROOT / "examples" / "photo.jpg"  # CC0, from the dataset's valid/ split (examples/README.md)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    # find_spec of build's __main__, not importorskip("build"): setuptools' in-tree `build/` folder
    # at the repository root imports as an empty namespace package where `build` is not installed.
    if importlib.util.find_spec("build.__main__") is None:
        pytest.skip("make dist needs the dev extra's build")
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path_factory.mktemp("build-cwd"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {"wheel": next(out.glob("*.whl")), "sdist": next(out.glob("*.tar.gz"))}


def test_the_release_files_pass_twine_and_carry_the_licence(dist):
    from sportsedge import __version__

    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.values())], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    licence = (ROOT / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = whl.namelist()
        assert f"sportsedge-{__version__}.dist-info/licenses/LICENSE" in names
        metadata = whl.read(f"sportsedge-{__version__}.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata and f"Version: {__version__}" in metadata
    assert "MIT" not in metadata  # one statement of the licence
    with tarfile.open(dist["sdist"]) as sdist:
        assert f"sportsedge-{__version__}/LICENSE" in sdist.getnames()


def test_the_built_wheel_runs_in_a_fresh_venv_without_tensorflow(dist, tmp_path):
    from sportsedge import __version__

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, cli = venv / "bin" / "python", venv / "bin" / "sportsedge"
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", str(dist["wheel"])], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]

    def run(*args: str) -> str:
        done = subprocess.run([str(cli), *args], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    assert run("--version").startswith(f"sportsedge {__version__} (Python ")
    assert "ai-edge-litert " in run("--version")
    assert subprocess.run([str(py), "-c", "import tensorflow"], capture_output=True).returncode != 0
    where = subprocess.run(
        [str(py), "-c", "import sportsedge; print(sportsedge.__file__)"], capture_output=True, text=True, cwd=tmp_path
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel's package, not the tree's src/
    predicted = run("predict", "sports100", str(PHOTO), "--top-k", "1").splitlines()
    assert predicted[1].split()[:2] == ["1.", PHOTO_LABEL], predicted
    assert ": OK (" in run("verify", "sports100")
    split = tmp_path / "split" / PHOTO_LABEL  # a one-image split: bench's accuracy pass runs too
    split.mkdir(parents=True)
    shutil.copy(PHOTO, split)
    quick = ["--threads", "1", "--runs", "20", "--warmup", "5", "--rounds", "1", "--camera-runs", "0"]
    out = tmp_path / "bench"
    bench = run(
        "bench", "sports100", "--data", str(split.parent), *quick, "--throughput-images", "0", "--out", str(out)
    )
    assert "sports100" in bench and (out / "results.json").is_file()


PHOTO_LABEL = "basketball"  # what the photo shows (its folder in valid/)


def test_the_docs_give_the_wheel_size_the_tree_builds(dist):
    """The wheel's size in getting-started and in sports100's card, to 0.1 MB, is the built one's."""
    import re

    size = f"{dist['wheel'].stat().st_size / 1e6:.1f} MB"
    pages = (ROOT / "docs" / "getting-started.md", ROOT / "src" / "sportsedge" / "core" / "models" / "sports100.md")
    for page in pages:
        said = re.search(r"the wheel that carries it[^.]*?(\d+\.\d MB)", page.read_text(), re.S | re.I)
        assert said and said.group(1) == size, (page.name, said and said.group(1), size)
