"""Uploads cost what they weigh (issue 13, item 5): bounded decode memory, a few decodes at once.

The peak-memory test runs each measurement in a fresh child process (ru_maxrss is a high-water
mark, so it cannot be reset in this one) and compares with a child that imports the same modules
and decodes nothing.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import studio.images as images
from studio.images import DecodeLimiter, ImageError, decode_cost, load_rgb

CHILD = r"""
import resource, sys, tempfile
from pathlib import Path
import numpy, PIL.Image, studio.images
from studio.storage import Project
data = Path(sys.argv[1]).read_bytes()
project = Project.create(Path(tempfile.mkdtemp()) / "p")
if sys.argv[2] == "import":
    relative = project.import_keyframe(data)
    with PIL.Image.open(project.resolve(relative)) as stored:
        print("size", *stored.size)
print("peak_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def big_rgba_png(path: Path, width: int = 6000, height: int = 6600) -> Path:
    """A 6000x6600 RGBA PNG of ~160 KB, written row by row (this process never holds its pixels)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    plain = b"\x00" + bytes([200, 40, 40, 128]) * width
    striped = b"\x00" + bytes([40, 200, 40, 255]) * (width // 2) + bytes([0, 0, 0, 0]) * (width - width // 2)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(striped if 2000 <= row < 3000 else plain) for row in range(height))
    body += packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def child_peak_mib(png: Path, what: str) -> tuple[float, str]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(png), what], capture_output=True, text=True,
                          timeout=300, check=True)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    return int(lines["peak_kib"]) / 1024, lines.get("size", "")


@pytest.mark.slow
def test_a_6000x6600_rgba_png_upload_adds_well_under_500_mb(tmp_path: Path) -> None:
    png = big_rgba_png(tmp_path / "big.png")
    assert png.stat().st_size < 300_000
    baseline, _ = child_peak_mib(png, "nothing")
    peak, size = child_peak_mib(png, "import")
    increase = peak - baseline
    print(f"peak increase for one 6000x6600 RGBA upload: {increase:.0f} MiB (was about 2400 before)")
    assert increase < 350, f"decoding added {increase:.0f} MiB"
    assert size == "3000 3300"  # reduced by a whole factor to fit MAX_SIDE while decoding


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def pattern(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([(x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256, (x * y) % 256]).astype(np.uint8)


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "LA", "L", "P", "PT", "I;16", "F", "CMYK"])
def test_banded_decoding_gives_the_same_pixels(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rgba = Image.fromarray(pattern(70, 45))
    if mode == "PT":
        image = rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
        data = encode(image, transparency=3)
    elif mode == "I;16":
        data = encode(Image.fromarray((pattern(70, 45)[..., 0].astype(np.uint16) * 257)), "PNG")
    elif mode == "F":
        data = encode(Image.fromarray(pattern(70, 45)[..., 0].astype(np.float32) / 300.0), "TIFF")
    elif mode == "CMYK":
        data = encode(rgba.convert("CMYK"), "TIFF")
    else:
        data = encode(rgba.convert(mode), "PNG")
    whole = load_rgb(data)
    monkeypatch.setattr(images, "BAND_PIXELS", 70 * 4)  # bands of 4 rows
    assert np.array_equal(load_rgb(data), whole)


def test_large_images_are_reduced_by_a_whole_factor_while_decoding() -> None:
    pixels = pattern(400, 180)
    data = encode(Image.fromarray(pixels))
    full = load_rgb(data, max_side=None)
    reduced = load_rgb(data, max_side=128)  # ceil(400 / 128) = 4
    assert reduced.shape == (45, 100, 3)
    expected = cv2.resize(full, (100, 45), interpolation=cv2.INTER_AREA)
    assert np.abs(reduced.astype(int) - expected).max() <= 1
    assert load_rgb(encode(Image.new("RGB", (4000, 20))), max_side=100).shape[0] >= 16  # short side kept usable


def test_a_large_jpeg_is_decoded_at_a_smaller_scale() -> None:
    data = encode(Image.fromarray(pattern(1600, 1200)[..., :3]), "JPEG", quality=90)
    out = load_rgb(data, max_side=400)
    assert out.shape == (300, 400, 3)


def test_exif_orientation_survives_reduction() -> None:
    pixels = np.zeros((200, 400, 3), np.uint8)
    pixels[:, :200] = (255, 0, 0)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6
    out = load_rgb(encode(image, "JPEG", exif=exif.tobytes(), quality=95), max_side=100)
    assert out.shape[0] > out.shape[1]  # portrait
    assert out[2, out.shape[1] // 2, 0] > 200 and out[-3, out.shape[1] // 2, 0] < 60



def test_the_limiter_bounds_decodes_running_at_once() -> None:
    data = encode(Image.fromarray(pattern(300, 200)))
    cost = decode_cost(300, 200, "RGBA")
    limiter = DecodeLimiter(budget_bytes=2 * cost)
    results: list[tuple[int, ...]] = []
    errors: list[Exception] = []

    def upload() -> None:
        try:
            results.append(load_rgb(data, limiter=limiter).shape)
        except Exception as error:  # noqa: BLE001 - collected for the assert
            errors.append(error)

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and results == [(200, 300, 3)] * 8
    assert 1 <= limiter.peak_running <= 2


def test_a_decode_that_waits_too_long_is_refused_clearly() -> None:
    limiter = DecodeLimiter(budget_bytes=1000, wait_seconds=0.1)
    with limiter.reserve(1000):
        with pytest.raises(ImageError, match="busy decoding"):
            load_rgb(encode(Image.new("RGB", (20, 20))), limiter=limiter)
    assert load_rgb(encode(Image.new("RGB", (20, 20))), limiter=limiter).shape == (20, 20, 3)
