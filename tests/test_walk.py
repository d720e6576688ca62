"""The one folder walk (imagesets.walk): every command lists a folder's images alike, symlinks
followed (loops ended, each folder once), hidden names skipped, in relative-path order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

LABELS = ("blue", "green", "red")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png") and p.is_file())


@pytest.fixture
def linked(tmp_path, colour_dataset) -> Path:
    """The colour dataset rebuilt from symlinks, each split three ways: red/ is a symlink to a
    folder elsewhere, green/ a real folder of symlinks to files elsewhere, blue/ real files plus
    blue/more -> a folder elsewhere (and a broken link, skipped)."""
    from PIL import Image

    store, root = tmp_path / "store", tmp_path / "data"
    shutil.copytree(colour_dataset, store)
    for split in ("train", "valid", "test"):
        (root / split).mkdir(parents=True)
        (root / split / "red").symlink_to(store / split / "red", target_is_directory=True)
        green = root / split / "green"
        green.mkdir()
        for p in _images(store / split / "green"):
            (green / p.name).symlink_to(p)
        blue = root / split / "blue"
        shutil.copytree(store / split / "blue", blue)
        more = tmp_path / "more" / split
        more.mkdir(parents=True)
        Image.new("RGB", (32, 32), (0, 0, 200 + len(split))).save(more / "extra.jpg")
        (blue / "more").symlink_to(more, target_is_directory=True)
        (blue / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")  # broken: skipped, as ever
    return root


def _expected(split: Path) -> list[Path]:
    """The images of a split of ``linked`` in relative-path order, written out by hand."""
    return (
        [split / "blue" / p.name for p in _images(split / "blue")]  # not the broken gone.jpg
        + [split / "blue" / "more" / "extra.jpg"]  # "more" sorts after "0.jpg", "1.png", "2.jpg"
        + [split / "green" / p.name for p in _images(split / "green")]
        + [split / "red" / p.name for p in _images(split / "red")]
    )


def test_symlinked_class_folders_are_found_by_every_command(linked):
    """predict, bench, the dataset scanner and `data check`, export's calibration and parity
    listings and doctor's: the same images, in the same order (the old ones did not enter a
    symlinked folder below the one they were given: predict missed red/, all missed blue/more)."""
    from sportsedge.bench.accuracy import labelled_images
    from sportsedge.data.datasets import check_dataset
    from sportsedge.runtime.imagesets import image_files, list_stratified, scan_classes
    from sportsedge.runtime.predict_cli import expand_paths
    from sportsedge.train.data import scan_dataset

    test = linked / "test"
    expected = _expected(test)
    assert len(expected) == 3 + 1 + 3 + 3
    assert list(expand_paths([str(test)])) == expected  # predict
    paths, names = labelled_images(test)  # bench
    assert paths == [str(p) for p in expected] and names == [p.relative_to(test).parts[0] for p in expected]
    ds = scan_dataset(linked)  # train and evaluate
    assert ds.classes == LABELS and list(ds.split("test").paths) == [str(p) for p in expected]
    assert check_dataset(linked).counts["test"] == {"blue": 4, "green": 3, "red": 3}  # `data check`
    assert [p for listing in scan_classes(test).values() for p in listing.images] == expected  # doctor
    assert image_files(test).images == tuple(expected)  # export's parity search
    assert sorted(list_stratified(test, 100)) == expected  # export's --calibration and --parity-data


def test_a_symlink_loop_ends_and_lists_each_image_once(tmp_path):
    """up -> .. and self -> . loop; twin -> sub is a second way into a folder already walked;
    ext -> a folder outside, whose back -> the top folder loops too. Each image once."""
    from sportsedge.runtime.imagesets import image_files, walk
    from sportsedge.runtime.predict_cli import expand_paths

    top, outside = tmp_path / "top", tmp_path / "outside"
    (top / "sub").mkdir(parents=True)
    outside.mkdir()
    for p in (top / "a.jpg", top / "b.png", top / "sub" / "c.jpg", outside / "d.jpg"):
        p.write_bytes(b"x")
    (top / "sub" / "up").symlink_to("..")
    (top / "sub" / "self").symlink_to(".")
    (top / "twin").symlink_to("sub")
    (top / "ext").symlink_to(outside)
    (outside / "back").symlink_to(top)
    expected = [top / "a.jpg", top / "b.png", top / "ext" / "d.jpg", top / "sub" / "c.jpg"]
    assert image_files(top).images == tuple(expected)
    assert list(expand_paths([str(top)])) == expected
    assert list(walk(top, files=False, dirs=True)) == [top / "ext", top / "sub"]  # each folder once
    assert list(walk(top, recursive=False)) == [top / "a.jpg", top / "b.png"]


def test_hidden_names_are_skipped_by_data_download_and_through_symlinks(tmp_path, linked, colour_dataset):
    """`data download` looks for the folder holding train/ with the same walk: the old one took a
    stale .cache/old/ (sorted first) over the real one. A hidden link to a folder, hidden files
    and folders inside a linked folder: never listed."""
    from sportsedge.data.datasets import download
    from sportsedge.runtime.imagesets import class_dirs, image_files
    from sportsedge.runtime.predict_cli import expand_paths

    src = tmp_path / "kaggle"
    shutil.copytree(colour_dataset / "train", src / ".cache" / "old" / "train")  # stale, partial: never chosen
    (src / "sports").symlink_to(colour_dataset, target_is_directory=True)  # the splits, one symlink down
    out = download(tmp_path / "out", fetch=lambda: src)
    assert sorted(p.name for p in out.iterdir()) == ["test", "train", "valid"]

    test = linked / "test"
    expected = _expected(test)
    more = (test / "blue" / "more").resolve()
    (more / ".thumbs").mkdir()
    shutil.copy(more / "extra.jpg", more / ".thumbs" / "extra.jpg")
    (more / ".extra.jpg").symlink_to(more / "extra.jpg")
    (test / ".ipynb_checkpoints").symlink_to(test / "red", target_is_directory=True)
    (test / "red" / ".DS_Store").write_bytes(b"\0")
    assert list(expand_paths([str(test)])) == expected
    assert class_dirs(test) == list(LABELS)
    assert image_files(test / "blue").other == 0  # hidden files are not even counted as other files
