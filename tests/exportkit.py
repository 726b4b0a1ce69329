"""Fixtures for the timeline and export tests: takes whose every frame says which shot and
which source frame it is (robust to H.264), written with studio.media.write_video."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

from studio.board import Board, FrameRate, Shot, Take
from studio.media import write_video
from studio.storage import Project

W, H, FPS = 160, 96, FrameRate(24)
BAR_ROWS = slice(44, 52)
SHOT_ROWS = slice(30, 38)


def shot_level(index: int) -> int:
    return 20 + 30 * index


def take_frames(index: int, count: int, width: int = W, height: int = H) -> np.ndarray:
    """Red level = shot; 8 green bars in the middle band = source frame number in binary."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[..., 0] = shot_level(index)
    frames[..., 2] = 60
    bar = width // 8
    for number in range(count):
        for bit in range(8):
            if number >> bit & 1:
                frames[number, BAR_ROWS, bit * bar:(bit + 1) * bar, 1] = 255
    return frames


def identify(frame: np.ndarray) -> tuple[int, int]:
    """(shot index, source frame) read back from a decoded frame of take_frames."""
    red = float(frame[SHOT_ROWS, :, 0].mean())
    shot = int(round((red - 20) / 30))
    bar = frame.shape[1] // 8
    number = sum(1 << bit for bit in range(8) if frame[BAR_ROWS, bit * bar + 3:(bit + 1) * bar - 3, 1].mean() > 128)
    return shot, number


def make_project(root: Path, durations: tuple[int, ...] = (30, 30, 30), take_frames_count: int | None = None, **board_fields) -> Project:
    """A project with one chosen take per shot (frames = the shot's duration unless given)."""
    project = Project.create(root, Board(title="Export test", fps=FPS, width=W, height=H))
    shots = []
    for index, duration in enumerate(durations):
        count = take_frames_count or duration
        relative = f"takes/s{index}/t{index}.mp4"
        write_video(root / relative, take_frames(index, count), FPS)
        take = Take(id=f"t{index}", path=relative, seed=100 + index, backend="animatic", frames=count)
        shots.append(Shot(id=f"s{index}", title=f"Title {index}", prompt=f"prompt number {index}",
                          dialogue=f"line {index}", notes=f"note {index}", duration=duration,
                          takes=(take,), chosen_take=take.id, seed=100 + index))
    project.save(project.load().replace(shots=tuple(shots), **board_fields))
    return project


def edit(project: Project, index: int, **changes) -> None:
    def change(board: Board) -> Board:
        shots = list(board.shots)
        shots[index] = shots[index].replace(**changes)
        return board.replace(shots=tuple(shots))
    project.update(change)


def write_tone(path: Path, seconds: float, start: float = 0.0, rate: int = 48000) -> None:
    """Silence until ``start``, then a loud 440 Hz tone (mono 16-bit wav)."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.where(t >= start, np.sin(2 * np.pi * 440 * t) * 20000, 0).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(signal.tobytes())


def ffprobe(path: Path, stream: str = "v:0") -> dict[str, str]:
    """Stream fields from the real ffprobe, frames counted by decoding."""
    output = subprocess.run(
        ["/usr/bin/ffprobe", "-v", "error", "-count_frames", "-select_streams", stream, "-show_entries",
         "stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames,duration,start_time,sample_rate,profile",
         "-of", "default=noprint_wrappers=1", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    return dict(line.split("=", 1) for line in output.strip().splitlines() if "=" in line)



def video_packets(path: Path) -> list[bytes]:
    """The first video stream's H.264 packets in file order (PyAV), without the in-band SPS/PPS
    that ffmpeg's concat demuxer inserts before IDR frames (NAL types 7 and 8; 4-byte lengths)."""
    import av

    packets = []
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            data, position, kept = bytes(packet), 0, b""
            while position + 4 <= len(data):
                size = int.from_bytes(data[position:position + 4], "big")
                unit = data[position:position + 4 + size]
                if unit[4:5] and unit[4] & 0x1F not in (7, 8):
                    kept += unit
                position += 4 + size
            if packet.size:
                packets.append(kept)
    return packets


def copied_frames(out: Path, sources: list[Path]) -> int:
    """How many of ``out``'s video packets are byte for byte packets of the source takes: frames
    that were stream-copied, not decoded and encoded again."""
    source_packets = {packet for source in sources for packet in video_packets(source)}
    return sum(packet in source_packets for packet in video_packets(out))
