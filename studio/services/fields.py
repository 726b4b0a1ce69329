"""Typed-in values -> shot and board changes. The rules live in the model (studio.board); this
module only turns what a widget or a JSON client sends ("42", "2.5", "a, b") into model values
and names the field when the model refuses one.

The UI and the HTTP API send the same ``changes`` mapping (field name -> raw value), and both
get a :class:`FieldError` naming the field when a value is unusable, so the message can be shown
next to that field and nothing is saved.
"""

from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType
from typing import Any, Mapping

from studio.backends import BACKENDS
from studio.board import (
    MAX_SHOT_SECONDS,
    QUALITIES,
    Board,
    BoardError,
    CameraMove,
    CastMember,
    FrameRate,
    Shot,
    Transition,
    check_seed,
    fit_dissolves,
    new_id,
    random_seed,
)

TEXT_FIELDS = ("title", "prompt", "negative_prompt", "notes", "dialogue", "action", "speaker", "location")
CHOICE_FIELDS = ("shot_size", "angle", "int_ext")
SHOT_FIELDS = TEXT_FIELDS + CHOICE_FIELDS + (
    "lens_mm", "characters", "duration_s", "duration", "camera", "move", "intensity", "easing", "seed",
    "seed_locked", "continuity", "transition", "transition_frames", "backend", "chosen_take",
    "trim_in", "trim_out", "scene_id", "take_audio_level", "quality", "loras",
)
"""What a shot patch may name. ``move``/``intensity``/``easing`` edit the first camera segment
(kept for older clients); ``camera`` is the whole list of segments."""
STORED_AS = MappingProxyType({
    "duration_s": "duration", "move": "camera", "intensity": "camera", "easing": "camera",
    "transition_frames": "transition",
})
"""Patch field -> the board.json shot field it changes (for conflict checks)."""
BOARD_FIELDS = ("title", "fps", "width", "height", "default_backend", "default_model", "memory_profile", "quality",
                "shot_numbering", "words_per_second", "scratch_dialogue", "cast", "loras")
LABELS = MappingProxyType({
    "duration_s": "Duration", "duration": "Duration", "seed": "Seed", "intensity": "Intensity",
    "transition_frames": "Transition length", "fps": "Frame rate", "width": "Width",
    "height": "Height", "prompt": "Prompt", "default_backend": "Default backend",
    "memory_profile": "Memory profile", "lens_mm": "Lens (mm)", "int_ext": "INT/EXT",
    "shot_size": "Shot size", "shot_numbering": "Shot numbering", "words_per_second": "Words per second",
    "scratch_dialogue": "Scratch dialogue", "cast": "Cast", "scene_id": "Scene",
    "take_audio_level": "Take sound level (dB)", "loras": "LoRAs", "quality": "Quality",
})
MODEL_TO_FIELD = MappingProxyType({
    "duration": "duration_s", "length": "transition_frames", "trim_in": "duration_s", "keyframes": "duration_s",
    "kind": "transition", "move": "camera", "easing": "camera", "intensity": "camera",
})
"""The last part of a BoardError's field path -> the patch field to show it next to."""


class FieldError(ValueError):
    """A value typed into one field cannot be used; ``field`` says which one."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{LABELS.get(field, field.replace('_', ' ').capitalize())}: {message}")


def _shown(value: Any) -> str:
    """A bad value quoted in a message, cut short (a 1 MB paste is not echoed back)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_seed(value: Any) -> int:
    """A seed as typed ("42", 42.0 and 42 are fine), held to the model's rule (board.check_seed)."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    try:
        return check_seed("seed", value)
    except BoardError as error:
        raise FieldError("seed", f"{error.problem}, got {_shown(value)}") from None


def seconds_to_frames(fps: FrameRate, value: Any, field: str = "duration_s") -> int:
    """Seconds as typed -> whole frames, refusing 0, negatives, NaN and over-long shots."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"must be a number of seconds, got {_shown(value)}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise FieldError(field, f"must be more than 0 seconds, got {_shown(value)}")
    if seconds > MAX_SHOT_SECONDS:
        raise FieldError(field, f"must be at most {MAX_SHOT_SECONDS} s (5 minutes), got {seconds:g} s")
    frames = fps.seconds_to_frames(seconds)
    if frames < 1:
        raise FieldError(field, f"{seconds:g} s is less than one frame at {fps} fps")
    return frames


def _number(field: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"must be a number, got {_shown(value)}") from None
    if not math.isfinite(number):
        raise FieldError(field, f"must be a finite number, got {_shown(value)}")
    return number


def _whole(field: str, value: Any, minimum: int = 0) -> int:
    number = _number(field, value)
    if number != int(number) or number < minimum:
        raise FieldError(field, f"must be a whole number of at least {minimum}, got {_shown(value)}")
    return int(number)


def _flag(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise FieldError(field, f"must be true or false, got {_shown(value)}")


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError(field, f"must be text, got {_shown(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(field, "contains a character that is not valid text (a lone surrogate)") from None
    return value


def _characters(value: Any) -> tuple[str, ...]:
    """A list of names, or one comma-separated string as typed in a text box."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(name, str) for name in value):
        raise FieldError("characters", f"must be a list of names, got {_shown(value)}")
    names: list[str] = []
    for name in (n.strip() for n in value):
        if name and name not in names:
            names.append(_text("characters", name))
    return tuple(names)


def _cast(value: Any) -> tuple[CastMember, ...]:
    """[{"name", "voice"}, ...], or lines "NAME" / "NAME: voice" as typed in a text box."""
    if isinstance(value, str):
        value = [dict(zip(("name", "voice"), (part.strip() for part in line.split(":", 1))))
                 for line in value.splitlines() if line.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, Mapping) for item in value):
        raise FieldError("cast", f"must be a list of {{name, voice}}, got {_shown(value)}")
    try:
        return tuple(CastMember(name=_text("cast", item.get("name", "")), voice=_text("cast", item.get("voice") or ""))
                     for item in value)
    except BoardError as error:
        raise FieldError("cast", str(error)) from None


def keep_looks(old: tuple[CastMember, ...], new: tuple[CastMember, ...]) -> tuple[CastMember, ...]:
    """A cast typed as names and voices keeps each named member's description and reference
    pictures (the text box does not show them, so it must not drop them)."""
    import dataclasses

    known = {member.name.strip().casefold(): member for member in old}
    return tuple(dataclasses.replace(member, description=known[member.name.strip().casefold()].description,
                                     references=known[member.name.strip().casefold()].references)
                 if member.name.strip().casefold() in known and not member.description and not member.references
                 else member for member in new)


def _loras(field: str, value: Any) -> tuple[Any, ...]:
    """[{"source", "weight"}, ...] (a board's or a shot's LoRAs), or lines "SOURCE" / "SOURCE: weight"
    as typed in a text box."""
    from studio.board_codec import loras_from_list

    if isinstance(value, str):
        value = [lora_line(line) for line in value.splitlines() if line.strip()]
    if not isinstance(value, (list, tuple)):
        raise FieldError(field, f"must be a list of {{source, weight}}, got {_shown(value)}")
    try:
        return loras_from_list(list(value), field)
    except BoardError as error:
        raise FieldError(field, str(error)) from None


def lora_line(line: str) -> dict[str, Any]:
    """"style/ink: 0.7" -> {"source": "style/ink", "weight": 0.7}; no weight means 1."""
    source, sep, weight = line.strip().rpartition(":")
    if sep:
        try:
            return {"source": source.strip(), "weight": float(weight)}
        except ValueError:
            pass
    return {"source": line.strip(), "weight": 1.0}


def lora_lines(loras: tuple[Any, ...]) -> str:
    """LoRAs as the text box shows them (one per line, ": weight" unless 1)."""
    return "\n".join(lora.source + (f": {lora.weight:g}" if lora.weight != 1 else "") for lora in loras)


def _camera(shot: Shot, changes: Mapping[str, Any]) -> tuple[CameraMove, ...]:
    """The shot's camera segments after ``changes`` (a whole list, or the first segment's parts)."""
    if "camera" in changes:
        segments = changes["camera"]
        if not isinstance(segments, (list, tuple)) or not segments:
            raise FieldError("camera", f"must be a list of one or more moves, got {_shown(segments)}")
        if len(segments) > 8:
            raise FieldError("camera", f"at most 8 moves in one shot, got {len(segments)}")
        moves = []
        for index, segment in enumerate(segments):
            if not isinstance(segment, Mapping):
                raise FieldError("camera", f"move {index + 1} must be an object with move, intensity, easing")
            moves.append(_move(segment, CameraMove(), f"move {index + 1}: "))
        return tuple(moves)
    return (_move(changes, shot.camera[0]),) + shot.camera[1:]


def _move(values: Mapping[str, Any], current: CameraMove, where: str = "") -> CameraMove:
    try:
        return CameraMove(move=values.get("move", current.move),
                          intensity=_number("intensity", values.get("intensity", current.intensity)),
                          easing=values.get("easing", current.easing))
    except BoardError as error:
        raise FieldError(error.field if not where else "camera", where + str(error)) from None


def _transition(board: Board, shot: Shot, changes: Mapping[str, Any]) -> Transition:
    kind = changes.get("transition", shot.transition.kind)
    length = shot.transition.length
    if "transition_frames" in changes:
        length = _whole("transition_frames", changes["transition_frames"])
    if kind != "cut" and length == 0:
        length = max(1, min(12, board.fps.seconds_to_frames(0.5)))
    try:
        return Transition(kind=kind, length=0 if kind == "cut" else length)
    except BoardError as error:
        raise FieldError("transition" if error.field == "kind" else "transition_frames", str(error)) from None


def shot_updates(board: Board, shot: Shot, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` as Shot field values (types converted; the model validates them)."""
    unknown = sorted(set(changes) - set(SHOT_FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"is not a shot field; fields are {', '.join(SHOT_FIELDS)}")
    updates: dict[str, Any] = {}
    for name in TEXT_FIELDS + CHOICE_FIELDS:
        if name in changes:
            updates[name] = _text(name, changes[name])
    if "lens_mm" in changes:
        value = changes["lens_mm"]
        updates["lens_mm"] = None if value in (None, "", 0) else _number("lens_mm", value)
    if "characters" in changes:
        updates["characters"] = _characters(changes["characters"])
    if "duration_s" in changes:
        updates["duration"] = seconds_to_frames(board.fps, changes["duration_s"])
    if "duration" in changes:
        updates["duration"] = _whole("duration", changes["duration"], minimum=1)
    for name in ("trim_in", "trim_out"):
        if name in changes:
            updates[name] = _whole(name, changes[name])
    if "seed" in changes:
        updates["seed"] = parse_seed(changes["seed"])
    for name in ("seed_locked", "continuity"):
        if name in changes:
            updates[name] = _flag(name, changes[name])
    if {"camera", "move", "intensity", "easing"} & set(changes):
        updates["camera"] = _camera(shot, changes)
    if {"transition", "transition_frames"} & set(changes):
        updates["transition"] = _transition(board, shot, changes)
    if "backend" in changes:
        backend = changes["backend"]
        if backend in (None, "", "board default"):
            updates["backend"] = None
        elif backend not in BACKENDS:
            raise FieldError("backend", f"must be one of {', '.join(BACKENDS)}, got {_shown(backend)}")
        else:
            updates["backend"] = backend
    if "scene_id" in changes:
        updates["scene_id"] = changes["scene_id"] or None
    if "quality" in changes:
        quality = changes["quality"]
        if quality in (None, "", "board default"):
            updates["quality"] = None
        elif quality not in QUALITIES:
            raise FieldError("quality", f"must be one of {', '.join(QUALITIES)} (or board default), got {_shown(quality)}")
        else:
            updates["quality"] = quality
    if "take_audio_level" in changes:
        updates["take_audio_level"] = _number("take_audio_level", changes["take_audio_level"])
    if "loras" in changes:
        updates["loras"] = _loras("loras", changes["loras"])
    if "chosen_take" in changes:
        take_id = changes["chosen_take"]
        if take_id not in [t.id for t in shot.takes]:
            raise FieldError("chosen_take", f"shot {shot.id} has no take {_shown(take_id)}")
        updates["chosen_take"] = take_id
    return updates


def apply_shot_changes(board: Board, shot_id: str, changes: Mapping[str, Any]) -> Board:
    """The board with ``changes`` applied to one shot; raises FieldError and changes nothing."""
    try:
        shot = board.shot(shot_id)
    except BoardError as error:
        raise FieldError("shot", str(error)) from None
    updates = shot_updates(board, shot, changes)
    try:
        return board.with_shot(shot.replace(**updates))
    except BoardError as error:
        field = error.field.split(".")[-1].split("[")[0]
        raise FieldError(MODEL_TO_FIELD.get(field, field), str(error)) from None


def apply_board_settings(board: Board, changes: Mapping[str, Any], keep: str = "seconds") -> Board:
    """Board settings from the settings panel; FieldError names the bad one.

    A new frame rate keeps every shot's length in seconds (``keep="seconds"``: frame counts,
    trims, transitions, keyframe frames, fades and the audio offset are rescaled) or keeps the
    frame counts (``keep="frames"``: the film gets shorter or longer).
    """
    unknown = sorted(set(changes) - set(BOARD_FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"is not a board setting; settings are {', '.join(BOARD_FIELDS)}")
    if keep not in ("seconds", "frames"):
        raise FieldError("fps", f"keep must be 'seconds' or 'frames', got {_shown(keep)}")
    updates: dict[str, Any] = {}
    if "title" in changes:
        updates["title"] = _text("title", changes["title"])
    for name in ("width", "height"):
        if name in changes:
            updates[name] = _whole(name, changes[name])
    if "default_backend" in changes:
        if changes["default_backend"] not in BACKENDS:
            raise FieldError("default_backend", f"must be one of {', '.join(BACKENDS)}, got {_shown(changes['default_backend'])}")
        updates["default_backend"] = changes["default_backend"]
    if "default_model" in changes:
        updates["default_model"] = str(changes["default_model"] or "").strip() or None
    if "memory_profile" in changes:
        updates["memory_profile"] = str(changes["memory_profile"])
    if "quality" in changes:
        updates["quality"] = str(changes["quality"])
    if "shot_numbering" in changes:
        updates["shot_numbering"] = _text("shot_numbering", changes["shot_numbering"])
    if "words_per_second" in changes:
        updates["words_per_second"] = _number("words_per_second", changes["words_per_second"])
    if "scratch_dialogue" in changes:
        updates["scratch_dialogue"] = _flag("scratch_dialogue", changes["scratch_dialogue"])
    if "cast" in changes:
        updates["cast"] = keep_looks(board.cast, _cast(changes["cast"]))
    if "loras" in changes:
        updates["loras"] = _loras("loras", changes["loras"])
    try:
        if "fps" in changes:
            fps = FrameRate.parse(changes["fps"])
            if fps != board.fps and keep == "seconds":
                board = retime(board, fps)
            updates["fps"] = fps
        return board.replace(**updates)
    except BoardError as error:
        raise FieldError(error.field.split(".")[-1].split("[")[0] or "fps", str(error)) from None


def retime(board: Board, fps: FrameRate) -> Board:
    """The board at a new frame rate with every length kept in seconds (rounded to frames)."""
    def scale(frames: int) -> int:
        return int(round(frames * fps.fraction / board.fps.fraction))

    shots = []
    for shot in board.shots:
        duration = max(1, scale(shot.duration))
        trim_in, trim_out = scale(shot.trim_in), scale(shot.trim_out)
        if trim_in + trim_out >= duration:
            trim_in = trim_out = 0
        keyframes = tuple(k if k.role == "first" else dataclasses.replace(k, frame=min(duration - 1, scale(k.frame)))
                          for k in shot.keyframes)
        transition = shot.transition
        if transition.kind != "cut":
            transition = Transition(transition.kind, max(1, scale(transition.length)))
        shots.append(shot.replace(duration=duration, trim_in=trim_in, trim_out=trim_out,
                                  keyframes=keyframes, transition=transition))
    audio = board.audio and dataclasses.replace(board.audio, offset=scale(board.audio.offset),
                                                fade_out=scale(board.audio.fade_out))
    return board.replace(fps=fps, shots=fit_dissolves(tuple(shots)), fade_in=scale(board.fade_in),
                         fade_out=scale(board.fade_out), audio=audio)


def new_shot(board: Board, **fields: Any) -> Shot:
    """A fresh card: the board's last shot's length, a static camera, and a seed drawn anew for
    every take until the user locks one."""
    duration = board.shots[-1].duration if board.shots else board.fps.seconds_to_frames(2)
    shot = Shot(id=new_id("shot"), title=f"Shot {len(board.shots) + 1}", duration=duration,
                seed=random_seed(), seed_locked=False)
    if fields:
        board = board.add_shot(shot)
        shot = apply_shot_changes(board, shot.id, fields).shot(shot.id)
    return shot


def duplicate_shot(shot: Shot) -> Shot:
    """A copy of a card with a new id and no takes (a take belongs to the shot that made it)."""
    title = f"{shot.title} (copy)" if shot.title else ""
    return shot.replace(id=new_id("shot"), title=title, takes=(), chosen_take=None)


def frames_label(board: Board, frames: int) -> str:
    return f"{frames} frames at {board.fps} fps ({board.fps.frames_to_seconds(frames):.2f} s)"
