"""SANA-WM on a tiny random-weight pipeline loaded through from_pretrained: the card's camera
path reaches SanaWMPipeline as the expected c2w + intrinsics, the first keyframe is the image."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.backends import create_backend
from studio.backends.base import GenerationError, KeyframeImage, ShotRequest
from studio.backends.trajectory import path_at_model_frames, trajectory
from studio.board import CameraMove, FrameRate

import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def sana_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_sana_wm(tmp_path_factory.mktemp("tiny") / "sana-wm")


@pytest.fixture(scope="module")
def sana(sana_dir: Path):
    return create_backend("sana_wm", model=str(sana_dir))


def first_frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(40, 64, 3), dtype=np.uint8)


def request(**changes: Any) -> ShotRequest:
    base = ShotRequest(
        shot_id="s1", shot_number=1, prompt="a lighthouse at night", negative_prompt="", num_frames=12,
        width=64, height=32, fps=FrameRate(24), seed=5, camera=(CameraMove("pan_right", 1.0, "linear"),),
        keyframes=(KeyframeImage("first", 0, first_frame()),), options={"steps": 2, "max_sequence_length": 16},
    )
    return dataclasses.replace(base, **changes)


def spy_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from diffusers import SanaWMPipeline

    calls: list[dict[str, Any]] = []
    original = SanaWMPipeline.__call__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SanaWMPipeline, "__call__", spy)
    return calls


def test_the_camera_path_reaches_the_pipeline_as_c2w_and_intrinsics(sana, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_calls(monkeypatch)
    shot = request()
    clip = sana.generate(shot, lambda *a: None, threading.Event())
    assert clip.frames.shape == (12, 32, 64, 3)
    (call,) = calls
    frames = call["num_frames"]
    assert frames == 9 and call["fps"] == 16  # 12 frames at 24 fps -> 0.5 s -> 8k+1 at 16 fps
    expected = trajectory(path_at_model_frames(shot.camera, frames, 12, 24.0, seed=5), 64, 32)
    assert call["c2w"].shape == (frames, 4, 4) and call["intrinsics"].shape == (frames, 4)
    assert np.allclose(call["c2w"], expected.c2w) and np.allclose(call["intrinsics"], expected.intrinsics)
    rel = np.linalg.inv(call["c2w"][0].astype(np.float64)) @ call["c2w"][-1]
    assert np.degrees(np.arctan2(rel[0, 2], rel[2, 2])) == pytest.approx(15.0, abs=1e-3)  # a 15 degree pan
    # the first keyframe, fitted to the generation size, is the image
    assert call["image"].size == (64, 32)
    assert clip.metadata["pipeline"] == "SanaWMPipeline" and clip.metadata["task"] == "i2v"
    assert clip.metadata["trajectory"]["frames"] == frames
    assert np.allclose(clip.metadata["trajectory"]["c2w_last"], expected.c2w[-1], atol=1e-6)


def test_static_and_dolly_cards_give_static_and_forward_trajectories(sana, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_calls(monkeypatch)
    sana.generate(request(camera=(CameraMove("static"),)), lambda *a: None, threading.Event())
    sana.generate(request(camera=(CameraMove("dolly_in", 1.0),), options={"steps": 1, "max_sequence_length": 16,
                                                                          "plane_distance": 2.0}),
                  lambda *a: None, threading.Event())
    static, dolly = calls
    assert np.array_equal(static["c2w"], np.broadcast_to(static["c2w"][0], static["c2w"].shape))
    travel = dolly["c2w"][-1, :3, 3] - dolly["c2w"][0, :3, 3]
    assert travel.tolist() == pytest.approx([0.0, 0.0, 0.6], abs=1e-6)  # 0.3 plane distances x 2 units


def test_without_a_first_frame_the_backend_says_what_it_needs(sana) -> None:
    with pytest.raises(GenerationError, match="first keyframe"):
        sana.generate(request(keyframes=()), lambda *a: None, threading.Event())


def test_a_folder_is_recognised_as_sana_wm(sana_dir: Path) -> None:
    from studio.models import resolve_model

    spec = resolve_model(str(sana_dir))
    assert (spec.family, spec.pipeline, spec.tasks) == ("sana_wm", "SanaWMPipeline", ("i2v",))
