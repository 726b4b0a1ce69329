"""The re-cut import reads the scratch track's offset back (OTIO, FCP7 XML, EDL) and lists it as
a change; an unchanged export lists none; applying moves the track in the same undoable step."""

from __future__ import annotations

import re
from pathlib import Path

import opentimelineio as otio
import pytest

from studio.board import AudioTrack
from studio.services import edits
from studio.services.export import export_board
from studio.services.recut import import_edit
from tests.exportkit import make_project, write_tone

FILES = {"otio": ("otio_json", {}), "fcpxml": ("fcp_xml", {}), "edl": ("cmx_3600", {"rate": 24})}


def _project(root: Path):
    project = make_project(root, durations=(24, 24, 24))
    write_tone(root / "audio/tone.wav", seconds=2.0)
    project.update(lambda b: b.replace(audio=AudioTrack("audio/tone.wav", offset=12)))
    return project


def _move_audio(path: Path, fmt: str, frames: int) -> Path:
    """The editor drags the scratch audio ``frames`` later."""
    out = path.with_name("recut" + path.suffix)
    if fmt == "edl":  # OTIO's EDL writer drops audio events: edit the event's record times as text
        def later(match: re.Match) -> str:
            def shift(tc: str) -> str:
                h, m, s, f = (int(x) for x in tc.split(":"))
                total = ((h * 60 + m) * 60 + s) * 24 + f + frames
                return f"{total // 86400:02d}:{total // 1440 % 60:02d}:{total // 24 % 60:02d}:{total % 24:02d}"
            return f"{match.group(1)}{shift(match.group(2))} {shift(match.group(3))}"
        text = re.sub(r"(?m)^(\d{3}\s+\S+\s+A\s+C\s+\S+ \S+ )(\S+) (\S+)", later, path.read_text())
        out.write_text(text)
        return out
    adapter, options = FILES[fmt]
    timeline = otio.adapters.read_from_file(str(path), **options)
    track = next(t for t in timeline.audio_tracks() if any(c.name == "scratch audio" for c in t.find_clips()))
    gap = track[0]
    assert isinstance(gap, otio.schema.Gap)
    gap.source_range = otio.opentime.TimeRange(duration=gap.source_range.duration + otio.opentime.RationalTime(frames, 24))
    clip = track[1]
    clip.source_range = otio.opentime.TimeRange(clip.source_range.start_time,
                                                clip.source_range.duration - otio.opentime.RationalTime(frames, 24))
    otio.adapters.write_to_file(timeline, str(out), adapter_name=adapter, **options)
    return out


@pytest.mark.parametrize("fmt", ["otio", "fcpxml", "edl"])
def test_scratch_offset_is_read_back_and_applied(tmp_path: Path, fmt: str) -> None:
    project = _project(tmp_path / "p")
    exported = export_board(project, fmt)
    same = import_edit(project, exported.read_bytes(), exported.name, dry_run=True).plan
    assert same.changes == () and same.audio_offset is None, same.lines()
    recut = _move_audio(exported, fmt, 8)
    plan = import_edit(project, recut.read_bytes(), recut.name, dry_run=True).plan
    assert [(c.kind, c.text) for c in plan.changes] == [("audio", "scratch audio: offset 12 → 20 frames")]
    assert not any("audio track" in w for w in plan.warnings)
    before = project.load()
    result = import_edit(project, recut.read_bytes(), recut.name, actor="me")
    assert result.board is not None and result.board.audio.offset == 20
    assert result.board.shots == before.shots
    edits.undo(project, actor="me")
    assert project.load().audio.offset == 12
