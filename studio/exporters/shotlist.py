"""The shot list as CSV (UTF-8, one row per shot, times in frames and timecode)."""

from __future__ import annotations

import csv
from pathlib import Path

from studio.exporters.base import ExportContext, Exporter
from studio.timeline import Timeline

COLUMNS: tuple[str, ...] = (
    "shot", "shot_id", "title", "start_frame", "end_frame", "duration_frames", "duration_seconds",
    "start_timecode", "end_timecode", "transition", "transition_frames", "trim_in", "trim_out",
    "camera", "shot_size", "angle", "lens_mm", "scene_heading", "characters", "take_id", "take_path", "seed",
    "backend", "model", "slate", "prompt", "action", "speaker", "dialogue", "notes",
)


def rows(timeline: Timeline) -> list[dict[str, str | int]]:
    result: list[dict[str, str | int]] = []
    for segment in timeline.segments:
        shot, take = segment.shot, segment.take
        result.append({
            "shot": segment.number, "shot_id": shot.id, "title": shot.title,
            "start_frame": segment.start, "end_frame": segment.end, "duration_frames": segment.duration,
            "duration_seconds": f"{timeline.fps.frames_to_seconds(segment.duration):.3f}",
            "start_timecode": timeline.fps.timecode(segment.start), "end_timecode": timeline.fps.timecode(segment.end),
            "transition": shot.transition.kind, "transition_frames": shot.transition.length,
            "trim_in": shot.trim_in, "trim_out": shot.trim_out, "camera": shot.camera_label(),
            "shot_size": shot.shot_size, "angle": shot.angle.replace("_", " "),
            "lens_mm": "" if shot.lens_mm is None else f"{shot.lens_mm:g}", "scene_heading": shot.scene_heading(),
            "characters": ", ".join(shot.characters),
            "take_id": take.id if take else "", "take_path": take.path if take else "",
            "seed": take.seed if take else shot.seed, "backend": take.backend if take else "",
            "model": (take.model or "") if take else "", "slate": segment.slate_reason,
            "prompt": shot.prompt, "action": shot.action, "speaker": shot.speaker, "dialogue": shot.dialogue, "notes": shot.notes,
        })
    return result


def write(context: ExportContext, out: Path) -> None:
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows(context.timeline))


EXPORTERS = (Exporter("csv", "shots.csv", write, "shot list (CSV)", rank=60),)
