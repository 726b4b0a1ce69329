"""Widget values -> validated board edits. No Gradio here, so the rules are testable directly.

The UI and the HTTP API send the same ``changes`` mapping (field name -> raw value as typed),
and both get a :class:`FieldError` naming the field when a value is unusable, so the message can
be shown next to that field and nothing is saved.
"""

from __future__ import annotations

import math
import random
from types import MappingProxyType
from typing import Any, Mapping

from studio.backends import BACKENDS
from studio.board import (
    EASINGS,
    MAX_SHOT_SECONDS,
    MOVES,
    SEED_MAX,
    TRANSITIONS,
    Board,
    BoardError,
    CameraMove,
    FrameRate,
    Shot,
    Transition,
)

TEXT_FIELDS = ("title", "prompt", "negative_prompt", "notes", "dialogue")
SHOT_FIELDS = TEXT_FIELDS + (
    "duration_s", "duration", "move", "intensity", "easing", "seed", "seed_locked",
    "continuity", "transition", "transition_frames", "backend", "chosen_take",
)
BOARD_FIELDS = ("title", "fps", "width", "height", "default_backend", "default_model", "memory_profile")
LABELS = MappingProxyType({
    "duration_s": "Duration", "duration": "Duration", "seed": "Seed", "intensity": "Intensity",
    "transition_frames": "Transition length", "fps": "Frame rate", "width": "Width",
    "height": "Height", "prompt": "Prompt", "default_backend": "Default backend",
    "memory_profile": "Memory profile",
})


class FieldError(ValueError):
    """A value typed into one field cannot be used; ``field`` says which one."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{LABELS.get(field, field.replace('_', ' ').capitalize())}: {message}")


def parse_seed(value: Any) -> int:
    """A seed as typed: a whole number from 0 to 2**32-1 ("42", 42.0 and 42 are fine)."""
    if isinstance(value, bool):
        raise FieldError("seed", f"must be a whole number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise FieldError("seed", f"must be a whole number, got {value!r}")
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise FieldError("seed", f"must be a whole number from 0 to {SEED_MAX}, got {value!r}")
        value = int(text)
    if not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise FieldError("seed", f"must be a whole number from 0 to {SEED_MAX}, got {value!r}")
    return value


def random_seed() -> int:
    return random.SystemRandom().randint(0, SEED_MAX)


def seconds_to_frames(fps: FrameRate, value: Any, field: str = "duration_s") -> int:
    """Seconds as typed -> whole frames, refusing 0, negatives, NaN and over-long shots."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise FieldError(field, f"must be more than 0 seconds, got {value!r}")
    if seconds > MAX_SHOT_SECONDS:
        raise FieldError(field, f"must be at most {MAX_SHOT_SECONDS} s (5 minutes), got {seconds:g} s")
    frames = fps.seconds_to_frames(seconds)
    if frames < 1:
        raise FieldError(field, f"{seconds:g} s is less than one frame at {fps} fps")
    return frames


def _whole(field: str, value: Any, minimum: int = 0) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number) or number < minimum:
        raise FieldError(field, f"must be a whole number of at least {minimum}, got {value!r}")
    return int(number)


def _flag(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise FieldError(field, f"must be true or false, got {value!r}")


def apply_shot_changes(board: Board, shot_id: str, changes: Mapping[str, Any]) -> Board:
    """The board with ``changes`` applied to one shot; raises FieldError and changes nothing."""
    unknown = sorted(set(changes) - set(SHOT_FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"is not a shot field; fields are {', '.join(SHOT_FIELDS)}")
    try:
        shot = board.shot(shot_id)
    except BoardError as error:
        raise FieldError("shot", str(error)) from None
    updates: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in changes:
            value = changes[name]
            if not isinstance(value, str):
                raise FieldError(name, f"must be text, got {value!r}")
            updates[name] = value
    if "duration_s" in changes:
        updates["duration"] = seconds_to_frames(board.fps, changes["duration_s"])
    if "duration" in changes:
        updates["duration"] = _whole("duration", changes["duration"], minimum=1)
        if updates["duration"] > board.fps.seconds_to_frames(MAX_SHOT_SECONDS):
            raise FieldError("duration", f"must be at most {MAX_SHOT_SECONDS} s, got {updates['duration']} frames")
    if "seed" in changes:
        updates["seed"] = parse_seed(changes["seed"])
    for name in ("seed_locked", "continuity"):
        if name in changes:
            updates[name] = _flag(name, changes[name])
    if {"move", "intensity", "easing"} & set(changes):
        updates["camera"] = (_camera(shot.camera[0], changes),) + shot.camera[1:]
    if {"transition", "transition_frames"} & set(changes):
        updates["transition"] = _transition(board, shot, changes)
    if "backend" in changes:
        backend = changes["backend"]
        updates["backend"] = None if backend in (None, "", "board default") else str(backend)
    if "chosen_take" in changes:
        take_id = changes["chosen_take"]
        if take_id not in [t.id for t in shot.takes]:
            raise FieldError("chosen_take", f"shot {shot_id} has no take {take_id!r}")
        updates["chosen_take"] = take_id
    return _rebuild(board, shot, updates)


def _camera(current: CameraMove, changes: Mapping[str, Any]) -> CameraMove:
    move = changes.get("move", current.move)
    if move not in MOVES:
        raise FieldError("move", f"must be one of {', '.join(MOVES)}, got {move!r}")
    easing = changes.get("easing", current.easing)
    if easing not in EASINGS:
        raise FieldError("easing", f"must be one of {', '.join(EASINGS)}, got {easing!r}")
    intensity = changes.get("intensity", current.intensity)
    try:
        intensity = float(intensity)
    except (TypeError, ValueError):
        raise FieldError("intensity", f"must be a number from 0 to 1, got {intensity!r}") from None
    if not (math.isfinite(intensity) and 0 <= intensity <= 1):
        raise FieldError("intensity", f"must be from 0 to 1, got {intensity!r}")
    return CameraMove(move=move, intensity=intensity, easing=easing)


def _transition(board: Board, shot: Shot, changes: Mapping[str, Any]) -> Transition:
    kind = changes.get("transition", shot.transition.kind)
    if kind not in TRANSITIONS:
        raise FieldError("transition", f"must be one of {', '.join(TRANSITIONS)}, got {kind!r}")
    length = shot.transition.length
    if "transition_frames" in changes:
        length = _whole("transition_frames", changes["transition_frames"])
    if kind != "cut" and length == 0:
        length = max(1, min(12, board.fps.seconds_to_frames(0.5)))
    return Transition(kind=kind, length=0 if kind == "cut" else length)


def _rebuild(board: Board, shot: Shot, updates: Mapping[str, Any]) -> Board:
    """Apply and re-validate the whole board (trims, keyframe frames, dissolve lengths)."""
    try:
        return board.with_shot(shot.replace(**updates))
    except BoardError as error:
        field = error.field.split(".")[-1].split("[")[0]
        field = {"duration": "duration_s", "length": "transition_frames", "trim_in": "duration_s",
                 "keyframes": "duration_s"}.get(field, field)
        raise FieldError(field, str(error)) from None


def apply_board_settings(board: Board, changes: Mapping[str, Any]) -> Board:
    """Board settings from the settings panel; FieldError names the bad one."""
    unknown = sorted(set(changes) - set(BOARD_FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"is not a board setting; settings are {', '.join(BOARD_FIELDS)}")
    updates: dict[str, Any] = {}
    if "title" in changes:
        if not isinstance(changes["title"], str):
            raise FieldError("title", f"must be text, got {changes['title']!r}")
        updates["title"] = changes["title"]
    if "fps" in changes:
        try:
            updates["fps"] = FrameRate.parse(changes["fps"])
        except BoardError as error:
            raise FieldError("fps", error.problem + f", got {changes['fps']!r}") from None
    for name in ("width", "height"):
        if name in changes:
            value = _whole(name, changes[name], minimum=16)
            if value % 2 or value > 4096:
                raise FieldError(name, f"must be an even number of pixels from 16 to 4096, got {value}")
            updates[name] = value
    if "default_backend" in changes:
        if changes["default_backend"] not in BACKENDS:
            raise FieldError("default_backend", f"must be one of {', '.join(BACKENDS)}, got {changes['default_backend']!r}")
        updates["default_backend"] = changes["default_backend"]
    if "default_model" in changes:
        updates["default_model"] = str(changes["default_model"]).strip() or None
    if "memory_profile" in changes:
        updates["memory_profile"] = str(changes["memory_profile"])
    try:
        return board.replace(**updates)
    except BoardError as error:
        raise FieldError(error.field.split(".")[-1].split("[")[0] or "fps", str(error)) from None


def new_shot(board: Board, **fields: Any) -> Shot:
    """A fresh card: the board's last shot's length, a random seed, a static camera."""
    from studio.board import new_id

    duration = board.shots[-1].duration if board.shots else board.fps.seconds_to_frames(2)
    shot = Shot(id=new_id("shot"), title=f"Shot {len(board.shots) + 1}", duration=duration,
                seed=random_seed())
    if fields:
        board = board.add_shot(shot)
        shot = apply_shot_changes(board, shot.id, fields).shot(shot.id)
    return shot


def duplicate_shot(shot: Shot) -> Shot:
    """A copy of a card with a new id and no takes (a take belongs to the shot that made it)."""
    from studio.board import new_id

    title = f"{shot.title} (copy)" if shot.title else ""
    return shot.replace(id=new_id("shot"), title=title, takes=(), chosen_take=None)


def frames_label(board: Board, frames: int) -> str:
    return f"{frames} frames at {board.fps} fps ({board.fps.frames_to_seconds(frames):.2f} s)"
