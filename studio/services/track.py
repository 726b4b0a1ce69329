"""The cut as the timeline track shows it: each shot's place in frames, its trims and the
transition into it, dialogue markers, and the scratch track with its waveform. Plain data for
the browser's track and the HTTP API (the UI adds picture URLs); no widgets here.
"""

from __future__ import annotations

from typing import Any

from studio.board import Board, Shot
from studio.scenes import shot_numbers
from studio.services.takes import take_has_sound
from studio.storage import Project, ProjectError


def track_data(project: Project, board: Board) -> dict[str, Any]:
    """Frames, not seconds: ``start``/``length`` on the timeline, ``trim_in``/``trim_out``/
    ``duration`` of the shot, the incoming ``transition`` ({kind, length}), whether its chosen take
    carries its own sound (``take_audio``) and that sound's level in dB; ``audio`` is None or
    {name, offset, level, muted, fade_out, frames, peaks (one per frame)}."""
    starts = board.shot_start_frames()
    shots = []
    for number, start, shot in zip(shot_numbers(board), starts, board.shots):
        shots.append({
            "id": shot.id, "number": number, "title": shot.title, "start": start, "length": shot.edit_duration,
            "duration": shot.duration, "trim_in": shot.trim_in, "trim_out": shot.trim_out,
            "transition": {"kind": shot.transition.kind, "length": shot.transition.length},
            "dialogue": shot.dialogue.strip(), "speaker": shot.speaker, "has_take": shot.chosen() is not None,
            "take_audio": _sounding(project, shot), "take_audio_level": shot.take_audio_level,
        })
    return {"fps": str(board.fps), "rate": float(board.fps), "total_frames": board.total_frames,
            "revision": board.revision, "shots": shots, "audio": _audio(project, board)}


def _sounding(project: Project, shot: Shot) -> bool:
    try:
        return take_has_sound(project.resolve, shot.chosen())
    except ProjectError:  # a take path the project refuses: shown as silent, the export says why
        return False


def _audio(project: Project, board: Board) -> dict[str, Any] | None:
    track = board.audio
    if track is None:
        return None
    data: dict[str, Any] = {"name": track.path.rsplit("/", 1)[-1], "offset": track.offset, "level": track.level,
                            "muted": track.muted, "fade_out": track.fade_out, "frames": 0, "peaks": [], "error": ""}
    try:
        from studio.services.waveform import frame_peaks

        path = project.resolve(track.path, "audio")
        peaks = frame_peaks(path, board.fps, project.resolve("exports/.cache", "export cache"))
        data.update(frames=len(peaks), peaks=peaks)
    except (ProjectError, OSError, ValueError, IndexError) as error:
        data["error"] = f"the scratch track cannot be read ({error})"
    except Exception as error:  # noqa: BLE001 - a decoder error (PyAV) must not break the page
        data["error"] = f"the scratch track cannot be decoded ({type(error).__name__})"
    return data
