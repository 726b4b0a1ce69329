"""Wan 2.2 A14B's two experts on a tiny random-weight pipeline loaded through from_pretrained:
recognised from its folder, both experts run (high noise first, then low noise)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from studio.backends import create_backend
from studio.backends.base import ShotRequest
from studio.board import CameraMove, FrameRate
from studio.models import get_spec, resolve_model

import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_wan22_two_experts(tmp_path_factory.mktemp("tiny") / "wan22-a14b")


def test_two_experts_are_recognised_and_both_run(folder: Path) -> None:
    spec = resolve_model(str(folder))
    assert spec.family == "wan" and spec.note.endswith("same family as wan2.2-t2v-a14b")
    assert get_spec("wan2.2-t2v-a14b").memory_gb == 68.0
    backend = create_backend("wan", model=str(folder))
    pipe_calls: list[str] = []

    def record(name: str) -> Any:
        def hook(module: Any, args: Any, kwargs: Any) -> None:
            pipe_calls.append(name)
        return hook

    request = ShotRequest(shot_id="s1", shot_number=1, prompt="a lighthouse at night", negative_prompt="",
                          num_frames=9, width=32, height=32, fps=FrameRate(16), seed=1,
                          camera=(CameraMove("static"),), options={"steps": 8, "max_sequence_length": 16})
    backend.generate(dataclasses.replace(request, options={"steps": 1, "max_sequence_length": 16}),
                     lambda *a: None, threading.Event())  # loads the model
    backend_pipe = backend._resident.base
    backend_pipe.transformer.register_forward_pre_hook(record("high"), with_kwargs=True)
    backend_pipe.transformer_2.register_forward_pre_hook(record("low"), with_kwargs=True)
    clip = backend.generate(request, lambda *a: None, threading.Event())
    assert clip.frames.shape == (9, 32, 32, 3)
    assert pipe_calls[0] == "high" and pipe_calls[-1] == "low" and set(pipe_calls) == {"high", "low"}
    assert pipe_calls == sorted(pipe_calls, key=lambda name: name == "low")  # one switch, high -> low

