"""`sportsedge data check` and `data download`: every error it reports, and an offline download."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from sportsedge.cli import main
from sportsedge.core.errors import SportsedgeError
from sportsedge.data.datasets import check_dataset, download

from conftest import write_dataset


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "ds", per_split=(("train", 3), ("valid", 2), ("test", 2)))


def test_clean_dataset(dataset, capsys):
    rep = check_dataset(dataset)
    assert not rep.errors and not rep.duplicates
    assert rep.classes == ("blue", "green", "red")
    assert rep.counts["train"] == {"blue": 3, "green": 3, "red": 3}
    assert main(["data", "check", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "train: 3 classes, 9 images, 3 per class" in out and out.rstrip().endswith("OK")


def test_missing_train_split(dataset):
    shutil.rmtree(dataset / "train")
    assert any("no train/ split" in e for e in check_dataset(dataset).errors)


def test_not_a_folder(tmp_path):
    assert check_dataset(tmp_path / "nope").errors == [f"{tmp_path / 'nope'}: not a folder"]


def test_class_mismatch(dataset):
    shutil.rmtree(dataset / "test" / "green")
    (dataset / "valid" / "purple").mkdir()
    Image.new("RGB", (8, 8)).save(dataset / "valid" / "purple" / "x.png")
    errors = check_dataset(dataset).errors
    assert any("test: class folders differ from train/: missing ['green']" in e for e in errors)
    assert any("valid: class folders differ from train/: extra ['purple']" in e for e in errors)


def test_empty_class_and_unreadable_and_odd(dataset, capsys):
    for f in (dataset / "valid" / "blue").iterdir():
        f.unlink()
    (dataset / "train" / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff nope")
    Image.new("L", (16, 16)).save(dataset / "train" / "red" / "gray.png")
    (dataset / "train" / "red" / "notes.txt").write_text("x")
    rep = check_dataset(dataset)
    assert any(e.endswith("valid/blue: no images") for e in rep.errors)
    assert any("broken.jpg: unreadable" in e for e in rep.errors)
    assert any("not RGB (L)" in w for w in rep.warnings)
    assert any("1 non-image files ignored" in w for w in rep.warnings)
    assert any("other sizes" in s for s in rep.summary)
    assert main(["data", "check", str(dataset)]) == 1
    captured = capsys.readouterr()
    assert "2 error(s)" in captured.out and "Traceback" not in captured.err


def test_cross_split_duplicates(dataset):
    shutil.copy(dataset / "train" / "red" / "0.jpg", dataset / "test" / "red" / "copy.jpg")
    rep = check_dataset(dataset)
    assert rep.duplicates == [(str(dataset / "test" / "red" / "copy.jpg"), str(dataset / "train" / "red" / "0.jpg"))]
    assert not rep.errors and any("byte-identical" in w for w in rep.warnings)


@pytest.mark.realdata
def test_shared_subset(shared_data):
    rep = check_dataset(shared_data)
    assert not rep.errors and len(rep.classes) == 100
    assert set(rep.counts["train"].values()) == {30} and set(rep.counts["valid"].values()) == {5}
    assert rep.duplicates  # the upstream dataset's known duplicates (valid/volleyball)


def test_download_with_local_folder(tmp_path, dataset):
    nested = tmp_path / "cache" / "versions" / "1"
    shutil.copytree(dataset, nested / "sports")
    out = download(tmp_path / "data" / "sports100", fetch=lambda: tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == ["test", "train", "valid"]
    assert not check_dataset(out).errors
    with pytest.raises(SportsedgeError, match="not empty"):
        download(out, fetch=lambda: tmp_path / "cache")


def _fake_kagglehub(monkeypatch, behaviour):
    import sys
    import types

    fake = types.ModuleType("kagglehub")
    fake.dataset_download = behaviour
    monkeypatch.setitem(sys.modules, "kagglehub", fake)


def test_download_through_kagglehub_replaced_by_a_local_folder(tmp_path, dataset, monkeypatch, capsys):
    asked = []
    _fake_kagglehub(monkeypatch, lambda handle: asked.append(handle) or str(dataset))
    assert main(["data", "download", "--out", str(tmp_path / "sports")]) == 0
    assert asked == ["gpiosenka/sports-classification"]
    out = capsys.readouterr().out
    assert f"downloaded to {tmp_path / 'sports'}" in out and out.rstrip().endswith("OK")


def test_download_offline_is_one_line(tmp_path, capsys, monkeypatch):
    def offline(handle):
        raise ConnectionError("Failed to resolve 'api.kaggle.com' ([Errno -2] Name or service not known)\nmore")

    _fake_kagglehub(monkeypatch, offline)
    assert main(["data", "download", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not download gpiosenka/sports-classification" in err
    assert "offline?" in err and not (tmp_path / "d").exists()


def test_download_without_kagglehub_names_the_extra(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "kagglehub", None)
    assert main(["data", "download", "--out", str(tmp_path / "d")]) == 2
    assert 'pip install "sportsedge[data]"' in capsys.readouterr().err
