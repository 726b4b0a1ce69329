"""The chosen takes laid end to end: one exact, frame-accurate description every export shares.

Pure layout, no files and no pixels: ``build_timeline(board)`` turns the board alone into
:class:`Segment` s (shot index, take or slate, source in/out after trims, the transition into
it, start frame), and ``frame_recipes`` says, for every timeline frame, which source frames make
it (with what weight, dip, fade and burn-in text). Checking the take files is the export
service's (studio.services.takes.attach_media); drawing a recipe is the compositor's
(studio.compositor). The MP4 exporter copies the frames whose recipe is a plain source frame and
draws the rest; the PDF, contact sheet and edit exports read the same segments, so every format
agrees on where each shot starts and how long it runs.

Transitions (board.TRANSITIONS): a cross-dissolve of L frames overlaps the two shots; a dip of L
frames happens inside their own frames, L // 2 at the end of the outgoing shot and the rest at
the start of the incoming one (a dip into the first shot is all at its start). Board fade in/out
are to and from black over the first/last frames of the whole timeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.board import AudioTrack, Board, CastMember, FrameRate, Location, Scene, Shot, Take, Transition
from studio.common import check_fit
from studio.scenes import shot_numbers

if TYPE_CHECKING:  # the layout never reads a file; attach_media fills these in
    from studio.media import StreamInfo

BURN_INS: tuple[str, ...] = ("shot", "camera", "take", "timecode", "dialogue", "watermark")
"""Toggleable burn-ins: shot number and title, camera move, take id, shot and running timecode,
dialogue as a caption, and a watermark line (project title and date)."""
DIP_COLORS = {"dip_to_black": (0, 0, 0), "dip_to_white": (255, 255, 255)}
LABEL_FORMS: tuple[str, ...] = ("caption", "heading", "clip", "message")


def shot_label(number: int | str, title: str = "", form: str = "caption", shot_id: str = "") -> str:
    """The one way a shot is named, by where the name is shown:

    caption "Shot 3 - Harbour" (burn-ins, markers), heading "SHOT 3 - Harbour" (storyboard
    panels), clip "SHOT003 Harbour" (clip names in edit files), message "shot 3 'Harbour' (sh_1)"
    (errors and warnings). ``number`` comes from studio.scenes.shot_numbers ("3", or "12A").
    """
    title = title.strip()
    if form == "caption":
        return f"Shot {number}" + (f" - {title}" if title else "")
    if form == "heading":
        return f"SHOT {number}" + (f" - {title}" if title else "")
    if form == "clip":
        digits = re.match(r"\d*", str(number)).group()
        return f"SHOT{digits.zfill(3)}{str(number)[len(digits):]}" + (f" {title}" if title else "")
    if form == "message":
        return f"shot {number}" + (f" '{title}'" if title else "") + (f" ({shot_id})" if shot_id else "")
    raise ValueError(f"label form must be one of {', '.join(LABEL_FORMS)}, got {form!r}")


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
    slate_take: bool = False
    """The take is a slate the animatic filmed (set by attach_media from its sidecar): its frames
    are shown, with the shot's current number drawn over them."""
    number: str = ""
    """The shot's number as the board numbers it (studio.scenes.shot_numbers): "3" or "12A"."""
    take_audio: bool = False
    """The take's file carries the model's own sound (set by attach_media from its sidecar and
    the file): the cut lays it under the shot at ``shot.take_audio_level``."""

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
    def shows_number(self) -> bool:
        """A slate card or a slate take: the compositor draws "SHOT <number>" on its frames."""
        return self.is_slate or self.slate_take

    def label(self, form: str = "caption") -> str:
        return shot_label(self.number, self.shot.title, form, self.shot.id if form == "message" else "")

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
    scenes: tuple[Scene, ...] = ()
    """The board's scenes in script order (segments name theirs by ``shot.scene_id``)."""
    cast: tuple[CastMember, ...] = ()
    locations: tuple[Location, ...] = ()
    """The board's cast and locations (descriptions, reference pictures) for the paperwork."""


def build_timeline(board: Board) -> Timeline:
    """Lay the board out in frames. Raises TimelineError when transitions do not fit the shots."""
    if not board.shots:
        raise TimelineError("the board has no shots to export")
    starts = board.shot_start_frames()
    numbers = shot_numbers(board)
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
                f"{shot_label(numbers[index], shot.title, 'message', shot.id)}: its transitions need {used} frames "
                f"(in: {shot.transition.kind} {shot.transition.length}, out: {following.kind} {following.length}) "
                f"but the shot is only {shot.edit_duration} frames after trims; shorten the transitions"
            )
        take = shot.chosen()
        segments.append(Segment(
            index=index, shot=shot, start=start, duration=shot.edit_duration, source_in=shot.trim_in,
            take=take, transition=shot.transition, overlap_in=overlap_in, overlap_out=overlap_out,
            dip_in=dip_in, dip_in_color=color_in, dip_out=dip_out, dip_out_color=color_out,
            slate_reason="" if take else "no take", number=numbers[index],
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
        fade_out=board.fade_out, audio=board.audio, scenes=board.scenes, cast=board.cast, locations=board.locations,
    )


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
        check_fit(self.fit, TimelineError)
        object.__setattr__(self, "burn_ins", frozenset(self.burn_ins))


def _texts(timeline: Timeline, segment: Segment, local: int, frame: int, style: Style) -> tuple[tuple[str, str], ...]:
    texts: list[tuple[str, str]] = []
    on = style.burn_ins
    if "shot" in on:
        texts.append(("shot", segment.label()))
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
