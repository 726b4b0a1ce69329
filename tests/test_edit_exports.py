"""Editorial exports carry everything: scratch audio, relative media, slate media for shots
without a take, and the package. Parsed back with OpenTimelineIO and, independently, with pycmx
(EDL) and an XML parser (FCP7 XML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pycmx
import pytest

from studio.board import AudioTrack, Board, Transition
from studio.services.export import ExportOptions, export_board
from tests.exportkit import edit, make_project, write_tone


def _project(root: Path):
    """Four shots: a trim and a 6-frame dissolve into shot 2, shot 4 without a take, and a
    3 s scratch track from frame 12."""
    project = make_project(root, durations=(30, 30, 30, 20))
    edit(project, 1, trim_in=4, transition=Transition("cross_dissolve", 6))
    edit(project, 3, takes=(), chosen_take=None)
    write_tone(root / "audio/tone.wav", seconds=3.0)
    project.update(lambda b: b.replace(audio=AudioTrack("audio/tone.wav", offset=12)))
    return project


def _record_starts(board: Board) -> list[int]:
    return board.shot_start_frames()


def _resolved(folder: Path, url: str) -> Path:
    assert not url.startswith(("/", "file:")), url
    return (folder / url).resolve()


@pytest.mark.parametrize("fmt", ["otio", "fcpxml", "edl"])
def test_edit_exports_carry_audio_relative_media_and_slates(tmp_path: Path, fmt: str) -> None:
    project = _project(tmp_path / "p")
    board = project.load()
    path = export_board(project, fmt)
    text = path.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and "file://" not in text  # no absolute paths anywhere
    read = otio.adapters.read_from_file(str(path), rate=24) if fmt == "edl" else otio.adapters.read_from_file(str(path))
    video = read.video_tracks()[0]
    clips = list(video.find_clips())
    assert len(clips) == 4
    assert [c.range_in_parent().start_time.to_frames() for c in clips] == _record_starts(board)
    assert read.video_tracks()[0].duration().to_frames() == board.total_frames == 100
    transitions = [item for item in video if isinstance(item, otio.schema.Transition)]
    assert [t.out_offset.to_frames() + t.in_offset.to_frames() for t in transitions] == [6]
    if fmt != "edl":  # the EDL names media in comments, read below with pycmx
        for clip in clips:
            assert _resolved(path.parent, clip.media_reference.target_url).is_file()
        assert clips[3].media_reference.target_url == "slates/s3.mp4"
    audio = read.audio_tracks()
    assert len(audio) == 1
    sound = list(audio[0].find_clips())
    assert len(sound) == 1
    if fmt != "edl":  # OTIO's CMX reader starts a track at its first event; pycmx reads the record in below
        assert sound[0].range_in_parent().start_time.to_frames() == 12
    assert sound[0].duration().to_frames() == 72  # the 3 s track, at 24 fps
    if fmt != "edl":
        assert _resolved(path.parent, sound[0].media_reference.target_url) == (tmp_path / "p/audio/tone.wav").resolve()


def test_edl_read_by_pycmx_has_an_event_per_shot_and_an_audio_event(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    board = project.load()
    path = export_board(project, "edl")
    with open(path, encoding="utf-8") as handle:
        edl = pycmx.parse_cmx3600(handle)
    edits = [e for event in edl.events for e in event.edits]
    video = [e for e in edits if e.channels.video and not e.transition.kind == pycmx.Transition.Cut
             or e.channels.video and e.clip_name and e.record_in != e.record_out]
    names = [e.clip_name for e in video]
    assert names == ["SHOT001 Title 0", "SHOT002 Title 1", "SHOT003 Title 2", "SHOT004 Title 3"]
    starts = [board.fps.timecode(frame) for frame in _record_starts(board)]
    assert [e.record_in for e in video] == starts
    assert video[1].transition.kind == pycmx.Transition.Dissolve and video[1].transition.effect_duration == 6
    sound = [e for e in edits if e.channels.get_audio_channel(1)]
    assert len(sound) == 1 and (sound[0].record_in, sound[0].record_out) == ("00:00:00:12", "00:00:03:12")
    for line in path.read_text().splitlines():
        if "FROM CLIP:" in line:
            media = line.split("FROM CLIP:", 1)[1].strip()
            assert _resolved(path.parent, media).is_file(), line


def test_fcp7_xml_read_by_an_xml_parser(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    board = project.load()
    path = export_board(project, "fcpxml")
    root = ET.parse(path).getroot()
    sequence = root.find(".//sequence")
    video_items = sequence.findall("./media/video/track/clipitem")
    audio_items = sequence.findall("./media/audio/track/clipitem")
    assert [item.findtext("name") for item in video_items] == [f"SHOT00{i + 1} Title {i}" for i in range(4)]
    assert len(sequence.findall("./media/video/track/transitionitem")) == 1
    assert [int(item.findtext("start")) for item in video_items][::2] == _record_starts(board)[::2]
    assert len(audio_items) == 1 and int(audio_items[0].findtext("start")) == 12
    urls = [element.text for element in root.iter("pathurl")]
    assert urls and all(not url.startswith(("/", "file:")) for url in urls)
    assert {(path.parent / url).resolve() for url in urls} == {
        *((tmp_path / f"p/takes/s{i}/t{i}.mp4").resolve() for i in range(3)),
        (tmp_path / "p/exports/slates/s3.mp4").resolve(), (tmp_path / "p/audio/tone.wav").resolve()}


def test_slate_clip_shows_the_card_for_the_whole_shot(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    export_board(project, "otio")
    with av.open(str(tmp_path / "p/exports/slates/s3.mp4")) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == 20 and frames[0].std() > 10  # a drawn card, not a flat colour
    before = (tmp_path / "p/exports/slates/s3.mp4").stat().st_mtime_ns
    export_board(project, "edl")
    assert (tmp_path / "p/exports/slates/s3.mp4").stat().st_mtime_ns == before  # made once, reused


def test_package_opens_anywhere(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    path = export_board(project, "package")
    assert path.name == "board-package.zip"
    target = tmp_path / "elsewhere"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        archive.extractall(target)
    assert {"board.otio", "board.xml", "board.edl", "media/audio/tone.wav", "media/slates/s3.mp4",
            "media/takes/s0/t0.mp4"} <= names
    import shutil

    shutil.rmtree(tmp_path / "p")  # the project is gone: the package stands alone
    for name in ("board.otio", "board.xml"):
        timeline = otio.adapters.read_from_file(str(target / name))
        urls = [clip.media_reference.target_url for track in timeline.tracks for clip in track.find_clips()]
        assert len(urls) == 5 and all(url.startswith("media/") for url in urls)
        assert all((target / url).is_file() for url in urls)
    edl = (target / "board.edl").read_text()
    assert "* FROM CLIP: media/takes/s0/t0.mp4" in edl and "* FROM CLIP: media/audio/tone.wav" in edl


def test_audio_left_out_when_muted_or_not_included(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    read = otio.adapters.read_from_file(str(export_board(project, "otio", options=ExportOptions(include_audio=False))))
    assert not read.audio_tracks()
    project.update(lambda b: b.replace(audio=b.audio.__class__(b.audio.path, b.audio.offset, muted=True)))
    read = otio.adapters.read_from_file(str(export_board(project, "otio")))
    assert not read.audio_tracks()
    with av.open(str(export_board(project, "mp4"))) as container:
        assert not container.streams.audio


def _loudness(path: Path) -> float:
    with av.open(str(path)) as container:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    return float(np.sqrt(np.mean(samples[samples != 0] ** 2)))


def test_audio_level_is_applied_in_the_mp4(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    full = _loudness(export_board(project, "mp4"))
    project.update(lambda b: b.replace(audio=AudioTrack("audio/tone.wav", offset=12, level=-6.0)))
    quieter = _loudness(export_board(project, "mp4"))
    assert quieter / full == pytest.approx(10 ** (-6 / 20), rel=0.08)
