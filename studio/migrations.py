"""board.json schema migrations: pure ``dict -> dict`` functions, one per version step.

Each step takes a board of version N and returns version N+1, touching nothing else, so a board
written by any earlier release opens today. Every step has a fixture in tests/fixtures.

History:
- 1: the draft format. Durations in (float) seconds as ``duration_seconds``, one camera move per
  shot as ``camera: {"move", "intensity", "easing"}`` (or a bare move name), fps a number.
- 2: durations in integer frames (``duration``), ``camera`` a list of moves, fps a rational
  string such as "24" or "30000/1001".
- 3: a board ``revision`` (bumped by every saved edit), and storyboard fields on each shot:
  ``shot_size``, ``angle``, ``lens_mm``, ``action``, ``speaker`` (who says the dialogue),
  ``location``, ``int_ext`` and ``characters``.
- 4: the script: board ``scenes`` (each ``id``, ``number``, ``int_ext``, ``location``,
  ``time_of_day``, ``synopsis``), a ``scene_id`` on each shot (null: outside any scene),
  ``shot_numbering`` ("sequential" or "scene": 12, 12A, 12B), ``words_per_second`` (dialogue
  timing, 2.5), ``cast`` (``name`` + espeak-ng ``voice``) and ``scratch_dialogue`` (false).
  Other optional fields added in version 4 (with their defaults, filled in on load):
  the scratch track's ``audio.level`` (gain in dB, 0.0) and ``audio.muted`` (false).
  A shot's drawn ``panels`` ([]): each ``role``, ``frame``, ``flat`` (the flattened PNG, the
  keyframe it shows) and ``layers`` (``name``, ``path`` of an RGBA PNG, ``depth`` 1.0, ``visible``
  true, ``opacity`` 1.0), back to front.
  A cast member's ``description`` ("") and ``references`` ([] of pictures in the project); board
  ``locations`` ([]: each ``name``, ``description``, ``references``; a shot's ``location`` names
  one) and ``loras`` ([]: each ``source``, a file, folder or hub id, and ``weight`` 1.0); a shot's
  ``loras`` ([]), on top of the board's.
  A shot's ``take_audio_level`` (0.0: gain in dB of its chosen take's own sound in the cut).
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Callable

from studio.board import SCHEMA_VERSION


class MigrationError(ValueError):
    """board.json cannot be brought to the current schema; the message says why."""


def _v1_to_v2(board: dict[str, Any]) -> dict[str, Any]:
    fps_value = board.get("fps", 24)
    try:
        fps = Fraction(str(fps_value)).limit_denominator(1001)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise MigrationError(f"fps: version-1 boards store a number, got {fps_value!r}") from None
    if fps <= 0:
        raise MigrationError(f"fps: must be positive, got {fps_value!r}")
    if abs(float(fps) - 24000 / 1001) < 0.01:
        fps = Fraction(24000, 1001)
    elif abs(float(fps) - 30000 / 1001) < 0.01:
        fps = Fraction(30000, 1001)
    shots = []
    for index, shot in enumerate(board.get("shots", [])):
        if not isinstance(shot, dict):
            raise MigrationError(f"shots[{index}]: must be an object, got {shot!r}")
        shot = dict(shot)
        seconds = shot.pop("duration_seconds", 2.0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise MigrationError(f"shots[{index}].duration_seconds: must be a finite number, got {seconds!r}")
        shot["duration"] = int(round(Fraction(seconds).limit_denominator(10**6) * fps))
        camera = shot.get("camera", "static")
        if isinstance(camera, str):
            camera = {"move": camera}
        shot["camera"] = [camera] if isinstance(camera, dict) else camera
        shots.append(shot)
    migrated = dict(board)
    migrated["shots"] = shots
    migrated["fps"] = str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"
    migrated["schema_version"] = 2
    return migrated


V3_SHOT_DEFAULTS = MappingProxyType({
    "shot_size": "", "angle": "", "lens_mm": None, "action": "", "speaker": "", "location": "",
    "int_ext": "", "characters": [],
})


def _v2_to_v3(board: dict[str, Any]) -> dict[str, Any]:
    shots = []
    for index, shot in enumerate(board.get("shots", [])):
        if not isinstance(shot, dict):
            raise MigrationError(f"shots[{index}]: must be an object, got {shot!r}")
        shots.append({**{key: copy.copy(value) for key, value in V3_SHOT_DEFAULTS.items()}, **shot})
    migrated = dict(board)
    migrated["shots"] = shots
    migrated.setdefault("revision", 0)
    migrated["schema_version"] = 3
    return migrated


V4_BOARD_DEFAULTS = MappingProxyType({
    "scenes": [], "shot_numbering": "sequential", "words_per_second": 2.5, "cast": [],
    "scratch_dialogue": False,
})


def _v3_to_v4(board: dict[str, Any]) -> dict[str, Any]:
    shots = []
    for index, shot in enumerate(board.get("shots", [])):
        if not isinstance(shot, dict):
            raise MigrationError(f"shots[{index}]: must be an object, got {shot!r}")
        shots.append({"scene_id": None, **shot})
    migrated = {**{key: copy.copy(value) for key, value in V4_BOARD_DEFAULTS.items()}, **board}
    migrated["shots"] = shots
    migrated["schema_version"] = 4
    return migrated


MIGRATIONS: MappingProxyType[int, Callable[[dict[str, Any]], dict[str, Any]]] = MappingProxyType({
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
})
"""version N -> the function that turns a version-N board into version N+1."""


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring board data of any known version to SCHEMA_VERSION (the input is not modified)."""
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MigrationError(f"schema_version: must be a whole number, got {version!r}")
    if version > SCHEMA_VERSION:
        raise MigrationError(
            f"schema_version: this board was written by a newer Previz Studio (schema {version}); "
            f"this version reads schemas 1 to {SCHEMA_VERSION}. Upgrade to open it."
        )
    if version < 1:
        raise MigrationError(f"schema_version: must be at least 1, got {version}")
    if version == SCHEMA_VERSION:
        return data  # nothing to do, and copying a large board on every load costs more than parsing it
    data = copy.deepcopy(data)
    while data["schema_version"] < SCHEMA_VERSION:
        data = MIGRATIONS[data["schema_version"]](data)
    return data
