"""Takes with their own sound: the take's MP4 carries it, the cut mixes it under the scratch track
at a level per shot, and every sound lands on its frames (a click track through the real export).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest

from studio.board import AudioTrack, Transition
from studio.media import TAKE_AUDIO_RATE, SoundInput, write_video
from studio.services import edits
from studio.services.export import ExportOptions, export_board
from tests.exportkit import FPS, edit, make_project, take_frames, write_tone

RATE = TAKE_AUDIO_RATE
PER_FRAME = RATE // 24  # samples per frame at the board's 24 fps
CLICK = 0.8


def _click_take(root: Path, index: int, count: int, click_frames: tuple[int, ...]) -> None:
    """Replace shot ``index``'s take with one whose sound is a click at each of ``click_frames``
    (take frames), and a sidecar that says it has sound (as render.take_record writes)."""
    samples = np.zeros((1, count * PER_FRAME), np.float32)
    for frame in click_frames:
        samples[0, frame * PER_FRAME:frame * PER_FRAME + 96] = CLICK
    relative = f"takes/s{index}/t{index}.mp4"
    write_video(root / relative, take_frames(index, count), FPS, audio=SoundInput(samples, RATE))
    (root / f"takes/s{index}/t{index}.json").write_text(json.dumps(
        {"take": f"t{index}", "audio": {"codec": "aac", "rate": RATE, "channels": 1, "seconds": count / 24}}))


def _project(root: Path):
    """Five shots of 24 frames: shot 2 trimmed by 6, shot 3 silent, a 6-frame dissolve into shot 4,
    a quiet scratch tone from frame 12. Each sounding take clicks on the frame its shot starts on
    (for the dissolve: on the first frame after it, where its sound is at full level)."""
    project = make_project(root, durations=(24, 30, 24, 24, 24), take_frames_count=30)
    edit(project, 1, trim_in=6)
    edit(project, 3, transition=Transition("cross_dissolve", 6))
    for index, click in ((0, 0), (1, 6), (3, 6), (4, 0)):
        _click_take(root, index, 30, (click,))
    write_tone(root / "audio/tone.wav", seconds=6.0)
    project.update(lambda b: b.replace(audio=AudioTrack("audio/tone.wav", offset=12, level=-30.0)))
    return project


def _sound(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        assert container.streams.audio, "the animatic has no sound"
        return np.concatenate([f.to_ndarray().reshape(f.to_ndarray().shape[0], -1)[0]
                               for f in container.decode(audio=0)])


def _clicks(sound: np.ndarray) -> list[int]:
    """Sample index of each click's onset (|x| over 0.4 after at least a frame of quiet)."""
    loud = np.flatnonzero(np.abs(sound) > 0.4)
    return [int(i) for n, i in enumerate(loud) if n == 0 or i - loud[n - 1] > PER_FRAME]


def test_takes_with_sound_are_in_sync_to_the_frame_through_the_mp4_export(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    board = project.load()
    starts = board.shot_start_frames()
    sound = _sound(export_board(project, "mp4"))
    total = board.total_frames
    assert len(sound) == pytest.approx(total * PER_FRAME, abs=1024)  # AAC ends on a 1024-sample packet
    expected = [starts[0], starts[1], starts[3] + 6, starts[4]]
    found = _clicks(sound)
    assert len(found) == len(expected), (found, expected)
    for sample, frame in zip(found, expected):
        assert abs(sample - frame * PER_FRAME) < PER_FRAME // 8, f"click at {sample / PER_FRAME:.2f}, shot at {frame}"
    # the silent take stays silent: only the quiet scratch tone under shot 3
    silent = sound[starts[2] * PER_FRAME:starts[3] * PER_FRAME]
    assert np.abs(silent).max() < 0.1
    assert np.abs(silent).max() > 0.005, "the scratch track is mixed in, not replaced"


def test_level_per_shot_through_the_edit_service(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    before = _clicks_heights(project)
    board = edits.patch_shot(project, "s1", {"take_audio_level": "-12"}, base_revision=project.load().revision)
    assert board.shot("s1").take_audio_level == -12.0
    after = _clicks_heights(project)
    assert after[1] / before[1] == pytest.approx(10 ** (-12 / 20), rel=0.15)
    assert after[0] == pytest.approx(before[0], rel=0.05) and after[3] == pytest.approx(before[3], rel=0.05)
    with pytest.raises(edits.FieldError, match="take_audio_level.*-60 to 12"):
        edits.patch_shot(project, "s1", {"take_audio_level": 20})
    edits.undo(project)
    assert project.load().shot("s1").take_audio_level == 0.0


def _clicks_heights(project) -> list[float]:
    sound = _sound(export_board(project, "mp4"))
    return [float(np.abs(sound[i:i + 96]).max()) for i in _clicks(np.where(np.abs(sound) > 0.15, sound, 0) * 2)]


def test_no_sound_at_all_when_audio_is_left_out(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    with av.open(str(export_board(project, "mp4", options=ExportOptions(include_audio=False)))) as container:
        assert not container.streams.audio


def test_otio_and_fcp_xml_carry_the_take_sound_on_the_picture_frames(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    edit(project, 4, take_audio_level=-6.0)
    board = project.load()
    starts = board.shot_start_frames()
    timeline = otio.adapters.read_from_file(str(export_board(project, "otio")))
    tracks = {track.name: track for track in timeline.audio_tracks()}
    assert set(tracks) == {"A1", "A2 take sound"}
    clips = list(tracks["A2 take sound"].find_clips())
    assert [c.metadata["previz"]["shot_id"] for c in clips] == ["s0", "s1", "s3", "s4"]
    video = {c.metadata["previz"]["shot_id"]: c for c in timeline.video_tracks()[0].find_clips()}
    for clip in clips:
        picture = video[clip.metadata["previz"]["shot_id"]]
        assert clip.range_in_parent().start_time.to_frames() == starts[board.index_of(clip.metadata["previz"]["shot_id"])]
        assert clip.source_range == picture.source_range
        assert clip.media_reference.target_url == picture.media_reference.target_url
    assert clips[-1].metadata["previz"]["level_db"] == -6.0
    gaps = [item for item in tracks["A2 take sound"] if isinstance(item, otio.schema.Gap)]
    assert len(gaps) == 1 and gaps[0].range_in_parent().start_time.to_frames() == starts[2]

    root = ET.parse(export_board(project, "fcpxml")).getroot()
    audio_tracks = root.findall(".//media/audio/track")
    assert len(audio_tracks) == 2
    take_items = audio_tracks[1].findall("clipitem")
    assert [int(item.find("start").text) for item in take_items] == [starts[0], starts[1], starts[3], starts[4]]
    assert [int(item.find("in").text) for item in take_items] == [0, 6, 0, 0]
    for item in take_items:
        url = item.find(".//pathurl")
        assert url is None or not url.text.startswith(("/", "file:"))


def test_edl_has_an_audio_2_event_per_sounding_shot_and_the_recut_reads_it_back_unchanged(tmp_path: Path) -> None:
    import pycmx

    from studio.services.recut import import_edit

    project = _project(tmp_path / "p")
    board = project.load()
    starts = board.shot_start_frames()
    path = export_board(project, "edl")
    with open(path) as handle:
        edl = pycmx.parse_cmx3600(handle)
    take_events = [e for e in edl.events for edit in e.edits if edit.channels.get_audio_channel(2)]
    records = sorted(edit.record_in for e in take_events for edit in e.edits)
    assert records == [FPS.timecode(starts[i]) for i in (0, 1, 3, 4)]
    plan = import_edit(project, path.read_bytes(), path.name, dry_run=True).plan
    assert plan.changes == () and not plan.unmatched, plan.lines()
    for fmt in ("otio", "fcpxml"):
        exported = export_board(project, fmt)
        plan = import_edit(project, exported.read_bytes(), exported.name, dry_run=True).plan
        assert plan.changes == () and not plan.unmatched, (fmt, plan.lines())
