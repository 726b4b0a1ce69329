"""Scratch dialogue: espeak-ng lines placed at their shots to the frame, a voice per character,
mixed under the scratch music, carried by the MP4 export; off by default."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from studio.board import Board, CastMember, Shot, Transition
from studio.services.export import export_board, load_timeline
from studio.services.scratch_dialogue import SAMPLE_RATE, mix, plan_cues
from studio.storage import Project

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng")

FPS = 24


def board(scratch: bool = True) -> Board:
    return Board(
        title="Talk", width=96, height=64, scratch_dialogue=scratch,
        cast=(CastMember("ADA"), CastMember("TOM", "en-gb+m4")),
        shots=(
            Shot("quiet", duration=30),
            Shot("ada", duration=60, speaker="ADA", dialogue="(softly) Hello there."),
            Shot("tom", duration=60, dialogue="TOM: Yes.\nADA: Good.", transition=Transition("cross_dissolve", 6)),
        ),
    )


def onsets(samples: np.ndarray, threshold: float = 0.02) -> list[int]:
    """First loud sample of each burst separated by at least 0.15 s of quiet."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if not loud.size:
        return []
    starts = [int(loud[0])]
    gaps = np.flatnonzero(np.diff(loud) > int(0.15 * SAMPLE_RATE))
    starts += [int(loud[g + 1]) for g in gaps]
    return starts


def frame_sample(frame: int) -> int:
    return round(frame * SAMPLE_RATE / FPS)


def test_lines_start_on_their_shots_first_frame_to_the_sample(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", board())
    timeline = load_timeline(project)
    mixed, cues = mix(project.load(), timeline, tmp_path / "cache")
    assert [(c.shot_id, c.speaker, c.text) for c in cues] == [
        ("ada", "ADA", "Hello there."), ("tom", "TOM", "Yes."), ("tom", "ADA", "Good.")]
    assert cues[0].start == frame_sample(30)                 # shot 2 starts at frame 30
    assert cues[1].start == frame_sample(30 + 60)            # shot 3's own frames start after the dissolve
    assert cues[2].start > cues[1].start
    heard = onsets(mixed[:, 0])
    assert heard[:2] == [cues[0].start, cues[1].start]
    assert not np.any(np.abs(mixed[:frame_sample(30), 0]) > 0.001)  # nothing before the first line
    assert len(mixed) == frame_sample(timeline.total_frames)
    assert cues[0].voice != cues[1].voice and cues[1].voice == "en-gb+m4"


def test_the_mp4_carries_the_dialogue_in_sync_to_the_frame(tmp_path: Path) -> None:
    import av

    project = Project.create(tmp_path / "p", board())
    out = export_board(project, "mp4")
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(-1) if frame.format.is_planar is False else frame.to_ndarray()[0]
                  for frame in container.decode(stream)]
        rate = stream.rate
    audio = np.concatenate(chunks).astype(np.float32)
    assert rate == SAMPLE_RATE
    heard = onsets(audio)
    one_frame = SAMPLE_RATE / FPS
    for expected in (frame_sample(30), frame_sample(90)):
        assert any(abs(h - expected) < one_frame for h in heard), (heard, expected)
    assert abs(len(audio) - frame_sample(project.load().total_frames)) < 2048  # AAC's last packet


def test_off_by_default_and_music_is_kept_ducked_under_the_lines(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", board(scratch=False))
    assert load_timeline(project).audio is None
    tone = tmp_path / "tone.wav"
    with wave.open(str(tone), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        t = np.arange(SAMPLE_RATE * 8) / SAMPLE_RATE
        writer.writeframes((0.2 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2").tobytes())
    from studio.services import edits

    edits.set_audio(project, tone)
    edits.patch_board(project, {"scratch_dialogue": True})
    timeline = load_timeline(project)
    assert timeline.audio is not None and timeline.audio.path.startswith("exports/.cache/dialogue-")
    with wave.open(str(timeline.audio_path)) as reader:
        data = np.frombuffer(reader.readframes(reader.getnframes()), "<i2").reshape(-1, 2)[:, 0] / 32768
    before = data[frame_sample(5):frame_sample(25)]
    assert 0.19 < np.abs(before).max() < 0.21                       # the music, at its level, before any line
    board_now = project.load()
    first = plan_cues(board_now, timeline)[1][0]
    assert np.abs(data[first.start:first.start + SAMPLE_RATE // 2]).max() > 0.25   # a voice on top


def test_each_character_has_their_own_voice(tmp_path: Path) -> None:
    from studio.services.scratch_dialogue import speak

    a = speak("Good morning.", "en-us+f3", 150, tmp_path)
    b = speak("Good morning.", "en-gb+m4", 150, tmp_path)
    assert len(a) and len(b) and (len(a) != len(b) or not np.allclose(a, b))
    again = speak("Good morning.", "en-us+f3", 150, tmp_path)
    assert np.array_equal(a, again)
