"""Slate clips: a video file for every shot that has no usable take, so that an edit export
names real media for it (an editor sees the card, with the shot's number, title and move),
never an empty clip.

A slate clip runs the shot's whole generated length (``shot.duration``), so trims and dissolves
in the edit have handles as they would with a take. It is written once under
``exports/slates/<shot id>.mp4`` and written again only when what it shows changes (the key
file beside it says what it shows).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from studio.common import write_atomic
from studio.timeline import Segment, Timeline

SLATE_DIR = "slates"


def _key(timeline: Timeline, segment: Segment) -> str:
    shot = segment.shot
    text = repr((segment.number, shot.title, shot.camera_label(), shot.prompt, shot.duration, segment.duration,
                 segment.slate_reason, timeline.width, timeline.height, str(timeline.fps)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def slate_clips(timeline: Timeline, folder: Path) -> dict[int, Path]:
    """Segment index -> its slate clip under ``folder`` (made when missing or out of date)."""
    from studio.compositor import Compositor
    from studio.media import write_video_stream

    wanted = [segment for segment in timeline.segments if segment.is_slate or segment.path is None]
    if not wanted:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    clips: dict[int, Path] = {}
    with Compositor(timeline) as compositor:
        for segment in wanted:
            path = folder / f"{segment.shot.id}.mp4"
            key_file = folder / f"{segment.shot.id}.key"
            key = _key(timeline, segment)
            current = key_file.read_text(encoding="utf-8").strip() if key_file.is_file() else ""
            if current != key or not path.is_file():
                card = np.ascontiguousarray(compositor.source(segment.index, 0))
                write_video_stream(path, (card for _ in range(segment.shot.duration)),
                                   timeline.width, timeline.height, timeline.fps)
                write_atomic(key_file, key.encode("utf-8"))
            clips[segment.index] = path
    return clips
