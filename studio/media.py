"""Video and image files in and out, through the ffmpeg binary that imageio-ffmpeg ships.

Every take is written with the same H.264 settings (TAKE_ENCODING), so takes of one board can be
joined by ffmpeg's concat demuxer with stream copy, without re-encoding (see the timeline).
Frames cross this module as uint8 RGB numpy arrays shaped (T, H, W, 3).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Iterator

import imageio_ffmpeg
import numpy as np

from studio.board import FrameRate
from studio.common import atomic_write, write_json_atomic
from studio.yuv import i420_to_rgb, rgb_to_i420

TAKE_ENCODING: tuple[str, ...] = (
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
    "-profile:v", "high", "-g", "12", "-bf", "0", "-video_track_timescale", "90000",
    "-movflags", "+faststart",
)
"""One encoding for every take and segment: identical streams concatenate by stream copy.

A keyframe every 12 frames (no B-frames) keeps cuts cheap: a transition or trim re-encodes at
most the partial GOP up to the next IDR. Measured on the export benchmark (10 shots, 832x480,
0.5 s dissolves): -g 48 took 7.3 s, -g 12 4.3 s, against 7.7-8.9 s for ffmpeg xfade."""


CUT_QP = 8
"""Quantiser of a take's first and last frames (the rest use CRF 18): the frames a continuity
cut joins. At CRF 18 each side of a cut carries about 0.4 of 255 of its own H.264 error on top of
the yuv420p conversion both share, so two matching renders decode 1.6-1.9 apart; at QP 8 they
decode 0.8-0.9 apart (tests/test_continuity.py). Two sharper frames cost about 0.3 MB a take at
832x480, and leave the stream's parameters (SPS/PPS) as they are, so takes still join by copy."""


def take_encoding(num_frames: int) -> tuple[str, ...]:
    """TAKE_ENCODING for a take of ``num_frames`` frames: its first and last at CUT_QP."""
    last = max(0, num_frames - 1)
    zones = f"0,0,q={CUT_QP}" + (f"/{last},{last},q={CUT_QP}" if last else "")
    return (*TAKE_ENCODING, "-x264-params", f"zones={zones}")


class MediaError(RuntimeError):
    """A media file could not be read or written; the message names the file."""


def ffmpeg_exe() -> str:
    """The ffmpeg binary: imageio-ffmpeg's bundled build (always there after pip install)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


TAKE_AUDIO_RATE = 48_000
TAKE_AUDIO_ENCODING: tuple[str, ...] = ("-c:a", "aac", "-b:a", "192k", "-ar", str(TAKE_AUDIO_RATE))
"""A take's own sound (a model that makes it): AAC at 48 kHz, what editors expect beside picture."""


@dataclass(frozen=True)
class SoundInput:
    """Float32 samples (channels, n) at ``rate`` Hz to lay under a video from its first frame."""

    samples: np.ndarray
    rate: int


def write_video(path: Path, frames: np.ndarray, fps: FrameRate, audio: SoundInput | None = None) -> None:
    """Encode a whole clip (T, H, W, 3 uint8) to an H.264 MP4 at ``path`` as a take (take_encoding), atomically,
    with ``audio`` as an AAC track cut or padded to the picture's length to the sample.

    Odd sizes are refused rather than silently padded: yuv420p needs even width and height.
    """
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise MediaError(f"{path.name}: frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    _, height, width, _ = frames.shape
    write_video_stream(path, iter(frames), width, height, fps, take_encoding(len(frames)), audio=audio)


def read_video(path: Path, max_frames: int | None = None) -> np.ndarray:
    """Decode a video to RGB uint8 frames (T, H, W, 3)."""
    import av

    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"{path.name}: not a readable video ({error})") from None
    if not frames:
        raise MediaError(f"{path.name}: the video has no frames")
    return np.stack(frames)


def read_last_frame(path: Path) -> np.ndarray:
    """The last decoded frame of a video (for continuity between shots). A yuv420p frame (a take)
    is converted with studio.yuv, so a shot that starts on it encodes the very same planes again."""
    import av

    last: Any = None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                last = frame
            if last is None:
                raise MediaError(f"{path.name}: the video has no frames")
            if last.format.name == "yuv420p" and last.width % 2 == 0 and last.height % 2 == 0:
                return i420_to_rgb(last.to_ndarray())
            return last.to_ndarray(format="rgb24")
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"{path.name}: not a readable video ({error})") from None


# --------------------------------------------------------------------------------------------
# Added for the timeline and the MP4 exporter (stream copy, range decoding, streamed encoding)


@dataclass(frozen=True)
class StreamInfo:
    """What decides whether a video can be joined to others by stream copy.

    ``idr_frames`` are the frames a copied range may start on: an I-frame that is not an IDR
    (x264 scene cuts closer than min-keyint) is flagged as a keyframe in MP4 but cannot start a
    stream that follows another one.
    """

    codec: str
    width: int
    height: int
    fps: FrameRate
    time_base: tuple[int, int]
    frames: int
    idr_frames: tuple[int, ...]
    extradata: bytes
    has_b_frames: bool


def _nal_types(payload: bytes, length_size: int) -> set[int]:
    types, position = set(), 0
    while position + length_size <= len(payload):
        size = int.from_bytes(payload[position:position + length_size], "big")
        position += length_size
        if size <= 0 or position + size > len(payload):
            break
        types.add(payload[position] & 0x1F)
        position += size
    return types


def probe_stream(path: Path) -> StreamInfo:
    """Read every packet header of the first video stream (no decoding): count and IDR frames.

    Reading the packets (not only the header) also catches a truncated file.
    """
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            context = stream.codec_context
            extradata = bytes(context.extradata or b"")
            length_size = (extradata[4] & 0x03) + 1 if len(extradata) > 4 and extradata[0] == 1 else 4
            idr: list[int] = []
            count = 0
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                if packet.is_keyframe and context.name == "h264" and 5 in _nal_types(bytes(packet), length_size):
                    idr.append(count)
                count += 1
            if stream.frames and count < stream.frames:
                raise MediaError(f"{path.name}: truncated, the header lists {stream.frames} frames but only {count} can be read")
            rate = stream.average_rate or stream.base_rate
            time_base = stream.time_base
            return StreamInfo(
                codec=context.name,
                width=context.width,
                height=context.height,
                fps=FrameRate(rate.numerator, rate.denominator) if rate else FrameRate(24),
                time_base=(time_base.numerator, time_base.denominator) if time_base else (0, 1),
                frames=count,
                idr_frames=tuple(idr),
                extradata=extradata,
                has_b_frames=bool(context.has_b_frames),
            )
    except (av.FFmpegError, IndexError, OSError, ValueError) as error:
        raise MediaError(f"{path.name}: not a readable video ({error})") from None


class ProbeCache:
    """probe_stream, remembered on disk by each file's identity (inode, size, mtime).

    A take never changes once written (a re-render is a new file), so an export reads the
    packets only of takes it has not seen before: joining ten takes drops from ~40 ms of probing
    to a few. ``forget_unused`` then deletes the entries this export did not use, so the cache
    holds about one entry per chosen take however many takes come and go.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._used: set[str] = set()

    def probe(self, path: Path) -> StreamInfo:
        stat = path.stat()
        identity = f"{path.resolve()}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}"
        entry = self.cache_dir / f"probe-{hashlib.sha256(identity.encode()).hexdigest()[:32]}.json"
        self._used.add(entry.name)
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            return StreamInfo(
                codec=data["codec"], width=data["width"], height=data["height"],
                fps=FrameRate(*data["fps"]), time_base=tuple(data["time_base"]), frames=data["frames"],
                idr_frames=tuple(data["idr_frames"]), extradata=base64.b64decode(data["extradata"]),
                has_b_frames=data["has_b_frames"],
            )
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not cached yet, or an unreadable entry: probe again
        info = probe_stream(path)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(entry, {
            "codec": info.codec, "width": info.width, "height": info.height,
            "fps": [info.fps.num, info.fps.den], "time_base": list(info.time_base), "frames": info.frames,
            "idr_frames": list(info.idr_frames), "extradata": base64.b64encode(info.extradata).decode(),
            "has_b_frames": info.has_b_frames,
        })
        return info

    def forget_unused(self) -> None:
        for entry in self.cache_dir.glob("probe-*.json"):
            if entry.name not in self._used:
                entry.unlink(missing_ok=True)


def copy_video_range(source: Path, target: Path, start: int, stop: int) -> None:
    """Remux packets ``start..stop-1`` of the first video stream to ``target`` without decoding.

    ``start`` must be an IDR frame (see probe_stream); any end works for streams without
    B-frames, as every take is (TAKE_ENCODING). Timestamps are rebased to start at 0.
    """
    import av

    try:
        with atomic_write(target) as partial, av.open(str(source)) as reader, av.open(str(partial), "w", format="mp4") as writer:
            stream = reader.streams.video[0]
            output = writer.add_stream_from_template(stream)
            index, offset, written = 0, None, 0
            for packet in reader.demux(stream):
                if not packet.size:
                    continue
                if index >= stop:
                    break
                if index >= start:
                    if offset is None:
                        offset = packet.dts if packet.dts is not None else packet.pts
                    packet.pts -= offset
                    packet.dts -= offset
                    packet.stream = output
                    writer.mux(packet)
                    written += 1
                index += 1
            if written != stop - start:
                raise MediaError(f"{source.name}: has {index} frames, cannot copy frames {start}..{stop - 1}")
    except av.FFmpegError as error:
        raise MediaError(f"{source.name}: could not copy frames {start}..{stop - 1} ({error})") from None


def write_video_stream(
    path: Path,
    frames: Iterable[np.ndarray],
    width: int,
    height: int,
    fps: FrameRate,
    encoding: tuple[str, ...] = TAKE_ENCODING,
    audio: SoundInput | None = None,
    pixel_format: str = "rgb24",
) -> int:
    """Encode frames as they are produced (no whole clip in memory); atomic like write_video.

    Frames are (H, W, 3) RGB, converted here (studio.yuv), or with ``pixel_format`` "yuv420p"
    (H * 3 / 2, W) plane stacks that go to ffmpeg as they are. Returns the number of frames
    written. The temp name is unique per thread, so two writers of the same target each produce
    a whole file and the last rename wins. ``audio`` becomes the second stream (the video stays
    stream 0, so takes still join by stream copy).
    """
    if width % 2 or height % 2:
        raise MediaError(f"{path.name}: H.264 needs an even size, got {width}x{height}")
    if pixel_format not in ("rgb24", "yuv420p"):
        raise MediaError(f"{path.name}: frames must be rgb24 or yuv420p, got {pixel_format!r}")
    shape = (height, width, 3) if pixel_format == "rgb24" else (height * 3 // 2, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "pipe:0",
    ]
    count = 0
    picture = np.empty((height * 3 // 2, width), np.uint8)  # frames go as yuv420p (studio.yuv: cheaper than ffmpeg's conversion)
    with atomic_write(path) as partial, _raw_sound(partial, audio) as sound:
        if sound is not None:
            assert audio is not None
            channels = audio.samples.shape[0]
            command += ["-f", "f32le", "-ar", str(audio.rate), "-ac", str(channels), "-i", str(sound),
                        "-map", "0:v:0", "-map", "1:a:0"]
        command += [*encoding, "-r", str(fps)]
        if sound is not None:
            command += list(TAKE_AUDIO_ENCODING)
        with subprocess.Popen([*command, str(partial)], stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
            assert process.stdin is not None and process.stderr is not None
            with contextlib.suppress(ImportError, AttributeError, OSError):  # fewer, larger writes (Linux only)
                import fcntl
                fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
            try:
                for frame in frames:
                    if frame.shape != shape or frame.dtype != np.uint8:
                        raise MediaError(f"{path.name}: frame {count} is {frame.dtype} {frame.shape}, expected {shape} uint8 ({pixel_format})")
                    process.stdin.write((rgb_to_i420(frame, picture) if pixel_format == "rgb24" else np.ascontiguousarray(frame)).data)
                    count += 1
            except BrokenPipeError:
                pass
            except BaseException:
                process.kill()
                raise
            finally:
                process.stdin.close()
            errors = process.stderr.read().decode(errors="replace")
            if process.wait() != 0:
                raise MediaError(f"{path.name}: ffmpeg failed: {errors.strip()[-500:]}")
        if count == 0:
            raise MediaError(f"{path.name}: no frames to write")
    return count


@contextlib.contextmanager
def _raw_sound(beside: Path, audio: SoundInput | None) -> Iterator[Path | None]:
    """``audio`` as raw interleaved float32 in a temp file beside the output, removed afterwards."""
    if audio is None:
        yield None
        return
    samples = audio.samples
    if samples.dtype != np.float32 or samples.ndim != 2 or samples.shape[0] not in (1, 2) or not samples.shape[1]:
        raise MediaError(f"{beside.name}: audio must be float32 (1 or 2 channels, n > 0), got {samples.dtype} {samples.shape}")
    raw = beside.with_name(beside.name + ".f32")
    try:
        raw.write_bytes(np.ascontiguousarray(samples.T).tobytes())
        yield raw
    finally:
        raw.unlink(missing_ok=True)


class FrameReader:
    """Frames of a video at a given frame rate, by index, read forward with one seek.

    Frame ``i`` is the source picture shown at time ``i / fps`` (so a clip at another rate is
    conformed by holding or skipping frames); past the end the last frame is held. Use as a
    context manager; indices should mostly increase (going back costs a new seek).
    """

    def __init__(self, path: Path, fps: FrameRate) -> None:
        import av

        self.path = path
        self._fps = fps.fraction
        try:
            self._container = av.open(str(path))
            self._stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError, OSError) as error:
            raise MediaError(f"{path.name}: not a readable video ({error})") from None
        self._decoder: Iterator[Any] | None = None
        self._current: tuple[float, np.ndarray] | None = None
        self._pending: tuple[float, np.ndarray] | None = None
        self._last_index = -1

    def __enter__(self) -> "FrameReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def _seek(self, seconds: float) -> None:
        import av

        time_base = self._stream.time_base
        target = int(seconds / float(time_base)) if time_base else 0
        try:
            self._container.seek(max(0, target), stream=self._stream, backward=True)
        except av.FFmpegError:
            self._container.seek(0, stream=self._stream)
        self._decoder = iter(self._container.decode(self._stream))
        self._current = self._pending = None

    def _next(self) -> tuple[float, np.ndarray] | None:
        import av

        assert self._decoder is not None
        try:
            frame = next(self._decoder)
        except StopIteration:
            return None
        except av.FFmpegError as error:
            raise MediaError(f"{self.path.name}: decoding failed ({error})") from None
        return (float(frame.time or 0.0), frame.to_ndarray(format="rgb24"))

    def frame(self, index: int) -> np.ndarray:
        when = float(index / self._fps) + 1e-6
        if self._decoder is None or index < self._last_index or index > self._last_index + 48:
            self._seek(max(0.0, when - 1e-3))
        self._last_index = index
        while True:
            if self._pending is None:
                self._pending = self._next()
                if self._pending is None:
                    break
            if self._current is not None and self._pending[0] > when:
                break
            self._current, self._pending = self._pending, None
        if self._current is None:
            raise MediaError(f"{self.path.name}: the video has no frames")
        return self._current[1]


def has_audio(path: Path) -> bool:
    """Whether a media file has an audio stream (a take with the model's sound)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, OSError):
        return False


def probe_audio(path: Path) -> float:
    """Duration in seconds of the first audio stream; MediaError if the file has none."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path.name}: has no audio stream (expected wav, mp3, m4a or flac)")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
            return sum(float(packet.duration * packet.time_base) for packet in container.demux(stream) if packet.duration)
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"{path.name}: not an audio file ({error})") from None


def transcode_range(source: Path, target: Path, start: int, count: int, fps: FrameRate) -> None:
    """Re-encode frames ``start..start+count-1`` of a video with TAKE_ENCODING, inside ffmpeg.

    For the partial GOP before a take's first usable IDR frame: no frame crosses into Python.
    The seek point sits half a frame early; ffmpeg's accurate seek drops the frames before it.
    """
    seconds = float((start - Fraction(1, 2)) / fps.fraction) if start else 0.0
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{seconds:.6f}", "-i", str(source),
        "-map", "0:v:0", "-an", "-frames:v", str(count), *TAKE_ENCODING, "-r", str(fps),
    ]
    with atomic_write(target) as partial:
        result = subprocess.run([*command, str(partial)], capture_output=True, text=True)
        if result.returncode != 0:
            raise MediaError(f"{source.name}: ffmpeg could not re-encode frames {start}..{start + count - 1}: {result.stderr.strip()[-500:]}")
        written = probe_stream(partial).frames
        if written != count:
            raise MediaError(f"{source.name}: re-encoding frames {start}..{start + count - 1} gave {written} frames")
