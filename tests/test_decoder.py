"""The decoder pool (runtime/decoder.py): images decoded in processes the kernel caps and a
deadline kills, on small generated hostile images (tests/hostile_images.py) against caps of a few
tens of MB and deadlines under a second: the mechanism the defaults rely on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sportsedge.core.errors import ImageTooLarge, InputError
from sportsedge.data.hostile import jpeg_repeated_scans, webp_lossless, write_corpus
from sportsedge.runtime.decoder import DecodeLimits, DecoderCrashed, DecoderPool, DecodeTimeout
from sportsedge.runtime.preprocess import load_pixels, load_pixels_here


@pytest.fixture
def photo(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), np.uint8)).save(path, quality=90)
    return path


def _pool(**limits) -> DecoderPool:
    return DecoderPool(DecodeLimits(**{"processes": 1, "memory_mb": 64, "timeout_s": 5.0, **limits}))


def _pid(pool: DecoderPool) -> int:
    proc = pool._all[0].proc
    assert proc is not None
    return proc.pid


def test_contained_pixels_are_the_in_process_pixels(photo, tmp_path):
    """The preprocessing contract, to the pixel, whichever process decodes."""
    gray = tmp_path / "gray.png"
    Image.fromarray(np.arange(64 * 48, dtype=np.uint32).reshape(48, 64).astype(np.uint8), "L").save(gray)
    for path in (photo, gray):
        for size in ((224, 224), (96, 128), None):
            assert np.array_equal(load_pixels(path, size), load_pixels_here(path, size))
    assert np.array_equal(load_pixels(photo.read_bytes(), (64, 64)), load_pixels_here(photo, (64, 64)))


def test_past_the_memory_cap_is_too_large_and_the_decoder_is_replaced(photo):
    pool = _pool(memory_mb=40)
    try:
        pool.decode(photo, (32, 32), "warm")
        first = _pid(pool)
        bomb = webp_lossless(3000)  # a few bytes; libwebp takes about 15 bytes a pixel: 135 MB
        assert len(bomb) < 1000
        with pytest.raises(ImageTooLarge, match="within the decoder's 40 MB"):
            pool.decode(bomb, (224, 224), "bomb.webp")
        assert pool.decode(photo, (32, 32), "after").shape == (32, 32, 3)
        assert _pid(pool) != first  # the process that hit its cap is gone
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)
    finally:
        pool.close()


def test_past_the_deadline_the_decoder_is_killed(photo):
    pool = _pool(memory_mb=256, timeout_s=0.5)
    slow = jpeg_repeated_scans(2000, 3000)  # about 1.5 s of CPU here: 3,000 passes over 2000x2000
    try:
        pool.decode(photo, (32, 32), "warm")
        first = _pid(pool)
        t0 = time.monotonic()
        with pytest.raises(DecodeTimeout, match="took longer than 0.5 s to decode"):
            pool.decode(slow, (224, 224), "slow.jpg")
        assert time.monotonic() - t0 < 3.0  # stopped at its deadline, not run to the end
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)
        assert pool.decode(photo, (32, 32), "after").shape == (32, 32, 3)
    finally:
        pool.close()


def test_a_decoder_that_dies_is_one_error_and_replaced(photo):
    pool = _pool(memory_mb=256, timeout_s=30.0)
    slow = jpeg_repeated_scans(2000, 4000)
    try:
        pool.decode(photo, (32, 32), "warm")
        victim = _pid(pool)
        threading.Timer(0.3, os.kill, (victim, signal.SIGSEGV)).start()  # a codec crash, as the kernel delivers it
        with pytest.raises(DecoderCrashed, match=r"crashed the image decoder \(signal 11\)"):
            pool.decode(slow, (224, 224), "crash.jpg")
        assert pool.decode(photo, (32, 32), "after").shape == (32, 32, 3)
    finally:
        pool.close()


def test_other_decoders_go_on_while_one_is_stuck(photo):
    """Two decoders: a slow image holds one until its deadline, the other keeps decoding."""
    pool = _pool(processes=2, memory_mb=256, timeout_s=2.0)
    slow = jpeg_repeated_scans(2000, 6000)
    try:
        pool.decode(photo, (32, 32), "warm")
        stuck = threading.Thread(target=lambda: pytest.raises(DecodeTimeout, pool.decode, slow, (224, 224), "s"))
        stuck.start()
        time.sleep(0.2)
        done = 0
        t0 = time.monotonic()
        while stuck.is_alive() and time.monotonic() - t0 < 10:
            pool.decode(photo, (64, 64), "honest")
            done += 1
        stuck.join()
        assert done >= 10, done  # hundreds here; the point is that they did not wait for the stuck one
    finally:
        pool.close()


def test_imap_keeps_order_and_errors(photo, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    pool = _pool(processes=2)
    try:
        out = list(pool.imap([photo, bad, photo, tmp_path / "missing.jpg"], (16, 16)))
    finally:
        pool.close()
    assert [type(o).__name__ for o in out] == ["ndarray", "InputError", "ndarray", "InputError"]
    assert "missing.jpg: no such file" in str(out[3])


def test_the_hostile_corpus_is_one_line_each(tmp_path):
    """Every generated case is classified or refused with an InputError, none takes the caller down."""
    files = write_corpus(tmp_path, side=1500)
    pool = _pool(processes=2, memory_mb=32, timeout_s=5.0)
    try:
        for name, path in files.items():
            try:
                assert pool.decode(path, (64, 64), name).shape == (64, 64, 3)
            except InputError as err:
                assert "\n" not in str(err) and str(err).startswith(name), err
    finally:
        pool.close()


def test_predict_says_one_line_for_a_bomb_and_classifies_the_rest(labelled_models, photo, tmp_path):
    """The CLI's defaults (256 MB a decoder): a 9400x9400 lossless WebP of a few bytes among photos."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(photo.read_bytes())
    (folder / "b.webp").write_bytes(webp_lossless(9400))
    (folder / "c.jpg").write_bytes(photo.read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "sportsedge", "predict", str(labelled_models["tflite-fp32"]), str(folder), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "b.webp: image too large to decode within the decoder's 256 MB" in errors[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout.count('"predictions"') == 2


def test_a_folder_gives_the_same_answers_in_order_whatever_the_workers(labelled_models, photo, tmp_path):
    """predict on a folder: decoders ahead and two interpreters give what one after the other gave."""
    import json

    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), np.uint8)).save(folder / f"{i:02d}.png")
    (folder / "07.png").write_bytes(b"broken")
    runs = []
    for workers in ("1", "2"):
        argv = ["predict", str(labelled_models["tflite-int8"]), str(folder), "--json", "--threads", "1"]
        proc = subprocess.run(
            [sys.executable, "-m", "sportsedge", *argv, "--workers", workers],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1 and proc.stderr.count("error:") == 1, proc.stderr
        runs.append([json.loads(line) for line in proc.stdout.splitlines()])
    assert [r["path"] for r in runs[0]] == sorted(str(p) for p in folder.iterdir())
    assert runs[0] == runs[1]
