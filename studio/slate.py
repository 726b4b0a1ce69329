"""The slate: the card that stands for a shot without a picture, and the shot number on it.

One drawing wherever a slate appears: the animatic backend films it (textured, so a camera move
reads), the compositor shows it for a shot without a usable take (flat), and the storyboard and
contact sheet print those frames. The shot number is never part of the card: a take records only
that it is a slate (its sidecar's ``generation.source``), and :func:`number_sprite` draws
"SHOT N" from the shot's position at export time, so after a reorder or a duplicate every slate
shows its shot's current number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from studio.timeline import shot_label

SLATE_NUMBER_AT_EXPORT = "drawn at export"
"""What a slate take's metadata says under ``slate_number``: its frames carry no shot number."""
SLATE_COLOR = (38, 40, 48)
"""Background of a flat slate (a shot without a usable take)."""


@dataclass(frozen=True)
class SlateText:
    """What a slate says, besides its number."""

    title: str = ""
    camera: str = "static"
    prompt: str = ""
    detail: str = ""
    """A line under the camera move (e.g. "48 frames - 2.00 s")."""
    footer: str = ""
    """A line at the bottom of the frame (e.g. "SLATE - NO TAKE")."""


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def clip_text(draw: ImageDraw.ImageDraw, text: str, font: object, width: float, force: bool = False) -> str:
    """The text, cut with an ellipsis if it is wider than ``width`` (or always, with ``force``)."""
    if draw.textlength(text, font=font) <= width and not force:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text.rstrip(" .") + "..."


def wrap(draw: ImageDraw.ImageDraw, text: str, font: object, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap by measured width, paragraphs kept; long words and the last line are cut."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        start = len(lines)
        for word in paragraph.split():
            candidate = f"{lines[-1]} {word}" if len(lines) > start else word
            if len(lines) > start and draw.textlength(candidate, font=font) <= width:
                lines[-1] = candidate
            else:
                lines.append(clip_text(draw, word, font, width))
        if len(lines) == start:
            lines.append("")
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = clip_text(draw, lines[-1] + " ...", font, width, force=True)
    return lines


def _texture(width: int, height: int, seed: int) -> Image.Image:
    """Soft colour clouds, fine grain, a grid and rings round the centre: something for a camera
    move to be seen against (seeded, so a slate take is reproducible)."""
    rng = np.random.default_rng([seed, 0x534C4154])
    clouds = cv2.resize(rng.random((5, 8, 3)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    base = np.array([38, 46, 62], np.float32) + 55.0 * clouds
    grain = cv2.GaussianBlur(rng.normal(0.0, 14.0, (height, width)).astype(np.float32), (0, 0), max(1.0, height / 400))
    image = Image.fromarray(np.clip(base + grain[:, :, None], 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image, "RGBA")
    step, line = max(8, height // 8), max(1, height // 300)
    cx, cy = width // 2, height // 2
    for x in range(cx % step, width, step):
        draw.line([(x, 0), (x, height)], fill=(220, 230, 255, 70), width=line)
    for y in range(cy % step, height, step):
        draw.line([(0, y), (width, y)], fill=(220, 230, 255, 70), width=line)
    for radius in (step, 2 * step):
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=(255, 210, 120, 120), width=line * 2)
    return image


def draw_slate(text: SlateText, width: int, height: int, seed: int | None = None) -> np.ndarray:
    """The card (RGB uint8, H x W x 3), without its number: a panel in the middle (so it stays in
    frame under any camera move) with the title, camera move, detail line and prompt, and the
    footer at the bottom. ``seed``: a textured background for the animatic to film; None: flat."""
    image = Image.new("RGB", (width, height), SLATE_COLOR) if seed is None else _texture(width, height, seed)
    draw = ImageDraw.Draw(image, "RGBA")
    step = max(8, height // 8)
    panel = (int(width * 0.22), int(height * 0.24), int(width * 0.78), int(height * 0.76))
    draw.rounded_rectangle(panel, radius=step // 4, fill=(10, 12, 18, 170))
    margin = panel[0] + step // 4
    room_w = panel[2] - step // 4 - margin
    y = panel[1] + step // 5
    title_size, small_size = height // 22, height // 30
    if text.title.strip():
        title_font = font(title_size)
        draw.text((margin, y), clip_text(draw, text.title.strip(), title_font, room_w), font=title_font, fill=(255, 255, 255, 255))
        y += int(title_size * 1.4)
    small = font(small_size)
    for line in filter(None, (text.camera or "static", text.detail)):
        draw.text((margin, y), clip_text(draw, line, small, room_w), font=small, fill=(255, 210, 120, 255))
        y += int(small_size * 1.5)
    y += int(small_size * 0.3)
    line_height = int(small_size * 1.3)
    room = max(1, int((panel[3] - y) / max(1, line_height)))
    for line in wrap(draw, text.prompt or "(no prompt)", small, room_w, room):
        draw.text((margin, y), line, font=small, fill=(230, 235, 245, 255))
        y += line_height
    if text.footer:
        footer_font = font(height // 22)
        draw.text((max(4, width // 24), height - max(4, width // 24) - int(height // 22 * 1.3)), text.footer,
                  font=footer_font, fill=(255, 140, 90, 255))
    return np.asarray(image.convert("RGB")).copy()


def number_sprite(number: int | str, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """"SHOT N" as white-on-black-outline RGBA, and where it goes on a ``width`` x ``height``
    frame (top left): (sprite, x, y). Burn-ins start below ``y + sprite height``."""
    size = max(10, height // 9)
    margin = max(4, width // 24)
    face, stroke = font(size), max(1, size // 12)
    label = shot_label(number, form="heading")
    ascent, descent = face.getmetrics()
    picture = Image.new("RGBA", (int(math.ceil(face.getlength(label))) + 2 * stroke, ascent + descent + 2 * stroke), (0, 0, 0, 0))
    ImageDraw.Draw(picture).text((stroke, stroke), label, font=face, fill=(255, 255, 255, 255),
                                 stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
    return np.asarray(picture, dtype=np.uint8), margin, margin


def paste(image: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend an RGBA sprite onto an RGB image in place (clipped at the edges)."""
    height, width = image.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + sprite.shape[1]), min(height, y + sprite.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    part = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
    alpha = part[..., 3:4].astype(np.float32) / 255.0
    region = image[y0:y1, x0:x1].astype(np.float32)
    image[y0:y1, x0:x1] = (region * (1.0 - alpha) + part[..., :3] * alpha + 0.5).astype(np.uint8)


def with_number(image: np.ndarray, number: int | str) -> np.ndarray:
    """A copy of a slate frame with its shot's current number drawn on it."""
    stamped = np.array(image, dtype=np.uint8, copy=True)
    sprite, x, y = number_sprite(number, stamped.shape[1], stamped.shape[0])
    paste(stamped, sprite, x, y)
    return stamped
