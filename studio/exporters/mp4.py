"""The animatic as an MP4 (H.264 yuv420p, AAC, +faststart), and a fast low-resolution preview.

Speed comes from never re-encoding what does not change. The timeline is cut into pieces:
- a *copy* piece is a run of plain frames (no dissolve, dip, fade or burn-in) of a take that was
  written with TAKE_ENCODING at the board size and rate, starting on an IDR frame: its packets
  are used as they are (the whole take file, or a remux of the range);
- an *encode* piece is everything else (transition regions, the partial GOP before the first IDR
  of a trimmed take, burn-ins, slates and slate takes, takes of another size or rate): drawn by
  studio.compositor and encoded with TAKE_ENCODING into ``cache_dir`` under the SHA-256 of exactly what
  its frames are made of (source file hashes, frame indices, weights, texts, size, encoder).
The pieces are joined by ffmpeg's concat demuxer with ``-c:v copy`` in one pass that also lays
the scratch audio (delayed to its frame offset, padded or trimmed to the picture to the sample,
optional fade out) and moves the index to the front. After one card changes, only the pieces
whose recipe changed are encoded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

from studio.common import partial_path
from studio.exporters.base import ExportContext, Exporter
from studio.timeline import ExportCancelled, FrameRecipe, Segment, Style, Timeline, frame_recipes

CACHE_VERSION = 2
"""Bump when encode pieces change in a way the cache key cannot see."""
AUDIO_RATE = 48_000
PREVIEW_ENCODING: tuple[str, ...] = (
    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p", "-profile:v", "high",
)
CACHE_LIMIT_BYTES = 2 * 1024**3
"""Least recently used cache pieces beyond this size are deleted after each export."""


@dataclass(frozen=True)
class Piece:
    start: int
    """Timeline frames start..stop-1."""
    stop: int
    kind: str
    """"copy" (packets of ``segment``'s take, source frames source_start..) or "encode" (drawn or transcoded, then encoded)."""
    segment: int = -1
    source_start: int = 0


def _reference_extradata(timeline: Timeline, cache_dir: Path) -> bytes:
    """SPS/PPS our encoder writes at this size: a take with the same can be stream-copied."""
    import numpy as np

    from studio.media import TAKE_ENCODING, ffmpeg_exe, probe_stream, write_video_stream

    key = hashlib.sha256(json.dumps([timeline.width, timeline.height, str(timeline.fps), TAKE_ENCODING, ffmpeg_exe()]).encode()).hexdigest()[:24]
    path = cache_dir / f"ref-{key}.mp4"
    if not path.exists():
        frames = np.zeros((2, timeline.height, timeline.width, 3), np.uint8)
        write_video_stream(path, iter(frames), timeline.width, timeline.height, timeline.fps)
    return probe_stream(path).extradata


def _copyable(segment: Segment, timeline: Timeline, extradata: bytes) -> bool:
    info = segment.info
    return (
        not segment.shows_number and info is not None and info.codec == "h264"
        and (info.width, info.height) == (timeline.width, timeline.height)
        and info.fps == timeline.fps and info.time_base == (1, 90000)
        and not info.has_b_frames and info.extradata == extradata
        and info.frames >= segment.source_out
    )


def plan_pieces(timeline: Timeline, recipes: list[FrameRecipe], extradata: bytes) -> list[Piece]:
    """Cut the timeline into copy and encode pieces (see the module docstring)."""
    pieces: list[Piece] = []
    for segment in timeline.segments:
        if segment.overlap_in:
            pieces.append(Piece(segment.start, segment.start + segment.overlap_in, "encode"))
        body_start, body_stop = segment.body
        if body_start >= body_stop:
            continue
        copy: tuple[int, int] | None = None
        if _copyable(segment, timeline, extradata):
            assert segment.info is not None
            plain = [recipes[t].plain for t in range(body_start, body_stop)]
            if any(plain):
                first = body_start + plain.index(True)
                last = body_stop - plain[::-1].index(True)
                if all(plain[first - body_start:last - body_start]):
                    offset = segment.source_in - segment.start
                    idr = next((f for f in segment.info.idr_frames if first + offset <= f < last + offset), None)
                    if idr is not None:
                        copy = (idr - offset, last)
        if copy is None:
            pieces.append(Piece(body_start, body_stop, "encode"))
            continue
        if copy[0] > body_start:
            pieces.append(Piece(body_start, copy[0], "encode"))
        pieces.append(Piece(copy[0], copy[1], "copy", segment.index, copy[0] - segment.start + segment.source_in))
        if copy[1] < body_stop:
            pieces.append(Piece(copy[1], body_stop, "encode"))
    assert sum(p.stop - p.start for p in pieces) == timeline.total_frames
    return pieces


def _native_source(timeline: Timeline, recipes: list[FrameRecipe]) -> Segment | None:
    """The take when a piece is just its consecutive frames at the board size and rate
    (a partial GOP before an IDR): ffmpeg re-encodes those without Python touching pixels."""
    first = recipes[0].layers[0]
    segment = timeline.segments[first.segment]
    info = segment.info
    if segment.shows_number or info is None or segment.path is None:
        return None
    if (info.width, info.height) != (timeline.width, timeline.height) or info.fps != timeline.fps:
        return None
    if first.frame + len(recipes) > info.frames:
        return None
    for offset, recipe in enumerate(recipes):
        if not recipe.plain or recipe.layers[0].segment != first.segment or recipe.layers[0].frame != first.frame + offset:
            return None
    return segment


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _media_key(segment: Segment, hashes: dict[Path, str]) -> str:
    if segment.is_slate or segment.path is None:
        shot = segment.shot
        return "slate:" + hashlib.sha256(json.dumps(
            [segment.number, shot.title, shot.prompt, segment.duration, shot.camera_label(), segment.slate_reason]
        ).encode()).hexdigest()
    if segment.path not in hashes:
        hashes[segment.path] = _file_sha256(segment.path)
    return "take:" + hashes[segment.path] + (f":number {segment.number}" if segment.slate_take else "")


def _encode_key(timeline: Timeline, style: Style, recipes: list[FrameRecipe], hashes: dict[Path, str]) -> str:
    import PIL

    from studio.media import TAKE_ENCODING, ffmpeg_exe

    described = [
        [[[_media_key(timeline.segments[l.segment], hashes), l.frame, l.weight, l.matte, l.matte_amount] for l in r.layers], r.fade, r.texts]
        for r in recipes
    ]
    payload = [CACHE_VERSION, timeline.width, timeline.height, str(timeline.fps), TAKE_ENCODING, ffmpeg_exe(), style.fit, PIL.__version__, described]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _copy_key(segment: Segment, start: int, stop: int) -> str:
    assert segment.path is not None
    stat = segment.path.stat()
    return hashlib.sha256(json.dumps([CACHE_VERSION, str(segment.path), stat.st_size, stat.st_mtime_ns, start, stop]).encode()).hexdigest()


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def prune_cache(cache_dir: Path, limit_bytes: int = CACHE_LIMIT_BYTES) -> None:
    """Drop least recently used pieces beyond ``limit_bytes`` and partial files older than an hour."""
    if not cache_dir.is_dir():
        return
    entries = []
    for path in cache_dir.iterdir():
        try:
            stat = path.stat()
        except OSError:
            continue
        if path.name.startswith(".") and stat.st_mtime < time.time() - 3600:
            path.unlink(missing_ok=True)
        elif path.suffix == ".mp4" and not path.name.startswith("."):
            entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size


def _concat_line(path: Path) -> str:
    return "file '" + str(path.resolve()).replace("'", "'\\''") + "'\n"


def _samples(frames: int, timeline: Timeline) -> int:
    """Frames at the board rate as a whole number of AUDIO_RATE samples (exact, no float drift)."""
    return round(Fraction(frames) / timeline.fps.fraction * AUDIO_RATE)


def sounding_takes(timeline: Timeline) -> list[Segment]:
    """The segments whose take carries its own sound (attach_media found it), in cut order."""
    return [s for s in timeline.segments if s.take_audio and s.path is not None and not s.is_slate]


def _scratch_chain(timeline: Timeline) -> str:
    """Delay, pad/trim to the picture (to the sample) and fade the scratch track."""
    audio = timeline.audio
    assert audio is not None
    total = _samples(timeline.total_frames, timeline)
    delay = _samples(audio.offset, timeline)
    chain = [f"aresample={AUDIO_RATE}"]
    if audio.level:
        chain.append(f"volume={audio.level:g}dB")
    if delay:
        chain.append(f"adelay=delays={delay}S:all=1")
    chain += ["apad", f"atrim=end_sample={total}"]
    if audio.fade_out:
        fade = min(total, _samples(audio.fade_out, timeline))
        chain.append(f"afade=t=out:start_sample={total - fade}:nb_samples={fade}")
    return ",".join(chain)


def _take_chain(segment: Segment, timeline: Timeline) -> str:
    """A take's own sound under its shot: the trimmed range of the take, at the shot's level,
    faded in and out across dissolves as the picture is, starting on the shot's first frame."""
    start, stop = _samples(segment.source_in, timeline), _samples(segment.source_out, timeline)
    chain = [f"aresample={AUDIO_RATE}", f"atrim=start_sample={start}:end_sample={stop}", "asetpts=N/SR/TB"]
    if segment.shot.take_audio_level:
        chain.append(f"volume={segment.shot.take_audio_level:g}dB")
    if segment.overlap_in:
        chain.append(f"afade=t=in:start_sample=0:nb_samples={_samples(segment.overlap_in, timeline)}")
    if segment.overlap_out:
        fade = _samples(segment.overlap_out, timeline)
        chain.append(f"afade=t=out:start_sample={stop - start - fade}:nb_samples={fade}")
    delay = _samples(segment.start, timeline)
    if delay:
        chain.append(f"adelay=delays={delay}S:all=1")
    return ",".join(chain)


def _audio_args(timeline: Timeline, takes: list[Segment], first_input: int) -> list[str]:
    """The sound of the cut: the scratch track (input ``first_input`` when there is one) mixed
    with every take's own sound (the inputs after it), summed (not averaged, so each keeps its
    level), padded or cut to the picture to the sample."""
    chains, labels = [], []
    index = first_input
    if timeline.audio_path is not None:
        chains.append(f"[{index}:a:0]{_scratch_chain(timeline)}[scratch]")
        labels.append("[scratch]")
        index += 1
    for position, segment in enumerate(takes):
        chains.append(f"[{index + position}:a:0]{_take_chain(segment, timeline)}[take{position}]")
        labels.append(f"[take{position}]")
    total = _samples(timeline.total_frames, timeline)
    mix = f"amix=inputs={len(labels)}:normalize=0:duration=longest," if len(labels) > 1 else ""
    chains.append(f"{''.join(labels)}{mix}apad,atrim=end_sample={total}[sound]")
    return ["-filter_complex", ";".join(chains), "-map", "[sound]", "-c:a", "aac", "-b:a", "160k", "-ar", str(AUDIO_RATE)]


def write_mp4(context: ExportContext, out: Path, preview_width: int | None = None) -> None:
    """Write the animatic (or, with ``preview_width``, a small ultrafast preview) at ``out``."""
    from studio.compositor import Compositor
    from studio.media import copy_video_range, transcode_range, write_video_stream

    timeline, style, cache_dir = context.timeline, context.style, context.cache_dir
    is_cancelled, report = context.cancel, context.progress
    cache_dir.mkdir(parents=True, exist_ok=True)
    total = timeline.total_frames
    recipes = frame_recipes(timeline, style)
    pieces = plan_pieces(timeline, recipes, _reference_extradata(timeline, cache_dir))
    hashes: dict[Path, str] = {}
    files: list[Path] = []
    scratch: list[Path] = []
    done = 0
    try:
        with Compositor(timeline, style) as compositor:
            for piece in pieces:
                if is_cancelled():
                    raise ExportCancelled("export cancelled")
                length = piece.stop - piece.start
                if piece.kind == "copy":
                    segment = timeline.segments[piece.segment]
                    assert segment.path is not None and segment.info is not None
                    stop = piece.source_start + length
                    if piece.source_start == 0 and stop == segment.info.frames:
                        files.append(segment.path)
                    else:
                        path = cache_dir / f"copy-{_copy_key(segment, piece.source_start, stop)[:32]}.mp4"
                        if not path.exists():
                            copy_video_range(segment.path, path, piece.source_start, stop)
                        _touch(path)
                        files.append(path)
                    message = f"copied shot {segment.number}"
                else:
                    piece_recipes = recipes[piece.start:piece.stop]
                    path = cache_dir / f"encode-{_encode_key(timeline, style, piece_recipes, hashes)[:32]}.mp4"
                    if any(timeline.segments[layer.segment].slate_take for recipe in piece_recipes for layer in recipe.layers):
                        # a slate take with its current number: cheap to draw, and kept out of the
                        # cache so each new slate take does not leave a piece behind
                        path = partial_path(path)
                        scratch.append(path)
                    if path.exists():
                        _touch(path)
                    elif _native_source(timeline, piece_recipes) is not None:
                        segment = timeline.segments[piece_recipes[0].layers[0].segment]
                        assert segment.path is not None
                        transcode_range(segment.path, path, piece_recipes[0].layers[0].frame, length, timeline.fps)
                    else:
                        write_video_stream(path, compositor.frames(piece_recipes, is_cancelled), timeline.width, timeline.height, timeline.fps)
                    files.append(path)
                    message = f"encoded frames {piece.start}-{piece.stop - 1}"
                done += length
                report(done, total, message)
            _join(timeline, files, out, cache_dir, preview_width, is_cancelled)
    finally:
        for path in scratch:
            path.unlink(missing_ok=True)
    prune_cache(cache_dir)


def _join(timeline: Timeline, files: list[Path], out: Path, cache_dir: Path, preview_width: int | None, cancel: Callable[[], bool]) -> None:
    from studio.media import MediaError, ffmpeg_exe

    listing = partial_path(cache_dir / "concat.txt")
    listing.write_text("".join(_concat_line(path) for path in files), encoding="utf-8")
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    takes = sounding_takes(timeline)
    if timeline.audio_path is not None:
        command += ["-i", str(timeline.audio_path)]
    for segment in takes:
        command += ["-i", str(segment.path)]
    command += ["-map", "0:v:0"]
    if timeline.audio_path is not None or takes:
        command += _audio_args(timeline, takes, 1)
    if preview_width:
        width = max(16, min(timeline.width, preview_width) // 2 * 2)
        command += ["-vf", f"scale={width}:-2", *PREVIEW_ENCODING, "-r", str(timeline.fps)]
    else:
        command += ["-c:v", "copy"]
    command += ["-movflags", "+faststart", "-f", "mp4"]
    try:
        with subprocess.Popen([*command, str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
            while True:
                try:
                    process.wait(timeout=0.005)
                    break
                except subprocess.TimeoutExpired:
                    if cancel():
                        process.kill()
                        process.wait()
                        raise ExportCancelled("export cancelled") from None
            assert process.stderr is not None
            errors = process.stderr.read().decode(errors="replace")
            if process.returncode != 0:
                raise MediaError(f"{out.name}: ffmpeg could not join the pieces: {errors.strip()[-600:]}")
    finally:
        listing.unlink(missing_ok=True)


EXPORTERS = (
    Exporter("mp4", "animatic.mp4", write_mp4, "the animatic: H.264 + AAC, burn-ins, scratch audio", rank=0),
    Exporter("preview", "preview.mp4", lambda context, out: write_mp4(context, out, context.preview_width),
             "a small, fast preview MP4", rank=10),
)
