"""The chosen takes laid end to end: one exact, frame-accurate description every export shares.

``build_timeline(board)`` turns the board alone into :class:`Segment` s (shot index, take or
slate, source in/out after trims, the transition into it, start frame). ``attach_media`` checks
each take file once (missing, corrupt, size, rate, IDR frames for stream copy) and, only when
asked, puts a slate in place of a bad take. ``frame_recipes`` says, for every timeline frame,
which source frames make it (with what weight, dip, fade and burn-in text), and
:class:`Renderer` turns a recipe into pixels. The MP4 exporter copies the frames whose recipe is
a plain source frame and renders the rest; the PDF, contact sheet and edit exports read the same
segments, so every format agrees on where each shot starts and how long it runs.

Transitions (board.TRANSITIONS): a cross-dissolve of L frames overlaps the two shots; a dip of L
frames happens inside their own frames, L // 2 at the end of the outgoing shot and the rest at
the start of the incoming one (a dip into the first shot is all at its start). Board fade in/out
are to and from black over the first/last frames of the whole timeline.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from studio.board import AudioTrack, Board, FrameRate, Shot, Take, Transition
from studio.media import FrameReader, MediaError, StreamInfo, probe_audio, probe_stream

BURN_INS: tuple[str, ...] = ("shot", "camera", "take", "timecode", "dialogue", "watermark")
"""Toggleable burn-ins: shot number and title, camera move, take id, shot and running timecode,
dialogue as a caption, and a watermark line (project title and date)."""
FIT_MODES: tuple[str, ...] = ("cover", "letterbox")
"""How a take of another size is conformed: scale to cover and crop, or to fit and pad black."""
DIP_COLORS = {"dip_to_black": (0, 0, 0), "dip_to_white": (255, 255, 255)}
SLATE_COLOR = (38, 40, 48)


class TimelineError(ValueError):
    """The board cannot be laid out or a take cannot be used; the message names the shot."""


class ExportCancelled(RuntimeError):
    """An export was cancelled through its cancel event; no output file was written."""


@dataclass(frozen=True)
class Segment:
    """One shot on the timeline (a take, or a slate card when it has none)."""

    index: int
    shot: Shot
    start: int
    """Timeline frame of its first frame (a cross-dissolve into it starts here)."""
    duration: int
    """Frames it occupies: the shot's edit duration."""
    source_in: int
    """Frame of the take shown first (the shot's trim_in)."""
    take: Take | None
    transition: Transition
    overlap_in: int = 0
    overlap_out: int = 0
    dip_in: int = 0
    dip_in_color: tuple[int, int, int] = (0, 0, 0)
    dip_out: int = 0
    dip_out_color: tuple[int, int, int] = (0, 0, 0)
    path: Path | None = None
    """Absolute take file, set by attach_media."""
    info: StreamInfo | None = None
    slate_reason: str = ""
    """Why a slate stands in ("no take", "take file missing"...); empty for a take."""

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def end(self) -> int:
        return self.start + self.duration

    @property
    def source_out(self) -> int:
        """Frame after the last one shown (exclusive)."""
        return self.source_in + self.duration

    @property
    def is_slate(self) -> bool:
        return self.take is None or bool(self.slate_reason)

    @property
    def label(self) -> str:
        title = self.shot.title.strip()
        return f"Shot {self.number}" + (f" - {title}" if title else "")

    @property
    def body(self) -> tuple[int, int]:
        """Timeline frames that belong to this shot alone (outside cross-dissolves)."""
        return self.start + self.overlap_in, self.end - self.overlap_out


@dataclass(frozen=True)
class Timeline:
    title: str
    fps: FrameRate
    width: int
    height: int
    segments: tuple[Segment, ...]
    total_frames: int
    fade_in: int = 0
    fade_out: int = 0
    audio: AudioTrack | None = None
    audio_path: Path | None = None
    """Absolute scratch track, set (and checked to hold audio) by attach_media."""
    warnings: tuple[str, ...] = ()


def _shot_name(index: int, shot: Shot) -> str:
    title = f" '{shot.title}'" if shot.title.strip() else ""
    return f"shot {index + 1}{title} ({shot.id})"


def build_timeline(board: Board) -> Timeline:
    """Lay the board out in frames. Raises TimelineError when transitions do not fit the shots."""
    if not board.shots:
        raise TimelineError("the board has no shots to export")
    starts = board.shot_start_frames()
    segments: list[Segment] = []
    for index, (shot, start) in enumerate(zip(board.shots, starts)):
        following = board.shots[index + 1].transition if index + 1 < len(board.shots) else Transition()
        dip_in = dip_out = 0
        color_in = color_out = (0, 0, 0)
        if shot.transition.kind in DIP_COLORS:
            color_in = DIP_COLORS[shot.transition.kind]
            dip_in = shot.transition.length if index == 0 else shot.transition.length - shot.transition.length // 2
        if following.kind in DIP_COLORS:
            color_out = DIP_COLORS[following.kind]
            dip_out = following.length // 2
        overlap_in, overlap_out = shot.transition.overlap, following.overlap
        used = overlap_in + overlap_out + dip_in + dip_out
        if used > shot.edit_duration:
            raise TimelineError(
                f"{_shot_name(index, shot)}: its transitions need {used} frames "
                f"(in: {shot.transition.kind} {shot.transition.length}, out: {following.kind} {following.length}) "
                f"but the shot is only {shot.edit_duration} frames after trims; shorten the transitions"
            )
        take = shot.chosen()
        segments.append(Segment(
            index=index, shot=shot, start=start, duration=shot.edit_duration, source_in=shot.trim_in,
            take=take, transition=shot.transition, overlap_in=overlap_in, overlap_out=overlap_out,
            dip_in=dip_in, dip_in_color=color_in, dip_out=dip_out, dip_out_color=color_out,
            slate_reason="" if take else "no take",
        ))
    total = segments[-1].end
    if total != board.total_frames:  # the one invariant everything else relies on
        raise TimelineError(f"timeline runs {total} frames but the board says {board.total_frames}")
    for name in ("fade_in", "fade_out"):
        if getattr(board, name) > total:
            raise TimelineError(f"board.{name}: {getattr(board, name)} frames is longer than the timeline ({total} frames)")
    if board.fade_in + board.fade_out > total:
        raise TimelineError(f"board fade in + fade out ({board.fade_in} + {board.fade_out} frames) is longer than the timeline ({total} frames)")
    return Timeline(
        title=board.title, fps=board.fps, width=board.width, height=board.height,
        segments=tuple(segments), total_frames=total, fade_in=board.fade_in,
        fade_out=board.fade_out, audio=board.audio,
    )


def attach_media(timeline: Timeline, resolve: Callable[[str], Path], use_slates: bool = False,
                 probe: Callable[[Path], StreamInfo] = probe_stream) -> Timeline:
    """Find and check every chosen take. A missing or unreadable one raises TimelineError naming
    the shot, unless ``use_slates``: then a slate stands in and a warning says so. ``probe``
    reads a take's stream (the export service passes a cached one)."""
    segments, warnings = [], list(timeline.warnings)
    for segment in timeline.segments:
        if segment.take is None:
            segments.append(segment)
            continue
        name = _shot_name(segment.index, segment.shot)
        problem, path, info = "", None, None
        try:
            path = resolve(segment.take.path)
            if not path.is_file():
                problem = f"its chosen take file {segment.take.path} is missing"
            else:
                info = probe(path)
                if info.frames == 0:
                    problem = f"its chosen take file {segment.take.path} has no frames"
        except MediaError as error:
            problem = f"its chosen take file {segment.take.path} is corrupt or not a video ({error})"
        except (ValueError, OSError) as error:  # a path refused by the project
            problem = f"its chosen take path {segment.take.path} cannot be used ({error})"
        if problem:
            if not use_slates:
                raise TimelineError(f"{name}: {problem}; re-render it, choose another take, or export with slates")
            warnings.append(f"{name}: {problem}; a slate is shown instead")
            segments.append(dataclasses.replace(segment, slate_reason="take unusable"))
            continue
        assert info is not None
        if info.frames * timeline.fps.fraction / info.fps.fraction < segment.source_out:
            warnings.append(f"{name}: the take has {info.frames} frames but the shot shows up to frame {segment.source_out}; its last frame is held")
        if (info.width, info.height) != (timeline.width, timeline.height) or info.fps != timeline.fps:
            warnings.append(f"{name}: take is {info.width}x{info.height} at {info.fps} fps; conformed to {timeline.width}x{timeline.height} at {timeline.fps} fps")
        segments.append(dataclasses.replace(segment, path=path, info=info))
    audio_path = None
    if timeline.audio is not None:
        try:
            audio_path = resolve(timeline.audio.path)
        except (ValueError, OSError) as error:
            raise TimelineError(f"board.audio: {timeline.audio.path} cannot be used ({error})") from None
        if not audio_path.is_file():
            raise TimelineError(f"board.audio: the scratch track {timeline.audio.path} is missing")
        try:
            probe_audio(audio_path)
        except MediaError as error:
            raise TimelineError(f"board.audio: {timeline.audio.path} is not a usable audio file ({error})") from None
    return dataclasses.replace(timeline, segments=tuple(segments), warnings=tuple(warnings), audio_path=audio_path)


# --------------------------------------------------------------------------------------------
# Frame recipes: what each timeline frame is made of


@dataclass(frozen=True)
class Layer:
    segment: int
    frame: int
    """Source frame index in the take (for a slate: its frame within the shot)."""
    weight: float = 1.0
    matte: tuple[int, int, int] = (0, 0, 0)
    matte_amount: float = 0.0
    """How much of the dip colour covers the frame (0 = none, 1 = all colour)."""


@dataclass(frozen=True)
class FrameRecipe:
    layers: tuple[Layer, ...]
    fade: float = 0.0
    """Amount of black from the board's fade in / fade out."""
    texts: tuple[tuple[str, str], ...] = ()
    """Burn-ins as (slot, text)."""

    @property
    def plain(self) -> bool:
        """Exactly one source frame, untouched: such frames can be stream-copied."""
        return len(self.layers) == 1 and self.layers[0].weight == 1.0 and not self.layers[0].matte_amount and not self.fade and not self.texts


@dataclass(frozen=True)
class Style:
    """How frames are drawn: burn-ins on, conform mode, watermark text."""

    burn_ins: frozenset[str] = frozenset()
    fit: str = "cover"
    watermark: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.burn_ins) - set(BURN_INS)
        if unknown:
            raise TimelineError(f"unknown burn-in {sorted(unknown)}; choose from {', '.join(BURN_INS)}")
        if self.fit not in FIT_MODES:
            raise TimelineError(f"unknown fit mode {self.fit!r}; choose from {', '.join(FIT_MODES)}")
        object.__setattr__(self, "burn_ins", frozenset(self.burn_ins))


def _texts(timeline: Timeline, segment: Segment, local: int, frame: int, style: Style) -> tuple[tuple[str, str], ...]:
    texts: list[tuple[str, str]] = []
    on = style.burn_ins
    if "shot" in on:
        texts.append(("shot", segment.label))
    if "camera" in on:
        texts.append(("camera", segment.shot.camera_label()))
    if "take" in on:
        texts.append(("take", f"take {segment.take.id}" if not segment.is_slate and segment.take else f"slate ({segment.slate_reason})"))
    if "timecode" in on:
        texts.append(("shot_tc", f"SH {timeline.fps.timecode(local)}"))
        texts.append(("tc", f"TC {timeline.fps.timecode(frame)}"))
    if "dialogue" in on and segment.shot.dialogue.strip():
        texts.append(("dialogue", segment.shot.dialogue.strip()))
    if "watermark" in on and style.watermark:
        texts.append(("watermark", style.watermark))
    return tuple(texts)


def _dip_amount(segment: Segment, local: int) -> tuple[tuple[int, int, int], float]:
    if segment.dip_in and local < segment.dip_in:
        return segment.dip_in_color, 1.0 - local / segment.dip_in
    tail = segment.duration - 1 - local
    if segment.dip_out and tail < segment.dip_out:
        return segment.dip_out_color, (segment.dip_out - tail) / (segment.dip_out + 1)
    return (0, 0, 0), 0.0


def frame_recipes(timeline: Timeline, style: Style = Style(), start: int = 0, stop: int | None = None) -> list[FrameRecipe]:
    """One recipe per timeline frame in ``start..stop-1``."""
    stop = timeline.total_frames if stop is None else stop
    recipes: list[FrameRecipe] = []
    segments = timeline.segments
    for position, owner in enumerate(segments):
        # frames owned by this segment: from its start up to the next segment's start
        until = segments[position + 1].start if position + 1 < len(segments) else timeline.total_frames
        previous = segments[position - 1] if position > 0 and owner.overlap_in else None
        for frame in range(max(start, owner.start), min(stop, until)):
            local = frame - owner.start
            color, amount = _dip_amount(owner, local)
            if previous is not None and local < owner.overlap_in:
                weight = round((local + 1) / (owner.overlap_in + 1), 6)
                out_local = frame - previous.start
                out_color, out_amount = _dip_amount(previous, out_local)
                layers: tuple[Layer, ...] = (
                    Layer(previous.index, previous.source_in + out_local, round(1.0 - weight, 6), out_color, round(out_amount, 6)),
                    Layer(owner.index, owner.source_in + local, weight, color, round(amount, 6)),
                )
            else:
                layers = (Layer(owner.index, owner.source_in + local, 1.0, color, round(amount, 6)),)
            fade = 0.0
            if timeline.fade_in and frame < timeline.fade_in:
                fade = 1.0 - frame / timeline.fade_in
            if timeline.fade_out and frame >= timeline.total_frames - timeline.fade_out:
                fade = max(fade, (frame - (timeline.total_frames - timeline.fade_out) + 1) / timeline.fade_out)
            texts = _texts(timeline, owner, local, frame, style) if style.burn_ins else ()
            recipes.append(FrameRecipe(layers, round(fade, 6), texts))
    return recipes


# --------------------------------------------------------------------------------------------
# Pixels


def conform(image: np.ndarray, width: int, height: int, fit: str = "cover") -> np.ndarray:
    """Scale a frame to the board size: cover (crop the overflow) or letterbox (pad black)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = max(width / w, height / h) if fit == "cover" else min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    if fit == "cover":
        x, y = (new_w - width) // 2, (new_h - height) // 2
        return np.ascontiguousarray(resized[y:y + height, x:x + width])
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    canvas[y:y + new_h, x:x + new_w] = resized
    return canvas


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words = paragraph.split()
        line = ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if draw.textlength(candidate, font=font) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = textwrap.shorten(lines[-1] + " ...", width=max(8, len(lines[-1])), placeholder=" ...")
    return lines


def slate_image(timeline: Timeline, segment: Segment, width: int | None = None, height: int | None = None) -> np.ndarray:
    """A card for a shot without a usable take: number, title, prompt, duration, and why."""
    width, height = width or timeline.width, height or timeline.height
    image = Image.new("RGB", (width, height), SLATE_COLOR)
    draw = ImageDraw.Draw(image)
    margin = max(4, width // 24)
    big = ImageFont.load_default(size=max(10, height // 9))
    small = ImageFont.load_default(size=max(8, height // 22))
    y = margin
    draw.text((margin, y), f"SHOT {segment.number}", font=big, fill=(255, 255, 255))
    y += int(height // 9 * 1.3)
    if segment.shot.title.strip():
        draw.text((margin, y), segment.shot.title.strip()[:80], font=small, fill=(230, 230, 230))
        y += int(height // 22 * 1.5)
    seconds = timeline.fps.frames_to_seconds(segment.duration)
    draw.text((margin, y), f"{segment.duration} frames - {seconds:.2f} s - {segment.shot.camera_label()}", font=small, fill=(200, 200, 120))
    y += int(height // 22 * 1.6)
    line_height = int(height // 22 * 1.3)
    room = max(1, (height - y - margin - line_height) // max(1, line_height))
    for line in _wrap(draw, segment.shot.prompt or "(no prompt)", small, width - 2 * margin, room):
        draw.text((margin, y), line, font=small, fill=(210, 210, 210))
        y += line_height
    reason = (segment.slate_reason or "no take").upper()
    draw.text((margin, height - margin - line_height), f"SLATE - {reason}", font=small, fill=(255, 140, 90))
    return np.asarray(image, dtype=np.uint8).copy()


class Renderer:
    """Turns frame recipes into RGB frames at the board size. Keeps one reader per take open;
    use as a context manager so every file handle is closed."""

    def __init__(self, timeline: Timeline, style: Style = Style()) -> None:
        self.timeline = timeline
        self.style = style
        self._readers: dict[int, FrameReader] = {}
        self._slates: dict[int, np.ndarray] = {}
        self._sprites: dict[tuple[str, tuple[int, int, int]], np.ndarray] = {}
        self._font_size = max(9, round(timeline.height / 22))
        self._loaded_font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None = None

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def source(self, segment_index: int, frame: int) -> np.ndarray:
        """Frame ``frame`` of a segment's take (conformed), or its slate card."""
        segment = self.timeline.segments[segment_index]
        if segment.is_slate or segment.path is None:
            if segment_index not in self._slates:
                self._slates[segment_index] = slate_image(self.timeline, segment)
            return self._slates[segment_index]
        reader = self._readers.get(segment_index)
        if reader is None:
            reader = self._readers[segment_index] = FrameReader(segment.path, self.timeline.fps)
        try:
            image = reader.frame(frame)
        except MediaError as error:
            raise TimelineError(f"{_shot_name(segment.index, segment.shot)}: {error}") from None
        return conform(image, self.timeline.width, self.timeline.height, self.style.fit)

    def render(self, recipe: FrameRecipe) -> np.ndarray:
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
            image = self._burn(image, dict(recipe.texts))
        return image

    def frames(self, recipes: Iterable[FrameRecipe], cancel: Callable[[], bool] | None = None) -> Iterable[np.ndarray]:
        for recipe in recipes:
            if cancel is not None and cancel():
                raise ExportCancelled("export cancelled")
            yield self.render(recipe)

    def still(self, segment_index: int) -> np.ndarray:
        """The middle frame of a shot as edited (for storyboards and contact sheets)."""
        segment = self.timeline.segments[segment_index]
        return self.source(segment_index, segment.source_in + segment.duration // 2).copy()

    @property
    def _font(self) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if self._loaded_font is None:  # loaded on first use: copy-only exports never draw text
            self._loaded_font = ImageFont.load_default(size=self._font_size)
        return self._loaded_font

    def _sprite(self, text: str, fill: tuple[int, int, int]) -> np.ndarray:
        """White-on-black-outline text as RGBA, one line high; cached per renderer (per export)."""
        key = (text, fill)
        sprite = self._sprites.get(key)
        if sprite is None:
            font, stroke = self._font, max(1, self._font_size // 8)
            ascent, descent = font.getmetrics()
            width = max(1, int(math.ceil(font.getlength(text))) + 2 * stroke)
            picture = Image.new("RGBA", (width, ascent + descent + 2 * stroke), (0, 0, 0, 0))
            ImageDraw.Draw(picture).text((stroke, stroke), text, font=font, fill=fill + (255,),
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

    @staticmethod
    def _paste(image: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
        height, width = image.shape[:2]
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + sprite.shape[1]), min(height, y + sprite.shape[0])
        if x0 >= x1 or y0 >= y1:
            return
        part = sprite[y0 - y:y1 - y, x0 - x:x1 - x]
        alpha = part[..., 3:4].astype(np.float32) / 255.0
        region = image[y0:y1, x0:x1].astype(np.float32)
        image[y0:y1, x0:x1] = (region * (1.0 - alpha) + part[..., :3] * alpha + 0.5).astype(np.uint8)

    def _burn(self, image: np.ndarray, texts: dict[str, str]) -> np.ndarray:
        image = image.copy()
        height, width = image.shape[:2]
        pad = max(2, self._font_size // 3)
        white, yellow = (255, 255, 255), (255, 240, 120)
        y = pad
        for slot in ("shot", "take"):
            if slot in texts:
                sprite = self._text(texts[slot], white)
                self._paste(image, sprite, pad, y)
                y += sprite.shape[0]
        y = pad
        for slot in ("camera", "watermark"):
            if slot in texts:
                sprite = self._text(texts[slot], white)
                self._paste(image, sprite, width - pad - sprite.shape[1], y)
                y += sprite.shape[0]
        if "shot_tc" in texts:
            sprite = self._text(texts["shot_tc"], white, per_character=True)
            self._paste(image, sprite, pad, height - pad - sprite.shape[0])
        if "tc" in texts:
            sprite = self._text(texts["tc"], white, per_character=True)
            self._paste(image, sprite, width - pad - sprite.shape[1], height - pad - sprite.shape[0])
        if "dialogue" in texts:
            measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
            lines = _wrap(measure, texts["dialogue"], self._font, int(width * 0.8), 2)
            sprites = [self._text(line, yellow) for line in lines]
            y = height - pad - sum(s.shape[0] for s in sprites) - (sprites[0].shape[0] if sprites else 0)
            for sprite in sprites:
                self._paste(image, sprite, (width - sprite.shape[1]) // 2, y)
                y += sprite.shape[0]
        return image
