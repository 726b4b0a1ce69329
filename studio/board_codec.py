"""Board <-> plain JSON-able dict, for the current schema version. Pure: no file IO.

Unknown keys are kept in each object's ``extra`` and written back unchanged, so a board saved by
a newer tool (or edited by hand) loses nothing when this version opens and saves it.
Errors are :class:`~studio.board.BoardError` with the full field path (``shots[2].seed``).
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from studio.board import (
    SCHEMA_VERSION,
    AudioTrack,
    Board,
    BoardError,
    CameraMove,
    CastMember,
    FrameRate,
    Keyframe,
    Layer,
    Location,
    Lora,
    Panel,
    Scene,
    Shot,
    Take,
    Transition,
)

T = TypeVar("T")

_SHOT_FIELDS = (
    "id", "title", "prompt", "negative_prompt", "duration", "camera", "seed", "seed_locked",
    "keyframes", "continuity", "notes", "dialogue", "transition", "trim_in", "trim_out",
    "takes", "chosen_take", "backend", "shot_size", "angle", "lens_mm", "action", "speaker", "take_audio_level",
    "location", "int_ext", "characters", "scene_id", "panels", "loras", "quality",
)
_BOARD_FIELDS = (
    "schema_version", "title", "fps", "width", "height", "default_backend", "default_model",
    "memory_profile", "quality", "shots", "fade_in", "fade_out", "audio", "revision",
    "scenes", "shot_numbering", "words_per_second", "cast", "scratch_dialogue", "locations", "loras",
)
_SCENE_FIELDS = ("id", "number", "int_ext", "location", "time_of_day", "synopsis")


def board_to_dict(board: Board) -> dict[str, Any]:
    """The board as board.json content (current schema), unknown fields included."""
    data: dict[str, Any] = dict(board.extra)
    data.update(
        schema_version=SCHEMA_VERSION,
        revision=board.revision,
        title=board.title,
        fps=str(board.fps),
        width=board.width,
        height=board.height,
        default_backend=board.default_backend,
        default_model=board.default_model,
        memory_profile=board.memory_profile,
        quality=board.quality,
        fade_in=board.fade_in,
        fade_out=board.fade_out,
        audio=None if board.audio is None else {
            "path": board.audio.path, "offset": board.audio.offset, "fade_out": board.audio.fade_out,
            "level": board.audio.level, "muted": board.audio.muted,
        },
        shots=[shot_to_dict(shot) for shot in board.shots],
        scenes=[{name: getattr(scene, name) for name in _SCENE_FIELDS} for scene in board.scenes],
        shot_numbering=board.shot_numbering,
        words_per_second=board.words_per_second,
        cast=[{"name": member.name, "voice": member.voice, "description": member.description,
               "references": list(member.references)} for member in board.cast],
        scratch_dialogue=board.scratch_dialogue,
        locations=[{"name": place.name, "description": place.description, "references": list(place.references)}
                   for place in board.locations],
        loras=loras_to_list(board.loras),
    )
    return data


def shot_to_dict(shot: Shot) -> dict[str, Any]:
    data: dict[str, Any] = dict(shot.extra)
    data.update(
        id=shot.id,
        title=shot.title,
        prompt=shot.prompt,
        negative_prompt=shot.negative_prompt,
        duration=shot.duration,
        camera=[{"move": m.move, "intensity": m.intensity, "easing": m.easing} for m in shot.camera],
        seed=shot.seed,
        seed_locked=shot.seed_locked,
        keyframes=[{"role": k.role, "path": k.path, "frame": k.frame} for k in shot.keyframes],
        continuity=shot.continuity,
        notes=shot.notes,
        dialogue=shot.dialogue,
        transition={"kind": shot.transition.kind, "length": shot.transition.length},
        shot_size=shot.shot_size,
        angle=shot.angle,
        lens_mm=shot.lens_mm,
        action=shot.action,
        speaker=shot.speaker,
        location=shot.location,
        int_ext=shot.int_ext,
        characters=list(shot.characters),
        trim_in=shot.trim_in,
        trim_out=shot.trim_out,
        takes=[
            {
                "id": t.id, "path": t.path, "seed": t.seed, "backend": t.backend,
                "model": t.model, "frames": t.frames, "created": t.created,
            } | ({"quality": t.quality} if t.quality else {})
            for t in shot.takes
        ],
        chosen_take=shot.chosen_take,
        backend=shot.backend,
        quality=shot.quality,
        scene_id=shot.scene_id,
        panels=[panel_to_dict(panel) for panel in shot.panels],
        take_audio_level=shot.take_audio_level,
        loras=loras_to_list(shot.loras),
    )
    return data


def loras_to_list(loras: tuple[Lora, ...]) -> list[dict[str, Any]]:
    return [{"source": lora.source, "weight": lora.weight} for lora in loras]


def loras_from_list(data: Any, field_path: str = "loras") -> tuple[Lora, ...]:
    return tuple(_within(f"{field_path}[{i}]", lambda item=item: Lora(**_fields(item, "LoRA", ("source", "weight"))))
                 for i, item in enumerate(_list(data, field_path)))


def _look(item: Any, what: str, names: tuple[str, ...]) -> dict[str, Any]:
    """A cast member's or location's fields, ``references`` as a tuple."""
    fields = _fields(item, what, names)
    if "references" in fields:
        fields["references"] = tuple(_list(fields["references"], "references"))
    return fields


_LAYER_FIELDS = ("name", "path", "depth", "visible", "opacity")


def panel_to_dict(panel: Panel) -> dict[str, Any]:
    return {"role": panel.role, "frame": panel.frame, "flat": panel.flat,
            "layers": [{name: getattr(layer, name) for name in _LAYER_FIELDS} for layer in panel.layers]}


def panel_from_dict(data: Any) -> Panel:
    obj = _mapping(data, "panel")
    layers = tuple(_within(f"layers[{i}]", lambda item=item: Layer(**_fields(item, "layer", _LAYER_FIELDS)))
                   for i, item in enumerate(_list(obj.get("layers", []), "layers")))
    return Panel(**_fields(obj, "panel", ("role", "frame", "flat")), layers=layers)


def board_from_dict(data: Any) -> Board:
    """Build and validate a Board from current-schema data (run migrations first)."""
    obj = _mapping(data, "board")
    version = obj.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BoardError("schema_version", version, f"this reader takes version {SCHEMA_VERSION}")
    shots_data = obj.get("shots", [])
    if not isinstance(shots_data, list):
        raise BoardError("shots", shots_data, "must be a list of shots")
    shots = tuple(
        _within(f"shots[{index}]", lambda item=item: shot_from_dict(item))
        for index, item in enumerate(shots_data)
    )
    audio_data = obj.get("audio")
    audio = None
    if audio_data is not None:
        audio_obj = _mapping(audio_data, "audio")
        audio = _within("audio", lambda: AudioTrack(
            path=audio_obj.get("path"),
            offset=audio_obj.get("offset", 0),
            fade_out=audio_obj.get("fade_out", 0),
            level=audio_obj.get("level", 0.0),
            muted=audio_obj.get("muted", False),
        ))
    scenes = tuple(
        _within(f"scenes[{i}]", lambda item=item: Scene(**_fields(item, "scene", _SCENE_FIELDS)))
        for i, item in enumerate(_list(obj.get("scenes", []), "scenes"))
    )
    cast = tuple(
        _within(f"cast[{i}]", lambda item=item: CastMember(**_look(item, "cast member",
                                                                  ("name", "voice", "description", "references"))))
        for i, item in enumerate(_list(obj.get("cast", []), "cast"))
    )
    extra = {k: v for k, v in obj.items() if k not in _BOARD_FIELDS}
    return Board(
        title=obj.get("title", "Untitled board"),
        fps=FrameRate.parse(obj.get("fps", 24)),
        width=obj.get("width", 832),
        height=obj.get("height", 480),
        default_backend=obj.get("default_backend", "animatic"),
        default_model=_optional_text(obj.get("default_model"), "default_model"),
        memory_profile=obj.get("memory_profile", "none"),
        quality=obj.get("quality", "final"),
        shots=shots,
        fade_in=obj.get("fade_in", 0),
        fade_out=obj.get("fade_out", 0),
        audio=audio,
        revision=obj.get("revision", 0),
        scenes=scenes,
        shot_numbering=obj.get("shot_numbering", "sequential"),
        words_per_second=obj.get("words_per_second", 2.5),
        cast=cast,
        scratch_dialogue=obj.get("scratch_dialogue", False),
        locations=tuple(_within(f"locations[{i}]", lambda item=item: Location(**_look(
            item, "location", ("name", "description", "references"))))
            for i, item in enumerate(_list(obj.get("locations", []), "locations"))),
        loras=loras_from_list(obj.get("loras", [])),
        extra=extra,
    )


def shot_from_dict(data: Any) -> Shot:
    obj = _mapping(data, "shot")
    if "id" not in obj:
        raise BoardError("id", None, "every shot needs an id")
    camera = tuple(
        _within(f"camera[{i}]", lambda m=m: CameraMove(**_fields(m, "camera move", ("move", "intensity", "easing"))))
        for i, m in enumerate(_list(obj.get("camera", []), "camera"))
    )
    keyframes = tuple(
        _within(f"keyframes[{i}]", lambda k=k: Keyframe(**_fields(k, "keyframe", ("role", "path", "frame"))))
        for i, k in enumerate(_list(obj.get("keyframes", []), "keyframes"))
    )
    takes = tuple(
        _within(
            f"takes[{i}]",
            lambda t=t: Take(**_fields(t, "take", ("id", "path", "seed", "backend", "model", "frames", "created",
                                                   "quality"))),
        )
        for i, t in enumerate(_list(obj.get("takes", []), "takes"))
    )
    transition_data = obj.get("transition") or {"kind": "cut", "length": 0}
    transition = _within("transition", lambda: Transition(**_fields(transition_data, "transition", ("kind", "length"))))
    extra = {k: v for k, v in obj.items() if k not in _SHOT_FIELDS}
    return Shot(
        id=obj["id"],
        title=obj.get("title", ""),
        prompt=obj.get("prompt", ""),
        negative_prompt=obj.get("negative_prompt", ""),
        duration=obj.get("duration", 48),
        camera=camera,
        seed=obj.get("seed", 0),
        seed_locked=obj.get("seed_locked", True),
        keyframes=keyframes,
        continuity=obj.get("continuity", False),
        notes=obj.get("notes", ""),
        dialogue=obj.get("dialogue", ""),
        transition=transition,
        shot_size=obj.get("shot_size", ""),
        angle=obj.get("angle", ""),
        lens_mm=obj.get("lens_mm"),
        action=obj.get("action", ""),
        speaker=obj.get("speaker", ""),
        location=obj.get("location", ""),
        int_ext=obj.get("int_ext", ""),
        characters=tuple(_list(obj.get("characters", []), "characters")),
        trim_in=obj.get("trim_in", 0),
        trim_out=obj.get("trim_out", 0),
        takes=takes,
        chosen_take=obj.get("chosen_take"),
        backend=_optional_text(obj.get("backend"), "backend"),
        quality=obj.get("quality"),
        scene_id=_optional_text(obj.get("scene_id"), "scene_id"),
        panels=tuple(_within(f"panels[{i}]", lambda item=item: panel_from_dict(item))
                     for i, item in enumerate(_list(obj.get("panels", []), "panels"))),
        take_audio_level=obj.get("take_audio_level", 0.0),
        loras=loras_from_list(obj.get("loras", [])),
        extra=extra,
    )


# --------------------------------------------------------------------------------------------


def _within(prefix: str, build: Callable[[], T]) -> T:
    """Run ``build`` and prefix the field path of any BoardError it raises."""
    try:
        return build()
    except BoardError as error:
        path = f"{prefix}.{error.field}" if prefix else error.field
        raise BoardError(path, error.value, error.problem) from None
    except TypeError as error:  # a dataclass was called without a required field
        raise BoardError(prefix or "board", None, f"missing a required field ({error})") from None


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BoardError(what, value, "must be a JSON object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise BoardError(what, value, "must be a list")
    return value


def _fields(value: Any, what: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    obj = _mapping(value, what)
    return {k: v for k, v in obj.items() if k in allowed}


def _optional_text(value: Any, field_path: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BoardError(field_path, value, "must be text or null")
    return value
