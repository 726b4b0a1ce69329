"""LTX-2's camera-move LoRA from the card's move (the table in studio/backends/move_loras.py), on
15b's tiny LTX-2 pipeline and a tiny LoRA saved with LTX2Pipeline.save_lora_weights."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.backends import create_backend
from studio.backends.base import ShotRequest
from studio.board import CameraMove, FrameRate

import tiny_av

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from diffusers import LTX2Pipeline, LTX2VideoTransformer3DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    root = tmp_path_factory.mktemp("tiny")
    pipeline = tiny_av.build_ltx2(root / "ltx2")
    for seed, folder, weights in ((1, "jib-up", "jib.safetensors"), (2, "style", "style.safetensors")):
        transformer = LTX2VideoTransformer3DModel.from_pretrained(pipeline, subfolder="transformer")
        torch.manual_seed(seed)
        transformer.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v"],
                                           init_lora_weights=False))
        LTX2Pipeline.save_lora_weights(root / folder, transformer_lora_layers=get_peft_model_state_dict(transformer),
                                       weight_name=weights)
    return pipeline, root / "jib-up", root / "style" / "style.safetensors"


def request(move: str, intensity: float, **options: Any) -> ShotRequest:
    return ShotRequest(shot_id="s1", shot_number=1, prompt="a man walks in the rain", negative_prompt="",
                       num_frames=9, width=32, height=32, fps=FrameRate(24), seed=2,
                       camera=(CameraMove(move, intensity),),
                       options={"steps": 2, "max_sequence_length": 16} | options)


def test_the_cards_move_picks_the_ltx2_lora_and_its_weight(folders, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backend = create_backend("ltx2", model=str(folders[0]), cache_dir=tmp_path)  # an empty HF cache
    run = lambda shot: backend.generate(shot, lambda *a: None, threading.Event())  # noqa: E731
    plain = run(request("crane_up", 0.5, move_lora="off"))
    assert plain.metadata["move_lora"] is None
    skipped = run(request("crane_up", 0.5)).metadata["move_lora"]  # the table's Jib-Up is not on disk
    assert skipped["loaded"] is False and skipped["repo"] == "Lightricks/LTX-2-19b-LoRA-Camera-Control-Jib-Up"
    assert "huggingface-cli download Lightricks/LTX-2-19b-LoRA-Camera-Control-Jib-Up" in skipped["note"]
    lora = run(request("crane_up", 0.5, move_lora=f"{folders[1]}:jib.safetensors"))
    record = lora.metadata["move_lora"]
    assert (record["move"], record["weight"], record["loaded"]) == ("crane_up", 0.8, True)  # 0.6 + 0.4 * 0.5
    assert not np.array_equal(lora.frames, plain.frames)
    assert np.array_equal(run(request("crane_up", 0.5, move_lora="off")).frames, plain.frames)


def test_a_users_lora_and_the_move_lora_are_active_together(folders, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the user's LoRAs were weighted in a second set_adapters call that switched the
    camera-move adapter off (and a card without a move switched the user's off)."""
    from dataclasses import replace

    from studio.backends.loras import LoraRequest

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    move = f"{folders[1]}:jib.safetensors"
    style = (LoraRequest(str(folders[2]), 1.0),)
    fresh = create_backend("ltx2", model=str(folders[0]), cache_dir=tmp_path)  # never sees a move LoRA
    only_style = fresh.generate(replace(request("crane_up", 0.5, move_lora="off"), loras=style),
                                lambda *a: None, threading.Event()).frames
    backend = create_backend("ltx2", model=str(folders[0]), cache_dir=tmp_path)
    run = lambda shot: backend.generate(shot, lambda *a: None, threading.Event()).frames  # noqa: E731
    only_move = run(request("crane_up", 0.5, move_lora=move))
    both = run(replace(request("crane_up", 0.5, move_lora=move), loras=style))
    assert not np.array_equal(both, only_move) and not np.array_equal(both, only_style)
    assert np.array_equal(run(replace(request("crane_up", 0.5, move_lora="off"), loras=style)), only_style)
    assert np.array_equal(run(request("crane_up", 0.5, move_lora=move)), only_move)
