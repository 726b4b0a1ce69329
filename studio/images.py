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
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 16
"""Smallest accepted width or height in pixels (the board's own minimum frame size)."""
MAX_PIXELS = 40_000_000
MAX_BYTES = 50 * 1024 * 1024
ALLOWED_FORMATS: tuple[str, ...] = (
    "PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "DIB", "TIFF", "PPM", "QOI", "AVIF",
)
"""Formats Pillow may use to open a user's file; anything else is refused as not an image."""
NEUTRAL_GREY: tuple[int, int, int] = (128, 128, 128)
FIT_MODES: tuple[str, ...] = ("cover", "letterbox")


class ImageError(ValueError):
    """An image cannot be used; the message names the file and the problem."""


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


def _to_rgb(image: Image.Image, background: tuple[int, int, int], name: str) -> np.ndarray:
    """Any Pillow mode -> contiguous uint8 (H, W, 3)."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.float64)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
        if values.max(initial=0.0) <= 1.0:
            values = values * 255.0
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    try:
        if has_alpha:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
            alpha = rgba[:, :, 3:4] / 255.0
            back = np.asarray(background, dtype=np.float32)
            rgb = rgba[:, :, :3] * alpha + back * (1.0 - alpha)
            return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
        return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    except ValueError as error:
        raise ImageError(f"{name}: unsupported image mode {mode!r} ({error})") from None


def load_rgb(
    source: Path | bytes,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
    background: tuple[int, int, int] = NEUTRAL_GREY,
) -> np.ndarray:
    """Decode an image file or bytes to RGB uint8 (H, W, 3), refusing anything unsafe or unusable."""
    data, name = _read_bytes(source, max_bytes)
    try:
        with Image.open(io.BytesIO(data), formats=_allowed_formats()) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, more than the "
                    f"{max_pixels / 1e6:.0f} megapixel limit (refused before decoding: possible decompression bomb)"
                )
            if min(width, height) < MIN_SIDE:
                raise ImageError(f"{name}: {width}x{height} is too small; keyframes need at least {MIN_SIDE} pixels on each side")
            image.seek(0)  # first frame of an animation
            image.load()
            upright = ImageOps.exif_transpose(image)
            return _to_rgb(upright, background, name)
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
    if mode not in FIT_MODES:
        raise ImageError(f"fit mode must be one of {', '.join(FIT_MODES)}, got {mode!r}")
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
