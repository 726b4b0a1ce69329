"""Video and image files in and out, through the ffmpeg binary that imageio-ffmpeg ships.

Every take is written with the same H.264 settings (TAKE_ENCODING), so takes of one board can be
joined by ffmpeg's concat demuxer with stream copy, without re-encoding (see the timeline).
Frames cross this module as uint8 RGB numpy arrays shaped (T, H, W, 3).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from studio.board import FrameRate

TAKE_ENCODING: tuple[str, ...] = (
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
    "-profile:v", "high", "-g", "48", "-bf", "0", "-video_track_timescale", "90000",
    "-movflags", "+faststart",
)
"""One encoding for every take and segment: identical streams concatenate by stream copy."""


class MediaError(RuntimeError):
    """A media file could not be read or written; the message names the file."""


def ffmpeg_exe() -> str:
    """The ffmpeg binary: imageio-ffmpeg's bundled build (always there after pip install)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_video(path: Path, frames: np.ndarray, fps: FrameRate, extra_args: tuple[str, ...] = ()) -> None:
    """Encode frames (T, H, W, 3 uint8) to an H.264 MP4 at ``path``, atomically.

    Odd sizes are refused rather than silently padded: yuv420p needs even width and height.
    """
    frames = np.ascontiguousarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise MediaError(f"{path.name}: frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    count, height, width, _ = frames.shape
    if count == 0:
        raise MediaError(f"{path.name}: no frames to write")
    if width % 2 or height % 2:
        raise MediaError(f"{path.name}: H.264 needs an even size, got {width}x{height}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "pipe:0", *TAKE_ENCODING, "-r", str(fps), *extra_args, str(partial),
    ]
    try:
        with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
            assert process.stdin is not None and process.stderr is not None
            try:
                for frame in frames:
                    process.stdin.write(frame.tobytes())
            except BrokenPipeError:
                pass
            process.stdin.close()
            errors = process.stderr.read().decode(errors="replace")
            if process.wait() != 0:
                raise MediaError(f"{path.name}: ffmpeg failed: {errors.strip()[-500:]}")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    frames: int
    fps: FrameRate


def probe_video(path: Path) -> VideoInfo:
    """Size, exact frame count and rate of a video, by decoding it (PyAV)."""
    import av  # local: only readers of existing videos pay for the import

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.base_rate
            count = sum(1 for _ in container.demux(stream) if _.size)
            return VideoInfo(
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                frames=count,
                fps=FrameRate(rate.numerator, rate.denominator) if rate else FrameRate(24),
            )
    except (av.FFmpegError, IndexError, OSError) as error:
        raise MediaError(f"{path.name}: not a readable video ({error})") from None


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
    """The last decoded frame of a video (for continuity between shots)."""
    import av

    last: np.ndarray | None = None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                last = frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"{path.name}: not a readable video ({error})") from None
    if last is None:
        raise MediaError(f"{path.name}: the video has no frames")
    return last


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON next to its final name, fsync, then rename over it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
