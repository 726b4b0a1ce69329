"""Frames reach the encoder as yuv420p converted in-process (studio.yuv) the way ffmpeg itself
would, a frame read back for continuity keeps its planes, and a take's first and last frames are
encoded sharper without changing the stream's parameters (so takes still join by stream copy)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from studio.board import FrameRate
from studio.media import TAKE_ENCODING, ffmpeg_exe, probe_stream, read_last_frame, read_video, take_encoding, write_video, write_video_stream
from studio.yuv import i420_to_rgb, rgb_to_i420

W, H = 160, 96


def picture(seed: int = 3, contrast: float = 60.0) -> np.ndarray:
    """Soft colour shapes (what a panel has), not noise."""
    import cv2

    rng = np.random.default_rng(seed)
    soft = cv2.GaussianBlur(rng.normal(0, 1, (H, W, 3)).astype(np.float32), (0, 0), 3)
    return np.clip(128 + contrast * soft / soft.std(), 0, 255).astype(np.uint8)


def ffmpeg_i420(rgb: np.ndarray) -> np.ndarray:
    out = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
                          "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"],
                         input=rgb.tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(H * 3 // 2, W)


def test_the_conversion_is_ffmpegs_own_to_a_level():
    rgb = picture()
    ours, theirs = rgb_to_i420(rgb).astype(int), ffmpeg_i420(rgb).astype(int)
    luma, chroma = np.abs(ours[:H] - theirs[:H]), np.abs(ours[H:] - theirs[H:])
    assert luma.max() <= 1 and luma.mean() < 0.05
    assert chroma.mean() < 0.6 and chroma.max() <= 3
    # a flat colour is exact in every plane: U and V are not swapped
    flat = np.zeros((H, W, 3), np.uint8)
    flat[:] = (200, 40, 90)
    assert np.array_equal(rgb_to_i420(flat), ffmpeg_i420(flat))


def test_a_frame_read_back_keeps_its_planes():
    planes = rgb_to_i420(picture())
    again = rgb_to_i420(i420_to_rgb(planes)).astype(int)
    moved = np.abs(again - planes)
    assert moved.mean() < 0.1 and (moved > 1).mean() < 0.01  # only colours outside RGB's gamut move more


def test_a_takes_first_and_last_frames_are_sharper_and_the_stream_still_joins(tmp_path: Path):
    rng = np.random.default_rng(1)
    frames = np.stack([np.clip(picture(seed, 30.0).astype(int) + rng.integers(-6, 6, (H, W, 3)), 0, 255).astype(np.uint8)
                       for seed in range(12)])
    write_video(tmp_path / "take.mp4", frames, FrameRate(24))
    write_video_stream(tmp_path / "plain.mp4", iter(frames), W, H, FrameRate(24), TAKE_ENCODING)
    take, plain = read_video(tmp_path / "take.mp4").astype(int), read_video(tmp_path / "plain.mp4").astype(int)

    def error(decoded: np.ndarray, index: int) -> float:
        return float(np.abs(decoded[index] - frames[index]).mean())
    for index in (0, len(frames) - 1):
        assert error(take, index) < error(plain, index) - 0.3
    assert abs(error(take, 5) - error(plain, 5)) < 0.5  # the middle is encoded as before
    assert probe_stream(tmp_path / "take.mp4").extradata == probe_stream(tmp_path / "plain.mp4").extradata
    assert take_encoding(1)[-1] == "zones=0,0,q=8"
    # the last frame read for continuity, written again as a first frame, decodes where it was
    last = read_last_frame(tmp_path / "take.mp4")
    write_video(tmp_path / "next.mp4", np.stack([last, last]), FrameRate(24))
    assert np.abs(read_video(tmp_path / "next.mp4")[0].astype(int) - take[-1]).mean() < 1.0
