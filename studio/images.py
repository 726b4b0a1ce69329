"""Decoding user images safely into RGB uint8 arrays, and fitting them to a frame size.

Every image a user gives us (uploads, keyframes in a shared project folder) passes through
:func:`load_rgb`, so one place decides what is accepted:

- only ordinary raster formats (PNG, JPEG, WebP, GIF, BMP, TIFF, PPM, QOI, AVIF): no EPS (that
  would run Ghostscript), no vector or document formats;
- the file size is checked before reading and the pixel count from the header before decoding,
  so a decompression bomb (a few KB declaring 30000 x 30000 pixels) is refused without
  allocating it. Pillow's own ``Image.MAX_IMAGE_PIXELS`` is module-global, so it is left alone;
- a keyframe smaller than :data:`MIN_SIDE` pixels on a side is refused: it would be upscaled into
  a blur, and a 1x1 "image" is almost always a tracking pixel or a broken export;
- every mode becomes RGB: alpha is composited over ``background`` (neutral grey by default, so
  black line art and white text both stay visible), 16-bit and 32-bit integer images are scaled
  from 0..65535, float images from 0..1 (or clipped to 0..255 if they exceed 1), CMYK and
  palette images are converted by Pillow;
- EXIF orientation is applied, so a phone photo shows the way it was taken;
- truncated, corrupt or non-image files raise :class:`ImageError` naming the problem.

Memory (an upload must cost what it weighs, not what it declares): the header's size and mode
are checked before decoding; a JPEG larger than ``max_side`` is decoded straight at 1/2, 1/4 or
1/8 scale; every other format is decoded once (at most MAX_PIXELS x 4 bytes, 160 MB) and then
converted to RGB in bands of rows, each band box-averaged down to at most ``max_side`` on its long
side, so no full-size float or RGB copy ever exists. A 6000x6600 RGBA PNG of 161 KB costs the
process about +230 MB at peak (it cost +2.4 GB before). How many decode at once is bounded by a
:class:`DecodeLimiter` that the server creates and passes in (no module-level state).
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import threading
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from studio.common import check_fit

MIN_SIDE = 16
"""Smallest accepted width or height in pixels (the board's own minimum frame size)."""
MAX_PIXELS = 40_000_000
MAX_BYTES = 50 * 1024 * 1024
ALLOWED_FORMATS: tuple[str, ...] = (
    "PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "DIB", "TIFF", "PPM", "QOI", "AVIF",
)
"""Formats Pillow may use to open a user's file; anything else is refused as not an image."""
NEUTRAL_GREY: tuple[int, int, int] = (128, 128, 128)
MAX_SIDE = 4096
"""Longest side kept by default: the largest frame a board may have (board.MAX_SIZE). Larger
images are reduced by a whole factor while decoding, so the result is MAX_SIDE/2..MAX_SIDE."""
BAND_PIXELS = 1_000_000
"""Pixels converted to RGB at a time (a band of rows): bounds the float working memory."""
DECODE_BUDGET_BYTES = 512 * 1024 * 1024
"""Default memory a DecodeLimiter lets decodes use together (about three of the largest at once)."""
DECODE_WAIT_SECONDS = 120.0
MODE_BYTES: dict[str, int] = {
    "1": 1, "L": 1, "P": 1, "LA": 4, "La": 4, "PA": 4, "RGB": 4, "RGBA": 4, "RGBa": 4, "RGBX": 4,
    "CMYK": 4, "YCbCr": 4, "LAB": 4, "HSV": 4, "I": 4, "F": 4,
    "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2,
}
"""Bytes per pixel Pillow allocates for each mode it may decode to; any other mode is refused
from the header, before decoding."""


class ImageError(ValueError):
    """An image cannot be used; the message names the file and the problem."""


class DecodeLimiter:
    """Lets heavy decodes run only while their estimated memory fits in ``budget_bytes``.

    Why: uploads arrive on many handler threads at once; without a bound, sixteen large PNGs
    decode together. One limiter per server (created by it and passed to :func:`load_rgb`), so
    two apps in one process never share one. A decode larger than the whole budget waits until it
    can run alone; one that waits more than ``wait_seconds`` is refused with an ImageError.
    """

    def __init__(self, budget_bytes: int = DECODE_BUDGET_BYTES, wait_seconds: float = DECODE_WAIT_SECONDS) -> None:
        if budget_bytes < 1:
            raise ValueError(f"budget_bytes must be positive, got {budget_bytes}")
        self.budget_bytes, self.wait_seconds = budget_bytes, wait_seconds
        self._in_use = 0
        self._running = 0
        self._peak_running = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, cost: int, what: str = "image") -> Iterator[None]:
        """Hold ``cost`` bytes of the budget for the block (capped at the whole budget)."""
        cost = max(1, min(int(cost), self.budget_bytes))
        with self._changed:
            if not self._changed.wait_for(lambda: self._in_use + cost <= self.budget_bytes, self.wait_seconds):
                raise ImageError(f"{what}: the server is busy decoding other images "
                                 f"(waited {self.wait_seconds:.0f} s); try again in a moment")
            self._in_use += cost
            self._running += 1
            self._peak_running = max(self._peak_running, self._running)
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= cost
                self._running -= 1
                self._changed.notify_all()

    @property
    def peak_running(self) -> int:
        """Most decodes that ever ran at once (for tests and the status line)."""
        with self._changed:
            return self._peak_running


def _read_bytes(source: Path | bytes, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = "image"
    else:
        path = Path(source)
        name = path.name
        try:
            size = path.stat().st_size
        except OSError as error:
            raise ImageError(f"{name}: cannot read the file ({error.strerror or error})") from None
        if size > max_bytes:
            raise ImageError(f"{name}: file is {size / 2**20:.1f} MiB, more than the {max_bytes / 2**20:.0f} MiB limit")
        try:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as error:
            raise ImageError(f"{name}: cannot read the file ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise ImageError(f"{name}: file is {len(data) / 2**20:.1f} MiB, more than the {max_bytes / 2**20:.0f} MiB limit")
    if not data:
        raise ImageError(f"{name}: the file is empty")
    return data, name


def _allowed_formats() -> list[str]:
    Image.init()  # Pillow's own lazy plugin registration; idempotent
    return [name for name in ALLOWED_FORMATS if name in Image.OPEN]


def _to_rgb(image: Image.Image, background: tuple[int, int, int], name: str,
            float_to_255: bool | None = None) -> np.ndarray:
    """Any Pillow mode -> contiguous uint8 (H, W, 3). For a band of a float image, the caller
    says whether the whole image is in 0..1 (``float_to_255``), so every band scales alike."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.float64)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
        if float_to_255 if float_to_255 is not None else values.max(initial=0.0) <= 1.0:
            values = values * 255.0
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    try:
        if has_alpha:  # exact integer "over": c*a + bg*(255-a) <= 255*255 fits in uint16
            rgba = np.asarray(image.convert("RGBA"))
            alpha = rgba[:, :, 3:4].astype(np.uint16)
            rgb = rgba[:, :, :3] * alpha
            rgb += np.asarray(background, dtype=np.uint16) * (255 - alpha)
            rgb += 127
            rgb //= 255
            return np.ascontiguousarray(rgb.astype(np.uint8))
        return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    except ValueError as error:
        raise ImageError(f"{name}: unsupported image mode {mode!r} ({error})") from None


def load_rgb(
    source: Path | bytes,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    background: tuple[int, int, int] = NEUTRAL_GREY,
    *,
    max_side: int | None = MAX_SIDE,
    limiter: DecodeLimiter | None = None,
    min_side: int = MIN_SIDE,
) -> np.ndarray:
    """Decode an image file or bytes to RGB uint8 (H, W, 3), refusing anything unsafe or unusable.

    Larger than ``max_side`` on its long side: reduced by a whole factor while decoding (None:
    full size). ``limiter``: the server's bound on decodes running at once.
    """
    data, name = _read_bytes(source, max_bytes)
    try:
        with Image.open(io.BytesIO(data), formats=_allowed_formats()) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, more than the "
                    f"{max_pixels / 1e6:.0f} megapixel limit (refused before decoding: possible decompression bomb)"
                )
            if min(width, height) < min_side:
                raise ImageError(f"{name}: {width}x{height} is too small; keyframes need at least {min_side} pixels on each side")
            if image.mode not in MODE_BYTES:
                raise ImageError(f"{name}: unsupported image mode {image.mode!r} (refused before decoding)")
            image.seek(0)  # first frame of an animation
            factor = _reduction(width, height, max_side)
            if factor > 1 and image.format in ("JPEG", "MPO"):
                image.draft(None, (math.ceil(width / factor), math.ceil(height / factor)))  # DCT scaling
                factor = _reduction(*image.size, max_side)
            cost = decode_cost(image.size[0], image.size[1], image.mode, factor)
            with limiter.reserve(cost, name) if limiter is not None else contextlib.nullcontext():
                image.load()
                pixels = _bands_to_rgb(image, factor, background, name)
            return _orient(pixels, image)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageError(
            f"{name}: declares more pixels than the {max_pixels / 1e6:.0f} megapixel limit "
            f"(refused before decoding: possible decompression bomb; {error})"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name}: not a recognised image; use PNG, JPEG, WebP, GIF, BMP or TIFF"
        ) from None
    except (OSError, SyntaxError, EOFError, ValueError, IndexError, struct.error) as error:
        raise ImageError(f"{name}: truncated or corrupt image ({error})") from None


def load_rgba(source: Path | bytes, *, max_side: int | None = MAX_SIDE,
              limiter: DecodeLimiter | None = None, min_side: int = MIN_SIDE) -> np.ndarray:
    """Decode an image keeping its transparency: straight RGBA uint8 (H, W, 4), for the layers of
    a drawn panel. Every check and bound of :func:`load_rgb` applies (it does the decoding): the
    picture over black is the premultiplied colour and over white differs from it by exactly
    ``255 - alpha``, so two composites give the alpha back without a second decoder."""
    data, _ = _read_bytes(source, MAX_BYTES)
    options = {"max_side": max_side, "limiter": limiter, "min_side": min_side}
    over_black = load_rgb(data, background=(0, 0, 0), **options).astype(np.int32)
    over_white = load_rgb(data, background=(255, 255, 255), **options).astype(np.int32)
    alpha = np.clip(255 - (over_white - over_black).max(axis=2), 0, 255)
    rgb = np.where(alpha[..., None] > 0, (over_black * 255 + alpha[..., None] // 2) // np.maximum(alpha[..., None], 1), 0)
    return np.ascontiguousarray(np.dstack([np.clip(rgb, 0, 255), alpha]).astype(np.uint8))


def decode_cost(width: int, height: int, mode: str, factor: int = 1) -> int:
    """Bytes a decode holds at its peak: Pillow's full image, one band's float work, the result."""
    band = min(width * height, max(BAND_PIXELS, width * factor)) * 48  # RGBA float32, a few copies
    result = (width // factor) * (height // factor) * 3 * 2  # the RGB result and its oriented copy
    return width * height * MODE_BYTES.get(mode, 4) + band + result


def _reduction(width: int, height: int, max_side: int | None) -> int:
    """The whole factor that brings the long side to at most ``max_side`` (never a short side
    below MIN_SIDE)."""
    if max_side is None or max(width, height) <= max_side:
        return 1
    return max(1, min(math.ceil(max(width, height) / max_side), min(width, height) // MIN_SIDE))


def _bands_to_rgb(image: Image.Image, factor: int, background: tuple[int, int, int], name: str) -> np.ndarray:
    """The loaded image as RGB, reduced ``factor`` times by box averaging, one band of rows at a
    time, so the float copies of compositing and scaling never exist at full size."""
    width, height = image.size
    float_to_255 = None
    if image.mode == "F":
        low, high = image.getextrema()
        float_to_255 = not (isinstance(high, float) and math.isnan(high)) and high <= 1.0
    out_w, out_h = width // factor, height // factor
    if factor == 1 and width * height <= BAND_PIXELS:
        return _to_rgb(image, background, name, float_to_255)
    result = np.empty((out_h, out_w, 3), np.uint8)
    rows = max(1, BAND_PIXELS // (width * factor)) * factor
    for top in range(0, out_h * factor, rows):
        bottom = min(top + rows, out_h * factor)
        band = _to_rgb(image.crop((0, top, out_w * factor, bottom)), background, name, float_to_255)
        if factor > 1:  # whole-factor INTER_AREA is the box average of factor x factor blocks
            band = cv2.resize(band, (out_w, (bottom - top) // factor), interpolation=cv2.INTER_AREA)
        result[top // factor:bottom // factor] = band
    return result


def _orient(pixels: np.ndarray, image: Image.Image) -> np.ndarray:
    """Apply the EXIF orientation to the (already reduced) pixels, as ImageOps.exif_transpose
    would to the full image, without a full-size copy."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, struct.error):
        orientation = 1
    transposed = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return np.ascontiguousarray(transposed(pixels) if transposed is not None else pixels)


def fit_image(
    image: np.ndarray,
    width: int,
    height: int,
    mode: str = "cover",
    background: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Scale an RGB image to exactly ``width`` x ``height``, centred.

    ``cover`` fills the frame and crops the overflow; ``letterbox`` keeps the whole image and pads
    with ``background`` bars. Downscaling uses area averaging (no aliasing), upscaling Lanczos.
    """
    check_fit(mode, ImageError, "fit mode")
    if width < 1 or height < 1:
        raise ImageError(f"target size must be positive, got {width}x{height}")
    src_h, src_w = image.shape[:2]
    ratio = (max if mode == "cover" else min)(width / src_w, height / src_h)
    if mode == "cover":
        scaled_w, scaled_h = max(width, round(src_w * ratio)), max(height, round(src_h * ratio))
    else:
        scaled_w, scaled_h = min(width, max(1, round(src_w * ratio))), min(height, max(1, round(src_h * ratio)))
    interpolation = cv2.INTER_AREA if ratio < 1 else cv2.INTER_LANCZOS4
    scaled = cv2.resize(image, (scaled_w, scaled_h), interpolation=interpolation)
    if mode == "cover":
        x0, y0 = (scaled_w - width) // 2, (scaled_h - height) // 2
        return np.ascontiguousarray(scaled[y0:y0 + height, x0:x0 + width])
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = np.asarray(background, dtype=np.uint8)
    x0, y0 = (width - scaled_w) // 2, (height - scaled_h) // 2
    canvas[y0:y0 + scaled_h, x0:x0 + scaled_w] = scaled
    return canvas
