"""Dataset scanning and the tf.data stream: errors, skipping, and pixel equality with the runtime."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sportsedge.core.errors import InputError
from sportsedge.runtime import load_pixels
from sportsedge.train.data import BadImageLog, image_stream, scan_dataset

from conftest import TINY_SIZE, write_dataset

pytestmark = pytest.mark.tensorflow  # trains or exports: needs the train extra


def test_scan_kaggle_layout(colour_dataset):
    ds = scan_dataset(colour_dataset)
    assert ds.classes == ("blue", "green", "red")  # sorted folder names
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 18, "valid": 9, "test": 9}
    assert ds.splits["train"].skipped == 1  # notes.txt
    assert ds.eval_split == "test"
    assert ds.splits["valid"].labels == (0,) * 3 + (1,) * 3 + (2,) * 3


def test_missing_split(tmp_path):
    write_dataset(tmp_path, per_split=(("valid", 1),))
    with pytest.raises(InputError, match="missing the train/ split"):
        scan_dataset(tmp_path)


def test_mismatched_classes_named(tmp_path):
    write_dataset(tmp_path, per_split=(("train", 1), ("valid", 1)))
    shutil.rmtree(tmp_path / "valid" / "green")
    (tmp_path / "valid" / "purple").mkdir()
    with pytest.raises(InputError, match=r"valid: class folders differ from train/: missing 'green'; extra 'purple'"):
        scan_dataset(tmp_path)


def test_empty_class_folder(tmp_path):
    write_dataset(tmp_path, per_split=(("train", 1), ("valid", 1)))
    for f in (tmp_path / "train" / "blue").iterdir():
        f.unlink()
    with pytest.raises(InputError, match=r"train/blue: class folder has no images"):
        scan_dataset(tmp_path)


def test_not_a_folder(tmp_path):
    with pytest.raises(InputError, match="dataset folder not found"):
        scan_dataset(tmp_path / "nowhere")


def test_corrupt_image_skipped_and_reported(tmp_path, caplog):
    write_dataset(tmp_path, per_split=(("train", 2), ("valid", 1)))
    (tmp_path / "train" / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    split = scan_dataset(tmp_path).split("train")
    bad = BadImageLog()
    with caplog.at_level("WARNING", logger="sportsedge.data"):
        batches = list(image_stream(split, TINY_SIZE, batch=4, bad=bad, with_index=True))
    seen = np.concatenate([i.numpy() for _, _, i in batches])
    assert len(seen) == len(split) - 1
    broken = split.paths.index(str(tmp_path / "train" / "red" / "broken.jpg"))
    assert broken not in seen
    assert list(bad.seen) == [str(tmp_path / "train" / "red" / "broken.jpg")]
    assert "broken.jpg" in caplog.text


def test_stream_pixels_are_the_runtime_pixels(colour_dataset):
    split = scan_dataset(colour_dataset).split("valid")
    for x, _y, i in image_stream(split, (20, 24), batch=5, with_index=True):
        for img, idx in zip(x.numpy(), i.numpy()):
            assert np.array_equal(img, load_pixels(split.paths[idx], (20, 24)))


@pytest.mark.realdata
def test_real_jpegs_keras_stream_equals_runtime(shared_data):
    """The training stream and the device see identical pixels on the dataset's own JPEGs."""
    from PIL import Image

    from sportsedge.train.data import Split

    files = sorted((shared_data / "valid").glob("*/*.jpg"))
    gray = [f for f in files if Image.open(f).mode != "RGB"][:3]
    chosen = files[::25] + gray
    split = Split("valid", tuple(map(str, chosen)), tuple(range(len(chosen))), 0)
    for size in ((224, 224), (150, 150)):  # the CNN v1 resizes
        n = 0
        for x, _, i in image_stream(split, size, batch=8, with_index=True):
            for img, idx in zip(x.numpy(), i.numpy()):
                assert np.array_equal(img, load_pixels(chosen[idx], size)), chosen[idx]
                n += 1
        assert n == len(chosen)
