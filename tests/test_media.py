"""Video and JSON writers: exact frames out and in, nothing half-written left behind."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from studio.board import FrameRate
from studio.media import MediaError, probe_stream, read_last_frame, read_video, write_json_atomic, write_video


def gradient_frames(count: int = 10, height: int = 32, width: int = 48) -> np.ndarray:
    ramp = np.linspace(0, 255, width, dtype=np.uint8)[None, None, :, None]
    frames = np.broadcast_to(ramp, (count, height, width, 3)).copy()
    frames[:, :, :, 1] = np.arange(count, dtype=np.uint8)[:, None, None] * 20
    return frames


def test_write_then_read_keeps_frame_count_size_and_rate(tmp_path: Path) -> None:
    frames = gradient_frames()
    write_video(tmp_path / "a.mp4", frames, FrameRate(30000, 1001))
    info = probe_stream(tmp_path / "a.mp4")
    assert (info.frames, info.width, info.height, info.fps) == (10, 48, 32, FrameRate(30000, 1001))
    decoded = read_video(tmp_path / "a.mp4")
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 3
    assert abs(int(read_last_frame(tmp_path / "a.mp4")[..., 1].mean()) - 180) <= 3


def test_bad_frames_are_refused_and_leave_no_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="even size"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 31, 48, 3), np.uint8), FrameRate(24))
    with pytest.raises(MediaError, match="no frames"):
        write_video(tmp_path / "none.mp4", np.zeros((0, 32, 48, 3), np.uint8), FrameRate(24))
    assert list(tmp_path.iterdir()) == []


def test_two_threads_writing_one_take_path_give_one_whole_file(tmp_path: Path) -> None:
    # regression: the temp name held only the process id, so two threads shared it
    target = tmp_path / "same.mp4"
    errors: list[BaseException] = []

    def write() -> None:
        try:
            write_video(target, gradient_frames(24), FrameRate(24))
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert probe_stream(target).frames == 24
    assert [p.name for p in tmp_path.iterdir()] == ["same.mp4"]


def test_json_that_cannot_be_written_leaves_no_partial_file(tmp_path: Path) -> None:
    # regression: a failed json.dump used to leave the .partial file behind
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "take.json", {"value": np.float32(1.5)})
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(tmp_path / "take.json", {"value": 1.5})
    assert (tmp_path / "take.json").read_text().strip().startswith("{")
