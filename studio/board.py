"""The board: the one vocabulary every layer of Previz Studio speaks.

Plain frozen dataclasses plus validation. No UI, ML or file IO here: storage.py turns a board
into a project folder, the exporters turn it into files, the UI turns widgets into it.

Time is integer frames at the board's rational frame rate; seconds appear only at the edges.
Edits return new objects (``dataclasses.replace`` underneath), so a half-applied edit can never
leave a board in memory that differs from what was validated.

Every validation failure raises :class:`BoardError`, whose message names the field path and the
bad value, e.g. ``shots[2].duration: must be at least 1 frame, got 0``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

SCHEMA_VERSION = 4
"""Current board.json schema version; older versions are migrated by studio.migrations."""

MOVES: tuple[str, ...] = (
    "static",
    "pan_left", "pan_right",
    "tilt_up", "tilt_down",
    "roll_cw", "roll_ccw",
    "zoom_in", "zoom_out",
    "dolly_in", "dolly_out",
    "truck_left", "truck_right",
    "pedestal_up", "pedestal_down",
    "crane_up", "crane_down",
    "orbit_left", "orbit_right",
    "dolly_zoom",
    "handheld",
)
EASINGS: tuple[str, ...] = ("linear", "ease_in", "ease_out", "ease_in_out")
TRANSITIONS: tuple[str, ...] = ("cut", "cross_dissolve", "dip_to_black", "dip_to_white")
"""How a shot begins. Only a cross-dissolve overlaps the previous shot; dips happen inside
the two shots' own frames (half out of the outgoing shot, half into the incoming one)."""
KEYFRAME_ROLES: tuple[str, ...] = ("first", "mid", "last")
LAYER_DEPTH_RANGE = (0.1, 100.0)
"""Depths a layer may sit at, in keyframe-plane distances (far / mid / near default to 2, 1, 0.6)."""
MAX_LAYERS = 32
SHOT_SIZES: tuple[str, ...] = ("", "EWS", "WS", "MS", "MCU", "CU", "ECU", "insert")
"""Extreme wide, wide, medium, medium close-up, close-up, extreme close-up, insert; "" unset."""
ANGLES: tuple[str, ...] = ("", "eye_level", "high", "low", "overhead", "dutch")
INT_EXT: tuple[str, ...] = ("", "INT", "EXT", "INT/EXT")
SHOT_NUMBERING: tuple[str, ...] = ("sequential", "scene")
"""How shots are numbered in every export: 1, 2, 3... or by scene as on set (12, 12A, 12B)."""
WORDS_PER_SECOND_RANGE = (0.5, 10.0)
"""Speaking rates a board may set for dialogue timing (about 2.5 is ordinary screen speech)."""
_VOICE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$")
AUDIO_LEVEL_RANGE = (-60.0, 12.0)
"""Scratch track gain in dB a board may set (-60 is all but silent; +12 is already loud)."""
LENS_MM_RANGE = (8.0, 600.0)
"""Focal lengths (35 mm equivalent) a card may name; outside this it is a typo."""
MAX_REFERENCES = 8
"""Reference pictures per cast member or location."""
MAX_LORAS = 8
LORA_WEIGHT_RANGE = (-4.0, 4.0)
MEMORY_PROFILES: tuple[str, ...] = ("none", "vae_tiling", "quantized", "model_offload", "group_offload")
QUALITIES: tuple[str, ...] = ("draft", "final")
"""Render quality: draft (a distilled model or fewer steps, smaller) or final (full settings)."""
"""How a diffusion backend fits in accelerator memory: none (everything on the device),
vae_tiling (decode in tiles), model_offload (one component on the device at a time, + tiling),
group_offload (blocks streamed in and out, + tiling; the least memory)."""

SEED_MAX = 2**32 - 1
MAX_SHOT_SECONDS = 300
"""A shot longer than five minutes is almost certainly a typo (frames typed as seconds)."""
MIN_SIZE, MAX_SIZE = 16, 4096
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_URL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class BoardError(ValueError):
    """A board, or a value meant for one, is invalid. The message names the field and value."""

    def __init__(self, field_path: str, value: Any, problem: str) -> None:
        self.field = field_path
        self.value = value
        self.problem = problem
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field_path}: {problem}, got {shown}")


# --------------------------------------------------------------------------------------------
# Field checks shared by the model and by its readers


def check_int(field_path: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BoardError(field_path, value, "must be a whole number")
    if minimum is not None and value < minimum:
        raise BoardError(field_path, value, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise BoardError(field_path, value, f"must be at most {maximum}")
    return value


def check_seed(field_path: str, value: Any) -> int:
    """The one seed rule, for the model, typed fields and render requests alike."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise BoardError(field_path, value, f"must be a whole number, at least 0 and at most {SEED_MAX}")
    return value


def random_seed() -> int:
    """A fresh seed from the OS's randomness (no shared random state to reseed or race on)."""
    return secrets.randbelow(SEED_MAX + 1)


def check_bool(field_path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BoardError(field_path, value, "must be true or false")
    return value


def check_text(field_path: str, value: Any, max_length: int = 20_000) -> str:
    if not isinstance(value, str):
        raise BoardError(field_path, value, "must be text")
    if len(value) > max_length:
        raise BoardError(field_path, value, f"must be at most {max_length} characters")
    return value


def check_choice(field_path: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise BoardError(field_path, value, f"must be one of {', '.join(choices)}")
    return value


def check_id(field_path: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise BoardError(field_path, value, "must be 1-64 letters, digits, '_' or '-'")
    return value


def check_relative_path(field_path: str, value: Any) -> str:
    """A path stored in board.json: relative, inside the project, never a URL.

    This is the textual check; storage.py also resolves symlinks against the real folder.
    """
    if not isinstance(value, str) or not value:
        raise BoardError(field_path, value, "must be a non-empty relative path")
    if "\x00" in value or "\\" in value:
        raise BoardError(field_path, value, "must use '/' separators and no control characters")
    if _URL_PATTERN.match(value):
        raise BoardError(field_path, value, "must be a file inside the project, not a URL or drive path")
    if value.startswith("/") or value.startswith("~"):
        raise BoardError(field_path, value, "must be relative to the project folder, not absolute")
    parts = value.split("/")
    if any(part in ("..", "") for part in parts) or parts[0] == ".":
        raise BoardError(field_path, value, "must stay inside the project folder (no '..' or empty parts)")
    return value


# --------------------------------------------------------------------------------------------
# Small value types


@dataclass(frozen=True)
class FrameRate:
    """An exact frame rate ``num/den`` (24, 25, 30000/1001...). Never a float internally."""

    num: int
    den: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.num, bool) or not isinstance(self.num, int) or self.num <= 0:
            raise BoardError("fps", self.num, "numerator must be a positive integer")
        if isinstance(self.den, bool) or not isinstance(self.den, int) or self.den <= 0:
            raise BoardError("fps", self.den, "denominator must be a positive integer")
        reduced = Fraction(self.num, self.den)
        if reduced.numerator != self.num or reduced.denominator != self.den:
            object.__setattr__(self, "num", reduced.numerator)
            object.__setattr__(self, "den", reduced.denominator)
        if not 1 <= self.num / self.den <= 240:
            raise BoardError("fps", str(self), "must be between 1 and 240 frames per second")

    @classmethod
    def parse(cls, value: Any, field_path: str = "fps") -> "FrameRate":
        """Accept 24, "24", "30000/1001", 23.976 (snapped to the NTSC rate) or a FrameRate."""
        if isinstance(value, FrameRate):
            return value
        try:
            if isinstance(value, bool):
                raise TypeError
            if isinstance(value, int):
                return cls(value)
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise ValueError
                for ntsc in (24, 30, 60):
                    if abs(value - ntsc * 1000 / 1001) < 0.01:
                        return cls(ntsc * 1000, 1001)
                fraction = Fraction(value).limit_denominator(1001)
                return cls(fraction.numerator, fraction.denominator)
            if isinstance(value, str):
                text = value.strip()
                if "/" in text:
                    num, den = text.split("/", 1)
                    return cls(int(num), int(den))
                if re.fullmatch(r"\d+", text):
                    return cls(int(text))
                return cls.parse(float(text), field_path)
        except BoardError as error:
            raise BoardError(field_path, value, error.problem) from None
        except (TypeError, ValueError, ZeroDivisionError):
            pass
        raise BoardError(field_path, value, "must be a frame rate such as 24 or 30000/1001")

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.num, self.den)

    def __float__(self) -> float:
        return self.num / self.den

    def __str__(self) -> str:
        return str(self.num) if self.den == 1 else f"{self.num}/{self.den}"

    def frames_to_seconds(self, frames: int) -> float:
        """For labels and ffmpeg arguments only: exact rational, rounded once at the edge (int / int
        is correctly rounded in Python, so no Fraction is needed: the wall calls this per panel)."""
        return frames * self.den / self.num

    def seconds_to_frames(self, seconds: float) -> int:
        """Nearest whole frame to a duration given in seconds (UI input)."""
        return int(round(Fraction(seconds).limit_denominator(10**6) * self.fraction))

    def timecode(self, frames: int) -> str:
        """SMPTE-style HH:MM:SS:FF (non-drop; nominal rate rounded up for NTSC rates)."""
        nominal = math.ceil(self.num / self.den)
        sign = "-" if frames < 0 else ""
        frames = abs(frames)
        ff = frames % nominal
        total_seconds = frames // nominal
        return f"{sign}{total_seconds // 3600:02d}:{total_seconds // 60 % 60:02d}:{total_seconds % 60:02d}:{ff:02d}"


@dataclass(frozen=True)
class CameraMove:
    """One camera move; a shot's camera is a tuple of these, applied together."""

    move: str = "static"
    intensity: float = 0.5
    easing: str = "ease_in_out"

    def __post_init__(self) -> None:
        check_choice("move", self.move, MOVES)
        check_choice("easing", self.easing, EASINGS)
        if isinstance(self.intensity, bool) or not isinstance(self.intensity, (int, float)):
            raise BoardError("intensity", self.intensity, "must be a number from 0 to 1")
        if not (math.isfinite(self.intensity) and 0.0 <= self.intensity <= 1.0):
            raise BoardError("intensity", self.intensity, "must be from 0 to 1")
        object.__setattr__(self, "intensity", float(self.intensity))


@dataclass(frozen=True)
class Keyframe:
    """An image pinned to a frame of the shot: the first frame, the last, or one mid-shot."""

    role: str
    path: str
    frame: int = 0
    """Frame index inside the shot; for "first" always 0, for "last" resolved to duration-1."""

    def __post_init__(self) -> None:
        check_choice("role", self.role, KEYFRAME_ROLES)
        check_relative_path("path", self.path)
        check_int("frame", self.frame, minimum=0)


@dataclass(frozen=True)
class Layer:
    """One drawn (or imported, or depth-split) layer of a panel: an RGBA PNG in the project at a
    depth from the camera (plane distances: 1 is the keyframe plane, 2 twice as far, 0.5 half)."""

    name: str
    path: str
    depth: float = 1.0
    visible: bool = True
    opacity: float = 1.0

    def __post_init__(self) -> None:
        check_text("name", self.name, max_length=200)
        if not self.name.strip():
            raise BoardError("name", self.name, "must not be blank")
        check_relative_path("path", self.path)
        for name, low, high in (("depth", LAYER_DEPTH_RANGE[0], LAYER_DEPTH_RANGE[1]), ("opacity", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not (math.isfinite(value) and low <= value <= high):
                raise BoardError(name, value, f"must be a number from {low:g} to {high:g}")
            object.__setattr__(self, name, float(value))
        check_bool("visible", self.visible)


@dataclass(frozen=True)
class Panel:
    """A drawn panel of a shot: its layers (back to front) and the flattened picture, which is the
    shot's keyframe of the same role when ``flat`` is that keyframe's path."""

    role: str
    flat: str
    layers: tuple[Layer, ...] = ()
    frame: int = 0

    def __post_init__(self) -> None:
        check_choice("role", self.role, KEYFRAME_ROLES)
        check_relative_path("flat", self.flat)
        check_int("frame", self.frame, minimum=0)
        object.__setattr__(self, "layers", tuple(self.layers))
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            raise BoardError("layers", len(self.layers), f"a panel has 1 to {MAX_LAYERS} layers")


@dataclass(frozen=True)
class Transition:
    """How a shot begins: a cut, or a transition of ``length`` frames from the previous shot."""

    kind: str = "cut"
    length: int = 0

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, TRANSITIONS)
        check_int("length", self.length, minimum=0)
        if self.kind == "cut" and self.length:
            object.__setattr__(self, "length", 0)
        if self.kind != "cut" and self.length == 0:
            raise BoardError("length", self.length, f"a {self.kind} needs at least 1 frame")

    @property
    def overlap(self) -> int:
        """Frames shared with the previous shot (only a cross-dissolve overlaps)."""
        return self.length if self.kind == "cross_dissolve" else 0


@dataclass(frozen=True)
class Take:
    """One generated clip of a shot. Its video and JSON sidecar live under ``takes/``."""

    id: str
    path: str
    seed: int
    backend: str
    model: str | None = None
    frames: int = 0
    created: str = ""
    """ISO 8601 UTC time the take was made."""
    quality: str = ""
    """"draft" or "final" as rendered; "" for takes made before qualities existed."""

    def __post_init__(self) -> None:
        check_id("id", self.id)
        if self.quality:
            check_choice("quality", self.quality, QUALITIES)
        check_relative_path("path", self.path)
        check_seed("seed", self.seed)
        check_text("backend", self.backend, max_length=200)
        if self.model is not None:
            check_text("model", self.model, max_length=1000)
        check_text("created", self.created, max_length=100)
        check_int("frames", self.frames, minimum=0)

    @property
    def sidecar_path(self) -> str:
        """The JSON file next to the video that records everything that made the take."""
        stem, _, _ = self.path.rpartition(".")
        return f"{stem or self.path}.json"


def check_level(field_path: str, value: Any) -> float:
    """A gain in dB within AUDIO_LEVEL_RANGE, as a float; else a BoardError naming the field."""
    low, high = AUDIO_LEVEL_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (math.isfinite(value) and low <= value <= high):
        raise BoardError(field_path, value, f"must be a level in dB from {low:g} to {high:g}")
    return float(value)


@dataclass(frozen=True)
class AudioTrack:
    """A scratch track or voice-over laid under the picture from frame ``offset``."""

    path: str
    offset: int = 0
    fade_out: int = 0
    level: float = 0.0
    """Gain in dB (AUDIO_LEVEL_RANGE), applied wherever the track is mixed or exported."""
    muted: bool = False
    """Kept on the board but left out of the mix and the exports."""

    def __post_init__(self) -> None:
        check_relative_path("path", self.path)
        check_int("offset", self.offset, minimum=0)
        check_int("fade_out", self.fade_out, minimum=0)
        object.__setattr__(self, "level", check_level("level", self.level))
        check_bool("muted", self.muted)


@dataclass(frozen=True)
class Scene:
    """A scene of the script: its heading (number, INT/EXT, location, time of day) and synopsis."""

    id: str
    number: str = ""
    """As the script numbers it ("12", "12A"); empty until numbered."""
    int_ext: str = ""
    location: str = ""
    time_of_day: str = ""
    synopsis: str = ""

    def __post_init__(self) -> None:
        check_id("id", self.id)
        check_text("number", self.number, max_length=16)
        if self.number and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", self.number):
            raise BoardError("number", self.number, "must be letters, digits, '.' or '-' (such as 12 or 12A)")
        check_choice("int_ext", self.int_ext, INT_EXT)
        for name in ("location", "time_of_day"):
            check_text(name, getattr(self, name), max_length=200)
        check_text("synopsis", self.synopsis)

    def heading(self) -> str:
        """The scene heading as a script writes it, e.g. "INT. LIGHTHOUSE - NIGHT"."""
        place = " - ".join(part for part in (self.location.strip().upper(), self.time_of_day.strip().upper()) if part)
        return f"{self.int_ext}. {place}" if self.int_ext and place else (self.int_ext or place)


@dataclass(frozen=True)
class CastMember:
    """A character of the board; ``voice`` is an espeak-ng voice for scratch dialogue ("" = automatic)."""

    name: str
    voice: str = ""
    description: str = ""
    """How the character looks, in prompt words (woven into every prompt of a shot they are in)."""
    references: tuple[str, ...] = ()
    """Reference pictures in the project (keyframes/...), for models that take references."""

    def __post_init__(self) -> None:
        check_text("name", self.name, max_length=200)
        if not self.name.strip():
            raise BoardError("name", self.name, "must not be blank")
        check_text("voice", self.voice, max_length=64)
        if self.voice and not _VOICE_PATTERN.match(self.voice):
            raise BoardError("voice", self.voice, "must be an espeak-ng voice name such as en-us or en+f3")
        _check_look(self)


@dataclass(frozen=True)
class Location:
    """A place of the board: its name (what a shot's ``location`` names), a description in prompt
    words and reference pictures, so the same place looks the same in every shot."""

    name: str
    description: str = ""
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_text("name", self.name, max_length=200)
        if not self.name.strip():
            raise BoardError("name", self.name, "must not be blank")
        _check_look(self)


def _check_look(item: Any) -> None:
    """A cast member's or location's description and reference pictures."""
    check_text("description", item.description, max_length=2000)
    if isinstance(item.references, str):
        raise BoardError("references", item.references, "must be a list of pictures")
    object.__setattr__(item, "references", tuple(item.references))
    if len(item.references) > MAX_REFERENCES:
        raise BoardError("references", len(item.references), f"at most {MAX_REFERENCES} reference pictures")
    for index, path in enumerate(item.references):
        check_relative_path(f"references[{index}]", path)


@dataclass(frozen=True)
class Lora:
    """A LoRA applied when a board's or shot's pictures are made: a .safetensors file or folder in
    the models folder, or a hub id ("org/name"), and its weight."""

    source: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        check_text("source", self.source, max_length=1000)
        if not self.source.strip():
            raise BoardError("source", self.source, "must name a LoRA file, folder or hub id")
        if _URL_PATTERN.match(self.source) and not self.source.startswith("/"):
            raise BoardError("source", self.source, "must be a file, folder or hub id, not a URL")
        low, high = LORA_WEIGHT_RANGE
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) \
                or not (math.isfinite(self.weight) and low <= self.weight <= high):
            raise BoardError("weight", self.weight, f"must be a number from {low:g} to {high:g}")
        object.__setattr__(self, "weight", float(self.weight))


def _check_loras(field_path: str, loras: Any) -> tuple[Lora, ...]:
    if isinstance(loras, str):
        raise BoardError(field_path, loras, "must be a list of LoRAs")
    loras = tuple(loras)
    if len(loras) > MAX_LORAS:
        raise BoardError(field_path, len(loras), f"at most {MAX_LORAS} LoRAs")
    sources = [lora.source for lora in loras]
    if len(set(sources)) != len(sources):
        raise BoardError(field_path, sources, "each LoRA once")
    return loras


# --------------------------------------------------------------------------------------------
# Shot and Board


def new_id(prefix: str) -> str:
    """A short random id, stable once stored (shots and takes keep theirs forever)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Shot:
    """One shot card."""

    id: str
    title: str = ""
    prompt: str = ""
    negative_prompt: str = ""
    duration: int = 48
    """Frames at the board's fps, as generated (trims shorten what the timeline shows)."""
    camera: tuple[CameraMove, ...] = (CameraMove(),)
    seed: int = 0
    seed_locked: bool = True
    keyframes: tuple[Keyframe, ...] = ()
    continuity: bool = False
    """Start from the previous shot's chosen take's last frame."""
    notes: str = ""
    dialogue: str = ""
    transition: Transition = Transition()
    shot_size: str = ""
    angle: str = ""
    lens_mm: float | None = None
    """Focal length in mm (35 mm equivalent); None leaves it to the generator."""
    action: str = ""
    """What happens in the shot, apart from what is said."""
    speaker: str = ""
    """The character who speaks ``dialogue``."""
    location: str = ""
    int_ext: str = ""
    characters: tuple[str, ...] = ()
    trim_in: int = 0
    trim_out: int = 0
    takes: tuple[Take, ...] = ()
    chosen_take: str | None = None
    backend: str | None = None
    """Overrides the board's default backend for this shot; None means the board's."""
    quality: str | None = None
    """Overrides the board's render quality (draft / final) for this shot; None means the board's."""
    scene_id: str | None = None
    """The scene (Board.scenes) this shot belongs to; None for a shot outside any scene."""
    panels: tuple[Panel, ...] = ()
    """Drawn panels (layers + flattened picture); one per keyframe role (a mid one per frame)."""
    take_audio_level: float = 0.0
    """Gain in dB (AUDIO_LEVEL_RANGE) of the chosen take's own sound (a model that makes it, such
    as LTX-2) where the cut mixes it with the scratch track; a silent take is unaffected."""
    loras: tuple[Lora, ...] = ()
    """LoRAs for this shot's pictures and takes, on top of the board's."""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=True)
    """Fields written by a newer or other tool: kept untouched so they survive load/save."""

    def __post_init__(self) -> None:
        check_id("id", self.id)
        for name in ("title", "prompt", "negative_prompt", "notes", "dialogue", "action"):
            check_text(name, getattr(self, name))
        for name in ("speaker", "location"):
            check_text(name, getattr(self, name), max_length=200)
        check_choice("shot_size", self.shot_size, SHOT_SIZES)
        check_choice("angle", self.angle, ANGLES)
        check_choice("int_ext", self.int_ext, INT_EXT)
        if self.lens_mm is not None:
            if isinstance(self.lens_mm, bool) or not isinstance(self.lens_mm, (int, float)) \
                    or not (math.isfinite(self.lens_mm) and LENS_MM_RANGE[0] <= self.lens_mm <= LENS_MM_RANGE[1]):
                raise BoardError("lens_mm", self.lens_mm,
                                 f"must be a focal length from {LENS_MM_RANGE[0]:g} to {LENS_MM_RANGE[1]:g} mm")
            object.__setattr__(self, "lens_mm", float(self.lens_mm))
        if isinstance(self.characters, str):
            raise BoardError("characters", self.characters, "must be a list of names")
        object.__setattr__(self, "characters", tuple(self.characters))
        for position, name in enumerate(self.characters):
            check_text(f"characters[{position}]", name, max_length=200)
            if not name.strip():
                raise BoardError(f"characters[{position}]", name, "must not be blank")
        if len(self.characters) > 100:
            raise BoardError("characters", len(self.characters), "at most 100 characters in one shot")
        check_int("duration", self.duration, minimum=1)
        object.__setattr__(self, "take_audio_level", check_level("take_audio_level", self.take_audio_level))
        check_seed("seed", self.seed)
        check_bool("seed_locked", self.seed_locked)
        check_bool("continuity", self.continuity)
        object.__setattr__(self, "camera", tuple(self.camera))
        object.__setattr__(self, "keyframes", tuple(self.keyframes))
        object.__setattr__(self, "takes", tuple(self.takes))
        if not self.camera:
            object.__setattr__(self, "camera", (CameraMove(),))
        check_int("trim_in", self.trim_in, minimum=0)
        check_int("trim_out", self.trim_out, minimum=0)
        if self.trim_in + self.trim_out >= self.duration:
            raise BoardError(
                "trim_in", (self.trim_in, self.trim_out),
                f"trims leave no frames of a {self.duration}-frame shot",
            )
        roles = [k.role for k in self.keyframes]
        for role in ("first", "last"):
            if roles.count(role) > 1:
                raise BoardError("keyframes", role, "only one keyframe per role first/last")
        for keyframe in self.keyframes:
            if keyframe.frame >= self.duration:
                raise BoardError(
                    "keyframes", keyframe.frame,
                    f"must be inside the shot (0..{self.duration - 1})",
                )
        take_ids = [t.id for t in self.takes]
        if len(set(take_ids)) != len(take_ids):
            raise BoardError("takes", take_ids, "take ids must be unique")
        if self.chosen_take is not None and self.chosen_take not in take_ids:
            raise BoardError("chosen_take", self.chosen_take, "must be the id of one of the shot's takes")
        if self.backend is not None:
            check_text("backend", self.backend)
        if self.quality is not None:
            check_choice("quality", self.quality, QUALITIES)
        if self.scene_id is not None:
            check_id("scene_id", self.scene_id)
        object.__setattr__(self, "panels", tuple(self.panels))
        slots = [(p.role, p.frame if p.role == "mid" else 0) for p in self.panels]
        if len(set(slots)) != len(slots):
            raise BoardError("panels", slots, "one panel per role (and per frame for mid panels)")
        object.__setattr__(self, "extra", dict(self.extra))

    # -- derived --------------------------------------------------------------------------
    @property
    def edit_duration(self) -> int:
        """Frames this shot occupies in the edit, after trims."""
        return self.duration - self.trim_in - self.trim_out

    def keyframe(self, role: str) -> Keyframe | None:
        return next((k for k in self.keyframes if k.role == role), None)

    def panel(self, role: str, frame: int = 0) -> Panel | None:
        return next((p for p in self.panels if p.role == role and (role != "mid" or p.frame == frame)), None)

    def panel_of(self, keyframe: Keyframe) -> Panel | None:
        """The drawn panel a keyframe shows (its flattened picture), if it is one."""
        return next((p for p in self.panels if p.flat == keyframe.path and p.role == keyframe.role), None)

    def chosen(self) -> Take | None:
        return next((t for t in self.takes if t.id == self.chosen_take), None)

    def camera_label(self) -> str:
        """e.g. "pan_left 0.6 ease_in_out + handheld 0.2"."""
        return " + ".join(f"{m.move} {m.intensity:g} {m.easing}" for m in self.camera)

    def framing_label(self) -> str:
        """Shot size, angle and lens as a storyboard writes them, e.g. "MCU · low angle · 35 mm"."""
        parts = [self.shot_size] if self.shot_size else []
        if self.angle:
            parts.append(self.angle.replace("_", " ") + ("" if self.angle == "overhead" else " angle"))
        if self.lens_mm is not None:
            parts.append(f"{self.lens_mm:g} mm")
        return " · ".join(parts)

    def scene_heading(self) -> str:
        """e.g. "INT. LIGHTHOUSE" (empty when neither is set)."""
        place = self.location.strip().upper()
        if self.int_ext and place:
            return f"{self.int_ext}. {place}"
        return self.int_ext or place

    # -- edits (return new shots) --------------------------------------------------------
    def replace(self, **changes: Any) -> "Shot":
        return dataclasses.replace(self, **changes)

    def with_take(self, take: Take, choose: bool = True) -> "Shot":
        return self.replace(takes=self.takes + (take,), chosen_take=take.id if choose else self.chosen_take)

    def with_keyframe(self, keyframe: Keyframe) -> "Shot":
        """Add a keyframe, replacing the one it supersedes (same first/last role, or a mid-shot
        keyframe at the same frame)."""
        kept = tuple(k for k in self.keyframes
                     if k.role != keyframe.role or (keyframe.role == "mid" and k.frame != keyframe.frame))
        return self.replace(keyframes=kept + (keyframe,))

    def without_take(self, take_id: str) -> "Shot":
        takes = tuple(t for t in self.takes if t.id != take_id)
        if len(takes) == len(self.takes):
            raise BoardError("takes", take_id, f"shot {self.id} has no such take")
        chosen = self.chosen_take
        if chosen == take_id:
            chosen = takes[-1].id if takes else None
        return self.replace(takes=takes, chosen_take=chosen)


@dataclass(frozen=True)
class Board:
    """A film laid out as shot cards, plus the settings every shot shares."""

    title: str = "Untitled board"
    fps: FrameRate = FrameRate(24)
    width: int = 832
    height: int = 480
    default_backend: str = "animatic"
    default_model: str | None = None
    memory_profile: str = "none"
    quality: str = "final"
    """Render quality of every shot that does not set its own (QUALITIES)."""
    shots: tuple[Shot, ...] = ()
    fade_in: int = 0
    fade_out: int = 0
    audio: AudioTrack | None = None
    schema_version: int = SCHEMA_VERSION
    revision: int = 0
    """Incremented by every saved edit; an edit names the revision it was based on."""
    scenes: tuple[Scene, ...] = ()
    shot_numbering: str = "sequential"
    words_per_second: float = 2.5
    """Speaking rate used to time dialogue against shot durations."""
    cast: tuple[CastMember, ...] = ()
    scratch_dialogue: bool = False
    """Synthesise each shot's dialogue as a scratch voice track under the cut."""
    locations: tuple[Location, ...] = ()
    """Places with descriptions and reference pictures; a shot's ``location`` names one."""
    loras: tuple[Lora, ...] = ()
    """LoRAs for every shot's pictures and takes."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_text("title", self.title)
        check_int("revision", self.revision, minimum=0)
        if not isinstance(self.fps, FrameRate):
            object.__setattr__(self, "fps", FrameRate.parse(self.fps))
        for name in ("width", "height"):
            value = getattr(self, name)
            check_int(name, value, minimum=MIN_SIZE)
            if value > MAX_SIZE or value % 2:
                raise BoardError(name, value, f"must be an even number of pixels from {MIN_SIZE} to {MAX_SIZE}")
        check_text("default_backend", self.default_backend, max_length=200)
        if self.default_model is not None:
            check_text("default_model", self.default_model, max_length=1000)
        check_choice("memory_profile", self.memory_profile, MEMORY_PROFILES)
        check_choice("quality", self.quality, QUALITIES)
        check_int("fade_in", self.fade_in, minimum=0)
        check_int("fade_out", self.fade_out, minimum=0)
        check_int("schema_version", self.schema_version, minimum=1)
        if self.schema_version != SCHEMA_VERSION:
            raise BoardError("schema_version", self.schema_version, f"a Board in memory is always version {SCHEMA_VERSION}")
        object.__setattr__(self, "shots", tuple(self.shots))
        object.__setattr__(self, "extra", dict(self.extra))
        self._check_script_fields()
        self._check_look_fields()
        ids = [s.id for s in self.shots]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise BoardError("shots", duplicate, "duplicate shot id")
        limit = self.fps.seconds_to_frames(MAX_SHOT_SECONDS)
        for index, shot in enumerate(self.shots):
            if shot.duration > limit:
                raise BoardError(
                    f"shots[{index}].duration", shot.duration,
                    f"must be at most {MAX_SHOT_SECONDS} s ({limit} frames at {self.fps} fps)",
                )
            if index == 0 and shot.transition.overlap:
                raise BoardError(f"shots[{index}].transition", shot.transition.kind, "the first shot has nothing to dissolve from")
            if index > 0:
                previous = self.shots[index - 1]
                if shot.transition.overlap > min(previous.edit_duration, shot.edit_duration):
                    raise BoardError(
                        f"shots[{index}].transition.length", shot.transition.length,
                        "a cross-dissolve cannot be longer than either shot it joins",
                    )

    def _check_script_fields(self) -> None:
        """Scenes, cast and the dialogue settings (schema 4)."""
        object.__setattr__(self, "scenes", tuple(self.scenes))
        object.__setattr__(self, "cast", tuple(self.cast))
        check_choice("shot_numbering", self.shot_numbering, SHOT_NUMBERING)
        check_bool("scratch_dialogue", self.scratch_dialogue)
        low, high = WORDS_PER_SECOND_RANGE
        if isinstance(self.words_per_second, bool) or not isinstance(self.words_per_second, (int, float)) \
                or not (math.isfinite(self.words_per_second) and low <= self.words_per_second <= high):
            raise BoardError("words_per_second", self.words_per_second, f"must be a number from {low:g} to {high:g}")
        object.__setattr__(self, "words_per_second", float(self.words_per_second))
        for what, values in (("scenes", [s.id for s in self.scenes]),
                             ("scenes", [s.number for s in self.scenes if s.number]),
                             ("cast", [c.name.strip().casefold() for c in self.cast])):
            seen: set[str] = set()
            for value in values:
                if value in seen:
                    raise BoardError(what, value, "must be unique")
                seen.add(value)
        scene_ids = {s.id for s in self.scenes}
        for index, shot in enumerate(self.shots):
            if shot.scene_id is not None and shot.scene_id not in scene_ids:
                raise BoardError(f"shots[{index}].scene_id", shot.scene_id, "must be the id of one of the board's scenes")

    def _check_look_fields(self) -> None:
        """Locations and LoRAs (optional in schema 4): unique names, each LoRA once."""
        object.__setattr__(self, "locations", tuple(self.locations))
        names = [location.name.strip().casefold() for location in self.locations]
        if len(set(names)) != len(names):
            raise BoardError("locations", names, "location names must be unique")
        object.__setattr__(self, "loras", _check_loras("loras", self.loras))
        for index, shot in enumerate(self.shots):
            object.__setattr__(shot, "loras", _check_loras(f"shots[{index}].loras", shot.loras))

    # -- lookups and derived values ------------------------------------------------------
    def scene(self, scene_id: str) -> Scene:
        for scene in self.scenes:
            if scene.id == scene_id:
                return scene
        raise BoardError("scene id", scene_id, "no such scene")

    def shot(self, shot_id: str) -> Shot:
        for shot in self.shots:
            if shot.id == shot_id:
                return shot
        raise BoardError("shot id", shot_id, f"no such shot; ids are {[s.id for s in self.shots]}")

    def index_of(self, shot_id: str) -> int:
        return self.shots.index(self.shot(shot_id))

    def shot_start_frames(self) -> list[int]:
        """Frame on the timeline where each shot starts (cross-dissolves overlap)."""
        starts, position = [], 0
        for shot in self.shots:
            position -= shot.transition.overlap
            starts.append(position)
            position += shot.edit_duration
        return starts

    @property
    def total_frames(self) -> int:
        """Exact running time: the shots' edit durations minus the cross-dissolve overlaps."""
        return sum(s.edit_duration - s.transition.overlap for s in self.shots)

    def backend_for(self, shot: Shot) -> str:
        return shot.backend or self.default_backend

    # -- edits (return new boards) -------------------------------------------------------
    def replace(self, **changes: Any) -> "Board":
        return dataclasses.replace(self, **changes)

    def with_shot(self, shot: Shot) -> "Board":
        """Replace the shot with the same id."""
        index = self.index_of(shot.id)
        return self.replace(shots=self.shots[:index] + (shot,) + self.shots[index + 1:])

    def add_shot(self, shot: Shot, index: int | None = None) -> "Board":
        index = len(self.shots) if index is None else max(0, min(index, len(self.shots)))
        return self.replace(shots=self.shots[:index] + (shot,) + self.shots[index:])

    def remove_shot(self, shot_id: str) -> "Board":
        """Remove a shot; dissolves that no longer fit their new neighbours are shortened."""
        index = self.index_of(shot_id)
        return self.replace(shots=fit_dissolves(self.shots[:index] + self.shots[index + 1:]))

    def move_shot(self, shot_id: str, delta: int) -> "Board":
        """Move a shot ``delta`` places (clamped to the ends of the board); dissolves that no
        longer fit their new neighbours are shortened, and the first shot opens on a cut."""
        index = self.index_of(shot_id)
        target = max(0, min(len(self.shots) - 1, index + delta))
        shots = list(self.shots)
        shots.insert(target, shots.pop(index))
        return self.replace(shots=fit_dissolves(tuple(shots)))


def fit_dissolves(shots: tuple[Shot, ...]) -> tuple[Shot, ...]:
    """After a reorder: the first shot has nothing to dissolve from, and a cross-dissolve can be
    no longer than either shot it joins."""
    fitted: list[Shot] = []
    for index, shot in enumerate(shots):
        overlap = shot.transition.overlap
        if overlap:
            limit = 0 if index == 0 else min(fitted[-1].edit_duration, shot.edit_duration)
            if overlap > limit:
                shot = shot.replace(transition=Transition("cross_dissolve", limit) if limit else Transition())
        fitted.append(shot)
    return tuple(fitted)
