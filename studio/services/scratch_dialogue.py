"""Scratch dialogue: each card's lines spoken by espeak-ng, placed at its shot, mixed under the cut.

Rules it owns:
- off unless the board's ``scratch_dialogue`` is on; then every export that carries audio carries
  it, because the export service lays this mix in place of the scratch track;
- a shot's first line starts on the shot's first frame of its own (after a dissolve into it), to
  the sample: ``round(frame / fps * 48000)``; its next lines follow with a short pause; a line
  never runs past the shot's end (it is cut at the next shot, so lines stay in their shots);
- each character speaks with the cast's voice for them, or an automatic voice that differs per
  character (by their place in the cast); speed follows the board's words per second;
- the scratch music stays, ducked under the lines; its offset and fade out are kept;
- synthesised lines are cached by content under exports/.cache (espeak-ng is deterministic), so
  an edit to one card speaks only that card again.

espeak-ng is Debian's ``espeak-ng`` package: CPU only, no model download at run time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import subprocess
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from studio.board import AudioTrack, Board
from studio.scenes import dialogue_lines, spoken_text
from studio.timeline import Timeline, TimelineError

SAMPLE_RATE = 48_000
AUTO_VOICES: tuple[str, ...] = ("en-us+m3", "en-us+f3", "en-gb+m4", "en-gb+f2", "en-us+m7", "en-us+f4",
                                "en-gb-scotland+m2", "en-us+f1")
"""Voices given, in cast order, to characters without one of their own."""
PAUSE_SECONDS = 0.25
MUSIC_UNDER_DIALOGUE = 0.35
"""The scratch music's level while a line plays (ducked), ramping over RAMP_SECONDS."""
RAMP_SECONDS = 0.05
TTS_CACHE_FILES = 2000
MIXES_KEPT = 4
CACHE_VERSION = 1


class ScratchDialogueError(TimelineError):
    """The dialogue could not be spoken (espeak-ng missing or failing); the message says which line."""


@dataclass(frozen=True)
class Cue:
    """One line as placed on the timeline."""

    shot_id: str
    speaker: str
    text: str
    voice: str
    start: int
    """First sample (48 kHz) of the line on the timeline."""
    limit: int
    """Sample where the shot ends: the line is cut there."""


def voice_for(board: Board, speaker: str) -> str:
    names = [member.name.casefold() for member in board.cast]
    key = speaker.strip().casefold()
    if key in names:
        member = board.cast[names.index(key)]
        if member.voice:
            return member.voice
        return AUTO_VOICES[names.index(key) % len(AUTO_VOICES)]
    return AUTO_VOICES[(len(names) + sum(map(ord, key))) % len(AUTO_VOICES)] if key else AUTO_VOICES[0]


def _sample(frame: int, timeline: Timeline) -> int:
    return round(Fraction(frame) / timeline.fps.fraction * SAMPLE_RATE)


def plan_cues(board: Board, timeline: Timeline) -> list[tuple[Cue, ...]]:
    """Per segment, its lines with their voices and where each shot's lines may play."""
    result = []
    for segment in timeline.segments:
        start, limit = _sample(segment.body[0], timeline), _sample(segment.end, timeline)
        lines = [(who, spoken_text(text)) for who, text in dialogue_lines(segment.shot)]
        result.append(tuple(Cue(segment.shot.id, who, text, voice_for(board, who), start, limit)
                            for who, text in lines if text))
    return result


def _espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise ScratchDialogueError("scratch dialogue needs espeak-ng (Debian: apt-get install espeak-ng), "
                                   "or turn scratch dialogue off in Board settings")
    return found


def _words_per_minute(board: Board) -> int:
    return int(min(450, max(80, round(board.words_per_second * 60))))


def speak(text: str, voice: str, wpm: int, cache_dir: Path) -> np.ndarray:
    """The line as float32 mono at 48 kHz, leading and trailing silence trimmed (cached)."""
    key = hashlib.sha256(json.dumps([CACHE_VERSION, text, voice, wpm]).encode()).hexdigest()[:32]
    cached = cache_dir / f"tts-{key}.npy"
    if cached.exists():
        cached.touch()
        return np.load(cached)
    try:
        done = subprocess.run([_espeak(), "--stdout", "-v", voice, "-s", str(wpm), "--", text],
                              capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise ScratchDialogueError(f"espeak-ng took over a minute to speak {text[:40]!r}") from None
    if done.returncode != 0 or not done.stdout:
        raise ScratchDialogueError(f"espeak-ng could not speak {text[:40]!r} with voice {voice!r}: "
                                   f"{done.stderr.decode(errors='replace').strip()[:200]}")
    with wave.open(io.BytesIO(done.stdout)) as reader:
        rate = reader.getframerate()
        raw = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        if reader.getnchannels() > 1:
            raw = raw.reshape(-1, reader.getnchannels()).mean(axis=1)
    loud = np.flatnonzero(np.abs(raw) > 0.02)
    raw = raw[loud[0]:loud[-1] + 1] if loud.size else raw[:0]
    length = int(round(len(raw) * SAMPLE_RATE / rate))
    samples = np.interp(np.arange(length) * (rate / SAMPLE_RATE), np.arange(len(raw)), raw).astype(np.float32) \
        if len(raw) else np.zeros(0, np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f".tts-{key}.npy"
    np.save(partial, samples)
    partial.replace(cached)
    return samples


def _music(timeline: Timeline, total: int) -> np.ndarray:
    """The scratch track at 48 kHz stereo, delayed, padded or cut to the picture, faded out."""
    import av

    track = np.zeros((total, 2), np.float32)
    if timeline.audio is None or timeline.audio_path is None:
        return track
    chunks = []
    with av.open(str(timeline.audio_path)) as container:
        channels = 1 if container.streams.audio[0].channels == 1 else 2  # mono stays at its level
        resampler = av.AudioResampler(format="flt", layout="mono" if channels == 1 else "stereo", rate=SAMPLE_RATE)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, channels))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1, channels))
    music = np.concatenate(chunks) if chunks else np.zeros((0, channels), np.float32)
    music = np.repeat(music, 2 // channels, axis=1)
    delay = _sample(timeline.audio.offset, timeline)
    if delay < total:
        piece = music[:total - delay]
        track[delay:delay + len(piece)] = piece
    if timeline.audio.fade_out:
        fade = min(total, _sample(timeline.audio.fade_out, timeline))
        track[total - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return track


def mix(board: Board, timeline: Timeline, cache_dir: Path) -> tuple[np.ndarray, list[Cue]]:
    """The whole scratch track (float32 stereo, 48 kHz, the picture's exact length) and the cues."""
    total = _sample(timeline.total_frames, timeline)
    voice = np.zeros(total, np.float32)
    pause = int(PAUSE_SECONDS * SAMPLE_RATE)
    wpm = _words_per_minute(board)
    placed: list[Cue] = []
    for cues in plan_cues(board, timeline):
        at = cues[0].start if cues else 0
        for cue in cues:
            if at >= cue.limit:
                break
            speech = speak(cue.text, cue.voice, wpm, cache_dir)[:cue.limit - at]
            voice[at:at + len(speech)] += speech
            placed.append(dataclasses.replace(cue, start=at))
            at += len(speech) + pause
    music = _music(timeline, total)
    if placed:
        active = (np.abs(voice) > 0).astype(np.float32)
        ramp = max(1, int(RAMP_SECONDS * SAMPLE_RATE))
        held = np.convolve(active, np.ones(2 * ramp, np.float32), mode="same") > 0
        duck = 1.0 - (1.0 - MUSIC_UNDER_DIALOGUE) * np.convolve(held.astype(np.float32), np.ones(ramp, np.float32) / ramp, mode="same")
        music *= duck[:, None]
    mixed = music + voice[:, None]
    peak = float(np.abs(mixed).max()) if mixed.size else 0.0
    if peak > 0.99:
        mixed *= 0.99 / peak
    return mixed, placed


def with_scratch_dialogue(board: Board, timeline: Timeline, cache_dir: Path, cache_relative: str) -> Timeline:
    """The timeline with its audio replaced by music + dialogue (a WAV under ``cache_dir``, whose
    project-relative folder is ``cache_relative``). Unchanged when the board has no dialogue."""
    if not board.scratch_dialogue or not any(cues for cues in plan_cues(board, timeline)):
        return timeline
    cache_dir.mkdir(parents=True, exist_ok=True)
    music_id = ""
    if timeline.audio_path is not None and timeline.audio is not None:
        stat = timeline.audio_path.stat()
        music_id = f"{timeline.audio.path}:{stat.st_size}:{stat.st_mtime_ns}:{timeline.audio.offset}:{timeline.audio.fade_out}"
    key = hashlib.sha256(json.dumps([
        CACHE_VERSION, str(timeline.fps), timeline.total_frames, music_id, _words_per_minute(board),
        [[c.text, c.voice, c.start, c.limit] for cues in plan_cues(board, timeline) for c in cues],
    ]).encode()).hexdigest()[:32]
    path = cache_dir / f"dialogue-{key}.wav"
    if not path.exists():
        mixed, _ = mix(board, timeline, cache_dir)
        partial = cache_dir / f".dialogue-{key}.wav"
        with wave.open(str(partial), "wb") as writer:
            writer.setnchannels(2)
            writer.setsampwidth(2)
            writer.setframerate(SAMPLE_RATE)
            writer.writeframes((np.clip(mixed, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes())
        partial.replace(path)
    path.touch()
    _prune(cache_dir)
    track = AudioTrack(path=f"{cache_relative}/{path.name}", offset=0, fade_out=0)
    return dataclasses.replace(timeline, audio=track, audio_path=path)


def _prune(cache_dir: Path) -> None:
    """Keep the newest few mixes and a bounded number of spoken lines."""
    for pattern, kept in (("dialogue-*.wav", MIXES_KEPT), ("tts-*.npy", TTS_CACHE_FILES)):
        files = sorted(cache_dir.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[kept:]:
            old.unlink(missing_ok=True)
