"""Safe image decoding: every mode, EXIF rotation, bombs, tiny, truncated and non-image files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from studio.images import MIN_SIDE, NEUTRAL_GREY, ImageError, fit_image, load_rgb


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small, valid PNG whose header declares a huge 1-bit image (how a real bomb looks)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + (width + 7) // 8) * 64, 9)  # 64 rows of data is enough
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def gradient(width: int = 40, height: int = 24) -> np.ndarray:
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.stack([x, y, 255 - x], axis=2).round().astype(np.uint8)


def check_rgb(array: np.ndarray, width: int, height: int) -> None:
    assert array.dtype == np.uint8 and array.shape == (height, width, 3) and array.flags.c_contiguous


# ------------------------------------------------------------------------------------------
# Modes


def test_rgb_png_and_jpeg_round_trip(tmp_path: Path):
    pixels = gradient()
    assert np.array_equal(load_rgb(encode(Image.fromarray(pixels))), pixels)
    path = tmp_path / "frame.jpg"
    path.write_bytes(encode(Image.fromarray(pixels), "JPEG", quality=95))
    decoded = load_rgb(path)
    check_rgb(decoded, 40, 24)
    assert np.abs(decoded.astype(int) - pixels).mean() < 4


def test_rgba_is_composited_over_neutral_grey_or_a_chosen_background():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:10, :, 3] = 255  # opaque red on top
    rgba[10:, :, 3] = 0  # fully transparent below
    data = encode(Image.fromarray(rgba))
    out = load_rgb(data)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[-1, 0]) == NEUTRAL_GREY
    assert tuple(load_rgb(data, background=(0, 0, 0))[-1, 0]) == (0, 0, 0)
    rgba[:, :, 3] = 128
    half = load_rgb(encode(Image.fromarray(rgba)), background=(0, 0, 0))
    assert tuple(half[0, 0]) == (128, 0, 0)


def test_grey_and_grey_alpha_and_bilevel():
    grey = Image.fromarray(np.full((20, 30), 77, np.uint8))
    assert np.all(load_rgb(encode(grey)) == 77)
    la = Image.fromarray(np.dstack([np.full((20, 30), 200, np.uint8), np.full((20, 30), 255, np.uint8)]))
    assert np.all(load_rgb(encode(la)) == 200)
    bilevel = Image.new("1", (20, 20), 1)
    assert np.all(load_rgb(encode(bilevel)) == 255)


def test_palette_with_and_without_transparency():
    palette = Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    out = load_rgb(encode(palette))
    check_rgb(out, 40, 24)
    assert np.array_equal(out, np.asarray(palette.convert("RGB")))
    transparent = Image.new("P", (20, 20), 0)
    transparent.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    transparent.info["transparency"] = 0
    assert tuple(load_rgb(encode(transparent, transparency=0))[0, 0]) == NEUTRAL_GREY


def test_cmyk_jpeg_and_tiff():
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))  # pure red in CMYK
    for fmt in ("JPEG", "TIFF"):
        out = load_rgb(encode(cmyk, fmt))
        assert np.abs(out[10, 10].astype(int) - [255, 0, 0]).max() < 8, fmt


def test_sixteen_bit_grey_png_is_scaled_not_clipped():
    values = np.array([[0, 257, 32896, 65535]], np.uint16).repeat(16, 0).repeat(4, 1)
    ok, encoded = cv2.imencode(".png", values)
    assert ok
    out = load_rgb(encoded.tobytes())
    check_rgb(out, 16, 16)
    assert list(out[0, ::4, 0]) == [0, 1, 128, 255]


def test_sixteen_bit_rgb_png():
    values = np.zeros((16, 16, 3), np.uint16)
    values[..., 2] = 65535  # OpenCV is BGR: this is red
    values[..., 1] = 32896
    ok, encoded = cv2.imencode(".png", values)
    assert ok
    assert tuple(load_rgb(encoded.tobytes())[0, 0]) == (255, 128, 0)


def test_thirty_two_bit_integer_and_float_tiffs():
    integer = Image.fromarray(np.full((16, 16), 65535, np.int32))
    assert np.all(load_rgb(encode(integer, "TIFF")) == 255)
    unit_float = Image.fromarray(np.full((16, 16), 0.5, np.float32))
    assert np.all(load_rgb(encode(unit_float, "TIFF")) == 128)
    wide_float = Image.fromarray(np.full((16, 16), 300.0, np.float32))
    assert np.all(load_rgb(encode(wide_float, "TIFF")) == 255)


def test_webp_gif_bmp_and_animated_gif_first_frame():
    pixels = gradient()
    for fmt in ("WEBP", "BMP", "GIF"):
        check_rgb(load_rgb(encode(Image.fromarray(pixels), fmt)), 40, 24)
    frames = [Image.new("RGB", (20, 20), (255, 0, 0)), Image.new("RGB", (20, 20), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert tuple(load_rgb(buffer.getvalue())[0, 0]) == (255, 0, 0)


def test_exif_orientation_is_applied():
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = load_rgb(encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    check_rgb(out, 20, 40)  # portrait now
    assert out[2, 10, 0] > 200 and out[-3, 10, 0] < 60  # the red half is now on top


# ------------------------------------------------------------------------------------------
# Refusals


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_declaring(30000, 30000)
    assert len(bomb) < 5_000  # a small file...
    with pytest.raises(ImageError, match="decompression bomb"):
        load_rgb(bomb)  # ...that would be 900 megapixels: refused without allocating them
    with pytest.raises(ImageError, match=r"8000x8000 is 64 megapixels, more than the 40 megapixel limit"):
        load_rgb(png_declaring(8000, 8000))
    with pytest.raises(ImageError, match="megapixel limit"):
        load_rgb(encode(Image.new("RGB", (100, 100))), max_pixels=5000)


def test_global_pillow_limit_is_left_alone():
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError):
        load_rgb(png_declaring(30000, 30000))
    assert Image.MAX_IMAGE_PIXELS == before


@pytest.mark.parametrize("size", [(1, 1), (15, 200), (200, 15)])
def test_tiny_images_are_refused_with_the_rule(size):
    with pytest.raises(ImageError, match=f"at least {MIN_SIDE} pixels"):
        load_rgb(encode(Image.new("RGB", size)))


def test_smallest_allowed_image():
    check_rgb(load_rgb(encode(Image.new("RGB", (MIN_SIDE, MIN_SIDE)))), MIN_SIDE, MIN_SIDE)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(fmt):
    data = encode(Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)), fmt)
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_rgb(data[: len(data) // 2])


@pytest.mark.parametrize("data", [
    b"hello, this is text", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
    b"<html><script>alert(1)</script></html>", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
    b"\x89PNG\r\n\x1a\n",  # a PNG signature and nothing else
])
def test_non_images_are_refused(data):
    with pytest.raises(ImageError, match="not a recognised image|truncated or corrupt"):
        load_rgb(data)


def test_empty_missing_and_oversized_files(tmp_path: Path):
    with pytest.raises(ImageError, match="empty"):
        load_rgb(b"")
    with pytest.raises(ImageError, match="nothere.png: cannot read"):
        load_rgb(tmp_path / "nothere.png")
    big = tmp_path / "big.png"
    big.write_bytes(encode(Image.fromarray(gradient(400, 400))))
    with pytest.raises(ImageError, match="big.png: file is .* MiB, more than"):
        load_rgb(big, max_bytes=1000)
    with pytest.raises(ImageError, match="more than"):
        load_rgb(big.read_bytes(), max_bytes=1000)
    assert issubclass(ImageError, ValueError)


# ------------------------------------------------------------------------------------------
# Fitting


def test_fit_cover_fills_and_crops_centred():
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, 140:160] = 255  # a white stripe in the middle
    out = fit_image(image, 64, 48, "cover")
    check_rgb(out, 64, 48)
    assert out[:, 30:34].min() > 100 and out[:, :20].max() == 0


def test_fit_letterbox_keeps_everything_with_bars():
    image = np.full((100, 50, 3), 200, np.uint8)
    out = fit_image(image, 80, 40, "letterbox")
    check_rgb(out, 80, 40)
    assert out[:, :25].max() == 0 and out[:, -25:].max() == 0
    assert out[:, 32:48].min() == 200


def test_fit_refuses_bad_mode_or_size():
    with pytest.raises(ImageError, match="cover, letterbox"):
        fit_image(gradient(), 10, 10, "stretch")
    with pytest.raises(ImageError, match="positive"):
        fit_image(gradient(), 0, 10)
