"""Pixels of the cut: frame recipes (studio.timeline) drawn as RGB frames at the board size.

A take's frame is read (one reader per take, kept open), fitted to the board size
(studio.images.fit_image: cover or letterbox), mixed for dissolves, dips and fades, and burn-ins
are drawn on top. A shot without a usable take shows a flat slate card, and a slate the animatic
filmed shows its frames; both get the shot's current number from studio.slate, and burn-ins in
the top left start below it.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
from PIL import Image, ImageDraw

from studio.images import fit_image
from studio.media import FrameReader, MediaError
from studio.slate import SlateText, draw_slate, font, number_sprite, paste, wrap
from studio.timeline import ExportCancelled, FrameRecipe, Segment, Style, Timeline, TimelineError


def slate_card(timeline: Timeline, segment: Segment, width: int | None = None, height: int | None = None) -> np.ndarray:
    """The flat card for a shot without a usable take (without its number): title, length,
    camera move, prompt, and why it is a slate."""
    seconds = timeline.fps.frames_to_seconds(segment.duration)
    text = SlateText(
        title=segment.shot.title, camera=segment.shot.camera_label(), prompt=segment.shot.prompt,
        detail=f"{segment.duration} frames - {seconds:.2f} s",
        footer=f"SLATE - {(segment.slate_reason or 'no take').upper()}",
    )
    return draw_slate(text, width or timeline.width, height or timeline.height)


class Compositor:
    """Turns frame recipes into RGB frames at the board size. Keeps one reader per take open;
    use as a context manager so every file handle is closed."""

    def __init__(self, timeline: Timeline, style: Style = Style()) -> None:
        self.timeline = timeline
        self.style = style
        self._readers: dict[int, FrameReader] = {}
        self._slates: dict[int, np.ndarray] = {}
        self._numbers: dict[int, tuple[np.ndarray, int, int]] = {}
        self._sprites: dict[tuple[str, tuple[int, int, int]], np.ndarray] = {}
        self._font_size = max(9, round(timeline.height / 22))
        self._loaded_font: object | None = None

    def __enter__(self) -> "Compositor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def _number(self, segment: Segment) -> tuple[np.ndarray, int, int]:
        if segment.index not in self._numbers:
            self._numbers[segment.index] = number_sprite(segment.number, self.timeline.width, self.timeline.height)
        return self._numbers[segment.index]

    def source(self, segment_index: int, frame: int) -> np.ndarray:
        """Frame ``frame`` of a segment's take (fitted), or its slate card; a slate shows the
        shot's current number."""
        segment = self.timeline.segments[segment_index]
        if segment.is_slate or segment.path is None:
            if segment_index not in self._slates:
                card = slate_card(self.timeline, segment)
                paste(card, *self._number(segment))
                self._slates[segment_index] = card
            return self._slates[segment_index]
        reader = self._readers.get(segment_index)
        if reader is None:
            reader = self._readers[segment_index] = FrameReader(segment.path, self.timeline.fps)
        try:
            image = reader.frame(frame)
        except MediaError as error:
            raise TimelineError(f"{segment.label('message')}: {error}") from None
        if (image.shape[1], image.shape[0]) != (self.timeline.width, self.timeline.height):
            image = fit_image(image, self.timeline.width, self.timeline.height, self.style.fit)
        if segment.slate_take:
            image = image.copy()
            paste(image, *self._number(segment))
        return image

    def draw(self, recipe: FrameRecipe) -> np.ndarray:
        """One frame of the cut: its sources mixed by weight, faded, with burn-ins on top."""
        if recipe.plain:
            image = self.source(recipe.layers[0].segment, recipe.layers[0].frame)
        else:
            accumulator = np.zeros((self.timeline.height, self.timeline.width, 3), np.float32)
            for layer in recipe.layers:
                picture = self.source(layer.segment, layer.frame).astype(np.float32)
                if layer.matte_amount:
                    picture = picture * (1.0 - layer.matte_amount) + np.float32(layer.matte_amount) * np.array(layer.matte, np.float32)
                accumulator += picture * np.float32(layer.weight)
            if recipe.fade:
                accumulator *= np.float32(1.0 - recipe.fade)
            image = np.clip(accumulator + 0.5, 0, 255).astype(np.uint8)
        if recipe.texts:
            numbered = [self._number(self.timeline.segments[layer.segment]) for layer in recipe.layers
                        if self.timeline.segments[layer.segment].shows_number]
            below = max((y + sprite.shape[0] for sprite, _, y in numbered), default=0)
            image = self._burn(image, dict(recipe.texts), below)
        return image

    def frames(self, recipes: Iterable[FrameRecipe], cancel: Callable[[], bool] | None = None) -> Iterable[np.ndarray]:
        for recipe in recipes:
            if cancel is not None and cancel():
                raise ExportCancelled("export cancelled")
            yield self.draw(recipe)

    def still(self, segment_index: int) -> np.ndarray:
        """The middle frame of a shot as edited (for storyboards and contact sheets)."""
        segment = self.timeline.segments[segment_index]
        return self.source(segment_index, segment.source_in + segment.duration // 2).copy()

    @property
    def _font(self) -> object:
        if self._loaded_font is None:  # loaded on first use: copy-only exports never draw text
            self._loaded_font = font(self._font_size)
        return self._loaded_font

    def _sprite(self, text: str, fill: tuple[int, int, int]) -> np.ndarray:
        """White-on-black-outline text as RGBA, one line high; cached per compositor (per export)."""
        key = (text, fill)
        sprite = self._sprites.get(key)
        if sprite is None:
            face, stroke = self._font, max(1, self._font_size // 8)
            ascent, descent = face.getmetrics()  # type: ignore[attr-defined]
            width = max(1, int(math.ceil(face.getlength(text))) + 2 * stroke)  # type: ignore[attr-defined]
            picture = Image.new("RGBA", (width, ascent + descent + 2 * stroke), (0, 0, 0, 0))
            ImageDraw.Draw(picture).text((stroke, stroke), text, font=face, fill=fill + (255,),  # type: ignore[arg-type]
                                         stroke_width=stroke, stroke_fill=(0, 0, 0, 255))
            sprite = np.asarray(picture, dtype=np.uint8)
            if len(self._sprites) > 4096:  # timecodes are composed per character, so this stays small
                self._sprites.clear()
            self._sprites[key] = sprite
        return sprite

    def _text(self, text: str, fill: tuple[int, int, int], per_character: bool = False) -> np.ndarray:
        if not per_character:
            return self._sprite(text, fill)
        stroke = max(1, self._font_size // 8)  # glyphs sit at their advance; outlines may touch
        parts = [self._sprite(character, fill) for character in text]
        return np.concatenate([part[:, stroke:part.shape[1] - stroke] if part.shape[1] > 2 * stroke else part for part in parts], axis=1)

    def _burn(self, image: np.ndarray, texts: dict[str, str], top_left: int = 0) -> np.ndarray:
        """Draw burn-ins; the top-left ones start at ``top_left`` (below a slate's number)."""
        image = image.copy()
        height, width = image.shape[:2]
        pad = max(2, self._font_size // 3)
        white, yellow = (255, 255, 255), (255, 240, 120)
        y = max(pad, top_left + pad // 2)
        for slot in ("shot", "take"):
            if slot in texts:
                sprite = self._text(texts[slot], white)
                paste(image, sprite, pad, y)
                y += sprite.shape[0]
        y = pad
        for slot in ("camera", "watermark"):
            if slot in texts:
                sprite = self._text(texts[slot], white)
                paste(image, sprite, width - pad - sprite.shape[1], y)
                y += sprite.shape[0]
        if "shot_tc" in texts:
            sprite = self._text(texts["shot_tc"], white, per_character=True)
            paste(image, sprite, pad, height - pad - sprite.shape[0])
        if "tc" in texts:
            sprite = self._text(texts["tc"], white, per_character=True)
            paste(image, sprite, width - pad - sprite.shape[1], height - pad - sprite.shape[0])
        if "dialogue" in texts:
            measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
            lines = wrap(measure, texts["dialogue"], self._font, int(width * 0.8), 2)
            sprites = [self._text(line, yellow) for line in lines]
            y = height - pad - sum(s.shape[0] for s in sprites) - (sprites[0].shape[0] if sprites else 0)
            for sprite in sprites:
                paste(image, sprite, (width - sprite.shape[1]) // 2, y)
                y += sprite.shape[0]
        return image
