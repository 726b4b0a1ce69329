"""HunyuanVideo 1.5 on a tiny random-weight pipeline loaded through from_pretrained: text to
video, the card's guidance reaching the pipeline's guider, per-step progress and cancel without a
step callback in the pipeline."""

from __future__ import annotations

import functools
import threading
from typing import Any

import pytest

from studio.backends import create_backend
from studio.backends.base import GenerationCancelled, ShotRequest
from studio.board import CameraMove, FrameRate

import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def hunyuan(tmp_path_factory: pytest.TempPathFactory):
    folder = tiny.build_hunyuan15_t2v(tmp_path_factory.mktemp("tiny") / "hunyuan15")
    return create_backend("hunyuan", model=str(folder))


def request(**options: Any) -> ShotRequest:
    return ShotRequest(shot_id="s1", shot_number=1, prompt="a lighthouse at night", negative_prompt="blurry",
                       num_frames=12, width=32, height=32, fps=FrameRate(24), seed=3,
                       camera=(CameraMove("dolly_in", 0.5),), options={"steps": 3} | options)


def test_text_to_video_with_guidance_progress_and_the_card_prompt(hunyuan, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import HunyuanVideo15Pipeline

    seen: list[dict[str, Any]] = []
    original = HunyuanVideo15Pipeline.__call__

    @functools.wraps(original)  # the backend reads the call's signature
    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs | {"guidance": self.guider.guidance_scale})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HunyuanVideo15Pipeline, "__call__", spy)
    steps: list[tuple[int, int]] = []
    clip = hunyuan.generate(request(guidance=4.5), lambda done, total, message: steps.append((done, total)),
                            threading.Event())
    assert clip.frames.shape == (12, 32, 32, 3)
    (call,) = seen
    assert call["guidance"] == 4.5 and "guidance_scale" not in call and "callback_on_step_end" not in call
    assert "dollies in" in call["prompt"] and call["num_inference_steps"] == 3
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert hunyuan._resident.base.guider.guidance_scale == 1.0  # the saved guider is left as it was
    assert clip.metadata["pipeline"] == "HunyuanVideo15Pipeline" and clip.metadata["settings"]["guidance"] == 4.5


def test_cancel_stops_inside_the_loop(hunyuan) -> None:
    cancel = threading.Event()
    steps: list[int] = []

    def progress(done: int, total: int, message: str) -> None:
        steps.append(done)
        cancel.set()

    with pytest.raises(GenerationCancelled):
        hunyuan.generate(request(steps=5), progress, cancel)
    assert steps == [1]
    assert "step" not in vars(hunyuan._resident.base.scheduler)  # the step hook is gone
