"""The one folder scanner: every listing of images skips hidden folders and files alike."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def with_hidden(tmp_path, colour_dataset):
    """A copy of the colour dataset with notebook checkpoints and a .DS_Store in every split."""
    root = tmp_path / "data"
    shutil.copytree(colour_dataset, root)
    for split in ("train", "valid", "test"):
        hidden = root / split / ".ipynb_checkpoints"
        hidden.mkdir()
        shutil.copy(next((root / split / "red").glob("*.jpg")), hidden / "stray.jpg")
        (root / split / ".DS_Store").write_bytes(b"\0")
        inner = root / split / "blue" / ".thumbs"  # hidden inside a class folder: not an image of it
        inner.mkdir()
        shutil.copy(next((root / split / "green").glob("*.jpg")), inner / "green.jpg")
    return root


def test_every_scanner_ignores_hidden_entries(with_hidden):
    from sportsedge.bench.accuracy import labelled_images
    from sportsedge.data.datasets import check_dataset
    from sportsedge.runtime.imagesets import list_stratified, scan_classes
    from sportsedge.runtime.predict_cli import expand_paths
    from sportsedge.train.data import scan_dataset

    assert list(scan_classes(with_hidden / "train")) == ["blue", "green", "red"]
    ds = scan_dataset(with_hidden)
    assert ds.classes == ("blue", "green", "red") and len(ds.split("train")) == 18
    paths, names = labelled_images(with_hidden / "valid")
    assert len(paths) == 9 and set(names) == {"blue", "green", "red"}
    chosen = list_stratified(with_hidden / "train", 100)
    assert len(chosen) == 18 and not any(part.startswith(".") for p in chosen for part in p.parts[-3:])
    found = [p for p in expand_paths([str(with_hidden / "test")])]
    assert len(found) == 9
    rep = check_dataset(with_hidden)
    assert not rep.errors and rep.counts["train"] == {"blue": 6, "green": 6, "red": 6}


def test_flat_folder_and_empty_folder(tmp_path, colour_dataset):
    from sportsedge.core.errors import InputError
    from sportsedge.runtime.imagesets import image_files, list_stratified

    flat = tmp_path / "flat"
    flat.mkdir()
    for p in sorted((colour_dataset / "valid").rglob("*.*"))[:4]:
        shutil.copy(p, flat / f"{p.parent.name}-{p.name}")
    (flat / "notes.txt").write_text("x")
    (flat / ".hidden.jpg").write_bytes(b"")
    listing = image_files(flat)
    assert len(listing.images) == 4 and listing.other == 1
    assert len(list_stratified(flat, 10)) == 4
    empty = tmp_path / "empty"
    (empty / ".ipynb_checkpoints").mkdir(parents=True)
    with pytest.raises(InputError, match="no images"):
        list_stratified(empty, 10)


def test_evenly_spaced():
    import numpy as np

    from sportsedge.runtime.imagesets import evenly_spaced

    assert evenly_spaced(list(range(10)), 3) == [0, 3, 6]
    assert evenly_spaced(list(range(10)), 20) == list(range(10))  # fewer items than asked: all of them
    assert evenly_spaced(np.arange(500), 16).tolist()[:3] == [0, 31, 62]
