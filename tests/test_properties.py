"""Property-based tests (hypothesis): the preprocessing contract, frame selection, the ranking
rule and input transforms hold for any input hypothesis can find, not only for the examples."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sportsedge.core.input_transform import PRESETS, PixelTransform
from sportsedge.core.metrics import predicted, ranked
from sportsedge.core.video_options import VideoOptions
from sportsedge.runtime.preprocess import load_pixels
from sportsedge.runtime.video import Smoother, select

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "I", "I;16", "F", "CMYK", "YCbCr", "HSV")


def _image(mode: str, w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    if mode in ("I", "I;16"):
        img16 = Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16))  # mode I;16
        return img16 if mode == "I;16" else img16.convert("I")
    if mode == "F":
        return Image.fromarray(rng.uniform(0, 255, (h, w)).astype(np.float32), "F")
    return rgb.convert(mode)


@FAST
@given(
    mode=st.sampled_from(MODES),
    w=st.integers(1, 64),
    h=st.integers(1, 64),
    orientation=st.integers(1, 8),
    size=st.tuples(st.integers(1, 48), st.integers(1, 48)),
    seed=st.integers(0, 2**16),
)
def test_any_mode_size_and_orientation_gives_the_contract_tensor(mode, w, h, orientation, size, seed):
    img = _image(mode, w, h, seed)
    out = load_pixels(img, size)
    assert out.shape == (*size, 3) and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    if mode in ("RGB", "L", "P", "CMYK", "YCbCr", "HSV", "1"):  # through a file too, with an EXIF orientation
        buf = io.BytesIO()
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.convert("RGB").save(buf, "PNG", exif=exif)
        buf.seek(0)
        from_file = load_pixels(Image.open(buf), size)
        assert from_file.shape == (*size, 3) and from_file.dtype == np.uint8


@FAST
@given(
    times=st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=200).map(sorted),
    fps=st.floats(0.05, 60),
)
def test_fps_selection_never_bursts(times, fps):
    """At most F frames per second of video in any stretch, whatever gaps the timestamps have."""
    picked = [t for t, _ in select(((t, None) for t in times), VideoOptions(fps=fps))]
    assert picked and picked[0] == times[0]
    # No stretch of video holds more selected frames than its length allows (plus the one that
    # starts it): after a gap the schedule re-anchors instead of catching up frame after frame.
    for i in range(len(picked)):
        for j in range(i + 1, len(picked)):
            assert j - i <= (picked[j] - picked[i]) * fps + 1 + 1e-6, (picked[i], picked[j])


@FAST
@given(n=st.integers(1, 500), every=st.integers(1, 50))
def test_every_nth_selection(n, every):
    picked = [i for i, _ in select(((float(i), i) for i in range(n)), VideoOptions(every=every))]
    assert picked == list(range(0, n, every))


@FAST
@given(
    rows=st.integers(1, 5),
    classes=st.integers(1, 12),
    values=st.data(),
)
def test_ranking_rule_descending_ties_to_the_lower_index(rows, classes, values):
    scores = np.array(
        values.draw(
            st.lists(
                st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), min_size=classes, max_size=classes),
                min_size=rows,
                max_size=rows,
            )
        )
    )
    order = ranked(scores)
    for row, idx in zip(scores, order):
        assert sorted(idx.tolist()) == list(range(classes))  # a permutation
        keys = [(-row[i], i) for i in idx]
        assert keys == sorted(keys)  # descending score, ties by index
    assert (predicted(scores) == order[:, 0]).all()


@FAST
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    pixels=st.lists(st.integers(0, 255), min_size=3, max_size=3 * 16).filter(lambda v: len(v) % 3 == 0),
)
def test_input_transforms_are_the_documented_affine_map(preset, pixels):
    t: PixelTransform = PRESETS[preset]
    x = np.array(pixels, np.uint8).reshape(1, 1, -1, 3)
    y = t.apply(x)
    src = x[..., ::-1] if t.bgr else x
    expected = src.astype(np.float64) * np.array(t.scale) + np.array(t.offset)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-4)
    assert PixelTransform.from_dict(t.to_dict()) == t


@FAST
@given(
    steps=st.lists(st.floats(0.001, 5), min_size=1, max_size=60),
    window=st.floats(0, 10),
)
def test_smoothing_window_is_in_seconds(steps, window):
    """The mean covers exactly the frames of the last ``window`` seconds, the newest included."""
    smoother = Smoother(window)
    times = np.cumsum(steps)
    for i, t in enumerate(times):
        scores = np.zeros(3)
        scores[i % 3] = 1.0
        out = smoother(float(t), scores)
        kept = [j for j in range(i + 1) if times[j] > t - window + 1e-9 or j == i]
        expected = np.mean([np.eye(3)[j % 3] for j in kept], axis=0)
        np.testing.assert_allclose(out, expected)


def test_a_preset_name_that_is_not_there_is_not_silently_accepted():
    with pytest.raises(KeyError):
        PRESETS["tf"]
