"""The files a timeline shows: every chosen take found, probed and checked once, its sidecar read,
and the scratch track checked. The layout itself (studio.timeline) never touches a file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from studio.media import MediaError, StreamInfo, has_audio, probe_audio, probe_stream
from studio.board import Take
from studio.slate import SLATE_NUMBER_AT_EXPORT
from studio.timeline import Segment, Timeline, TimelineError

def read_sidecar(resolve: Callable[[str], Path], segment: Segment) -> dict[str, Any] | None:
    """The chosen take's JSON sidecar (its generation settings), or None if it cannot be read."""
    if segment.take is None:
        return None
    try:
        data = json.loads(resolve(segment.take.sidecar_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def take_has_sound(resolve: Callable[[str], Path], take: Take | None) -> bool:
    """Whether a take's sidecar says its file carries the model's own sound (render.audio_record)."""
    if take is None:
        return False
    try:
        data = json.loads(resolve(take.sidecar_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("audio"), dict)


def _slate_take(sidecar: dict[str, Any] | None) -> str:
    """"" for a picture, "number" for a slate take whose number is drawn at export, "baked" for
    one from an older version with the shot number drawn into its frames."""
    generation = (sidecar or {}).get("generation")
    if not isinstance(generation, dict) or generation.get("source") != "slate":
        return ""
    return "number" if generation.get("slate_number") == SLATE_NUMBER_AT_EXPORT else "baked"


def attach_media(timeline: Timeline, resolve: Callable[[str], Path], use_slates: bool = False,
                 probe: Callable[[Path], StreamInfo] = probe_stream) -> Timeline:
    """Find and check every chosen take. A missing or unreadable one raises TimelineError naming
    the shot, unless ``use_slates``: then a slate stands in and a warning says so. ``probe``
    reads a take's stream (the export service passes a cached one). A take that is a slate gets
    the shot's current number drawn over it; one with an old number baked in is replaced by a
    fresh slate, with a warning."""
    segments, warnings = [], list(timeline.warnings)
    for segment in timeline.segments:
        if segment.take is None:
            segments.append(segment)
            continue
        name = segment.label("message")
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
        sidecar = read_sidecar(resolve, segment)
        slate = _slate_take(sidecar)
        if slate == "baked":
            warnings.append(f"{name}: its take is a slate with an old shot number drawn in; a fresh slate is shown instead (re-render it to see the camera move)")
            segments.append(dataclasses.replace(segment, slate_reason="slate take renumbered"))
            continue
        if info.frames * timeline.fps.fraction / info.fps.fraction < segment.source_out:
            warnings.append(f"{name}: the take has {info.frames} frames but the shot shows up to frame {segment.source_out}; its last frame is held")
        if (info.width, info.height) != (timeline.width, timeline.height) or info.fps != timeline.fps:
            warnings.append(f"{name}: take is {info.width}x{info.height} at {info.fps} fps; conformed to {timeline.width}x{timeline.height} at {timeline.fps} fps")
        sound = isinstance((sidecar or {}).get("audio"), dict)
        if sound and not has_audio(path):
            warnings.append(f"{name}: its sidecar says the take has sound but {segment.take.path} has no audio stream; it is silent")
            sound = False
        segments.append(dataclasses.replace(segment, path=path, info=info, slate_take=slate == "number",
                                            take_audio=sound))
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
