"""Streaming render: the animatic hands each frame to the encoder as it is made, so a long shot
never holds all its frames (measured with tracemalloc: numpy's buffers are traced)."""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from studio.backends.animatic import AnimaticBackend
from studio.backends.warper import BATCH_FRAMES
from studio.backends.base import GenerationCancelled, KeyframeImage, ShotRequest
from studio.board import Board, CameraMove, FrameRate, Shot
from studio.media import probe_stream
from studio.services.render import render_shot
from studio.storage import Project

W, H = 256, 144


def test_a_long_shot_is_encoded_without_holding_its_frames(tmp_path: Path) -> None:
    frames = 720  # 30 s at 24 fps: 80 MB of frames if held whole
    board = Board(width=W, height=H, shots=(Shot(id="long", duration=frames, camera=(CameraMove("pan_right", 1.0),)),))
    project = Project.create(tmp_path / "p", board)
    tracemalloc.start()
    try:
        take = render_shot(project, "long")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    whole = frames * W * H * 3
    assert probe_stream(project.resolve(take.path)).frames == frames
    assert peak < whole / 8, f"peak {peak / 1e6:.1f} MB for a {whole / 1e6:.0f} MB shot"


def test_the_stream_makes_frames_batch_by_batch_as_they_are_taken() -> None:
    seen: list[int] = []
    request = ShotRequest(shot_id="s", shot_number=1, prompt="", negative_prompt="", num_frames=10 * BATCH_FRAMES,
                          width=W, height=H, fps=FrameRate(24), seed=1, camera=(CameraMove("zoom_in", 1.0),),
                          keyframes=(KeyframeImage("first", 0, np.full((H, W, 3), 90, np.uint8)),))
    stream = AnimaticBackend(workers=2).stream(request, lambda done, total, message: seen.append(done),
                                              threading.Event())
    first = next(stream.frames)
    assert first.shape == (H, W, 3) and max(seen) <= 3 * BATCH_FRAMES  # only the batches in flight so far
    assert sum(1 for _ in stream.frames) == 10 * BATCH_FRAMES - 1
    assert stream.metadata["backend"] == "animatic" and stream.num_frames == 10 * BATCH_FRAMES


def test_cancel_during_a_streamed_render_leaves_no_file_and_no_take(tmp_path: Path) -> None:
    board = Board(width=W, height=H, shots=(Shot(id="s", duration=400, camera=(CameraMove("pan_left", 1.0),)),))
    project = Project.create(tmp_path / "p", board)
    cancel = threading.Event()

    def progress(done: int, total: int, message: str) -> None:
        if done >= 3 * BATCH_FRAMES:
            cancel.set()

    with pytest.raises(GenerationCancelled):
        render_shot(project, "s", progress=progress, cancel=cancel)
    assert project.load().shot("s").takes == ()
    assert not any(path.is_file() for path in (project.root / "takes").rglob("*"))
