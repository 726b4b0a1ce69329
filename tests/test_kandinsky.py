"""Kandinsky 5 Video Lite on a tiny random-weight pipeline loaded through from_pretrained, and the
camera-move LoRA its card's move picks (a tiny LoRA saved with the pipeline's save_lora_weights)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.backends import create_backend
from studio.backends.base import GenerationError, ShotRequest
from studio.board import CameraMove, FrameRate

import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    pipeline = tiny.build_kandinsky5_t2v(root / "kandinsky5")
    return pipeline, tiny.build_kandinsky5_camera_lora(pipeline, root / "dolly-lora")


@pytest.fixture(scope="module")
def kandinsky(folders: tuple[Path, Path]):
    return create_backend("kandinsky", model=str(folders[0]))


def request(move: str = "dolly_in", intensity: float = 0.5, **options: Any) -> ShotRequest:
    return ShotRequest(shot_id="s1", shot_number=1, prompt="a lighthouse at night", negative_prompt="blurry",
                       num_frames=9, width=32, height=32, fps=FrameRate(24), seed=3,
                       camera=(CameraMove(move, intensity),),
                       options={"steps": 2, "max_sequence_length": 16} | options)


def generate(backend: Any, shot: ShotRequest) -> Any:
    return backend.generate(shot, lambda *a: None, threading.Event())


def test_text_to_video_without_a_lora(kandinsky) -> None:
    clip = generate(kandinsky, request(move_lora="off"))
    assert clip.frames.shape == (9, 32, 32, 3)
    assert clip.metadata["pipeline"] == "Kandinsky5T2VPipeline" and clip.metadata["move_lora"] is None


def test_the_cards_move_loads_its_lora_at_the_weight_of_its_intensity(kandinsky, folders) -> None:
    lora = f"{folders[1]}:camera_lora.safetensors"
    plain = generate(kandinsky, request(move_lora="off")).frames
    half = generate(kandinsky, request("dolly_in", 0.5, move_lora=lora))
    record = half.metadata["move_lora"]
    assert (record["move"], record["weight"], record["repo"], record["loaded"]) == (
        "dolly_in", 0.75, str(folders[1]), True)  # 0.5 + 0.5 * 0.5
    pipe = kandinsky._resident.base
    (adapter,) = pipe.get_list_adapters()["transformer"]
    assert pipe.get_active_adapters() == [adapter]
    full = generate(kandinsky, request("dolly_in", 1.0, move_lora=lora))
    assert full.metadata["move_lora"]["weight"] == 1.0
    assert not np.array_equal(half.frames, plain) and not np.array_equal(full.frames, half.frames)
    # turned off (or a move without a LoRA), the loaded adapter is switched off: the plain frames again
    again = generate(kandinsky, request("dolly_in", 0.5, move_lora="off"))
    assert again.metadata["move_lora"] is None and np.array_equal(again.frames, plain)
    assert generate(kandinsky, request("roll_cw", 0.5)).metadata["move_lora"] is None


def test_a_lora_that_is_not_on_disk_is_skipped_and_said(kandinsky, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    kandinsky.cache_dir = tmp_path  # an empty Hugging Face cache: the table's LoRA is not there
    try:
        clip = generate(kandinsky, request("pan_left", 1.0))
        record = clip.metadata["move_lora"]
        assert record["loaded"] is False and record["move"] == "pan_left"
        assert "huggingface-cli download kandinskylab/" in record["note"]
        with pytest.raises(GenerationError, match="huggingface-cli download .*missing.*move_lora=off"):
            generate(kandinsky, request("pan_left", 1.0, move_lora=str(tmp_path / "missing")))
    finally:
        kandinsky.cache_dir = None
