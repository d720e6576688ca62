"""The preprocessing contract and every bad or odd image input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from sportsedge.core.errors import InputError
from sportsedge.runtime import load_pixels, open_image

RED = (255, 0, 0)


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def _png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (the body is a tiny stub): a bomb's signature."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (  # noqa: E731
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------ errors, one line naming the file


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jpg: no such file"):
        open_image(tmp_path / "nope.jpg")


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg: empty file"):
        open_image(tmp_path / "empty.jpg")


def test_text_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    with pytest.raises(InputError, match=r"notes\.jpg: not an image"):
        open_image(tmp_path / "notes.jpg")


def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InputError, match=r"cut\.jpg: corrupt or truncated image"):
        open_image(tmp_path / "cut.jpg")


def test_decompression_bomb_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_with_size(12_000, 12_000))
    with pytest.raises(InputError, match=r"bomb\.png: image too large \(12000x12000"):
        open_image(path)


def test_giant_header_beyond_pillow_limit(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_with_size(60_000, 60_000))  # Pillow itself would raise here
    with pytest.raises(InputError, match=r"huge\.png: image too large"):
        open_image(path)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        open_image(tmp_path)


def test_bad_arrays():
    with pytest.raises(InputError, match="HxWx3"):
        load_pixels(np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        load_pixels(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(InputError, match="cannot read an image from a int"):
        load_pixels(42)


# ------------------------------------------------------------------ odd modes become correct RGB


def test_cmyk_jpeg(tmp_path):
    path = _save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=100)
    px = load_pixels(path)
    assert px.shape == (16, 16, 3) and px.dtype == np.uint8
    assert np.abs(px.astype(int) - RED).max() <= 3  # CMY full on M and Y is red


def test_rgba_png_composited_on_white(tmp_path):
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    img.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent black
    px = load_pixels(_save(img, tmp_path / "rgba.png"))
    assert tuple(px[0, 0]) == (255, 255, 255)
    assert tuple(px[1, 1]) == RED


def test_palette_png(tmp_path):
    img = Image.new("RGB", (4, 4), RED).convert("P")
    px = load_pixels(_save(img, tmp_path / "p.png"))
    assert tuple(px[2, 2]) == RED


def test_palette_png_with_transparency(tmp_path):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([255, 0, 0, 0, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 1)
    px = load_pixels(_save(img, tmp_path / "pt.png", transparency=1))
    assert tuple(px[0, 0]) == (255, 255, 255) and tuple(px[3, 3]) == RED


def test_16bit_png_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 32768, 65535]], dtype=np.uint16)
    path = _save(Image.fromarray(arr), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    px = load_pixels(path)
    assert px[0, :, 0].tolist() == [0, 128, 255]  # Pillow's convert() would give 0, 255, 255
    assert (px[..., 0] == px[..., 1]).all()


def test_grayscale(tmp_path):
    px = load_pixels(_save(Image.new("L", (5, 5), 77), tmp_path / "g.png"))
    assert px.shape == (5, 5, 3) and (px == 77).all()


def test_one_pixel_image_resized(tmp_path):
    path = _save(Image.new("RGB", (1, 1), RED), tmp_path / "dot.png")
    px = load_pixels(path, (32, 32))
    assert px.shape == (32, 32, 3) and (px == RED).all()


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (20, 10), (0, 0, 255))
    img.paste(RED, (0, 0, 10, 10))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = _save(img, tmp_path / "rot.jpg", exif=exif, quality=100)
    px = load_pixels(path)
    assert px.shape == (20, 10, 3)  # displayed upright: portrait
    assert px[2, 5, 0] > 200 and px[2, 5, 2] < 50  # the red half is now on top


def test_resize_is_pillow_bilinear(tmp_path):
    rng = np.random.default_rng(2)
    arr = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(arr).resize((30, 20), Image.BILINEAR))
    assert np.array_equal(load_pixels(arr, (20, 30)), expected)
    assert load_pixels(arr, (40, 60)) is arr  # right size: no copy, no resampling


def test_path_pil_and_array_agree(tmp_path):
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    path = _save(Image.fromarray(arr), tmp_path / "x.png")
    a = load_pixels(path, (16, 16))
    b = load_pixels(Image.open(path), (16, 16))
    c = load_pixels(arr, (16, 16))
    assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.realdata
def test_real_dataset_images_decode(shared_data):
    files = sorted((shared_data / "valid").glob("*/*.jpg"))
    assert len(files) == 500
    modes = set()
    for f in files[::5]:
        with Image.open(f) as im:
            modes.add(im.mode)
        px = load_pixels(f, (224, 224))
        assert px.shape == (224, 224, 3) and px.dtype == np.uint8
    assert "RGB" in modes


def _v1(path, size):
    """The v1 contract: full decode, then bilinear."""
    from PIL import Image

    from sportsedge.runtime.preprocess import resize, to_rgb

    with Image.open(path) as img:
        img.load()
        return np.asarray(resize(to_rgb(img), size))


def _photo(path, w, h, fmt="JPEG"):
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], -1)
    px = np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(px).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return path


def test_large_jpegs_take_the_draft_path_small_ones_do_not(tmp_path):
    from sportsedge.runtime.preprocess import DRAFT_FROM, PREPROCESSING_VERSION, load_pixels

    size = (224, 224)
    assert PREPROCESSING_VERSION == "pil-rgb-bilinear-v2" and DRAFT_FROM == 2
    # Every image under twice the input on either side -- all training images -- is pixel-identical to v1.
    for w, h in ((224, 224), (447, 600), (300, 300)):
        p = _photo(tmp_path / f"{w}x{h}.jpg", w, h)
        assert np.array_equal(load_pixels(p, size), _v1(p, size)), (w, h)
    # A camera-size JPEG is decoded at a reduced DCT scale: close to v1, not identical.
    p = _photo(tmp_path / "big.jpg", 1920, 1080)
    fast, ref = load_pixels(p, size).astype(int), _v1(p, size).astype(int)
    assert not np.array_equal(fast, ref)
    assert np.abs(fast - ref).max() <= 12 and np.abs(fast - ref).mean() < 1.0
    # Other formats have no draft mode: a large PNG is decoded in full, as before.
    p = _photo(tmp_path / "big.png", 1000, 1000, "PNG")
    assert np.array_equal(load_pixels(p, size), _v1(p, size))
    # Without a target size nothing is reduced.
    assert load_pixels(tmp_path / "big.jpg").shape == (1080, 1920, 3)
