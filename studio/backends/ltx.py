"""LTX-Video through Diffusers: text, first frame, and conditions (keyframes anywhere, a guide video).

Which pipeline serves which task:

- LTX-Video 0.9 weights (LTXPipeline): text; first frame via LTXImageToVideoPipeline (same weights).
- LTX-Video 0.9.5+ weights (LTXConditionPipeline): every task through ``conditions``: each keyframe
  an ``LTXVideoCondition(image, frame_index)`` at its frame, and in camera-guided mode the animatic
  render of the camera move as a video condition at frame 0 whose ``strength`` is the user's.

LTX takes the frame rate as an input (it scales the temporal positions), so it gets the model's.
"""

from __future__ import annotations

from typing import Any

from studio.backends.base import GenerationError
from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape, to_pil
from studio.models import ModelSpec


class LTXBackend(DiffusersBackend):
    name = "ltx"
    family = "ltx"
    default_model = "ltx-video-0.9.5"
    max_sequence_length = 128

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        if spec.pipeline == "LTXConditionPipeline":
            return "LTXConditionPipeline"
        return "LTXImageToVideoPipeline" if task == "i2v" else "LTXPipeline"

    def call_defaults(self, spec: ModelSpec, shape: Shape) -> dict[str, Any]:
        return {"frame_rate": shape.fps}

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        if task == "t2v":
            return {}
        if spec.pipeline != "LTXConditionPipeline":
            if task != "i2v":
                raise GenerationError(f"{spec.key} has no way to take {task} input")
            return {"image": to_pil(cond.first)}
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        if task == "v2v":
            assert cond.video is not None
            video = [to_pil(frame) for frame in cond.video]
            return {"conditions": [LTXVideoCondition(video=video, frame_index=0, strength=cond.strength)]}
        return {"conditions": [
            LTXVideoCondition(image=to_pil(image), frame_index=frame, strength=1.0)
            for frame, image in cond.images_at(shape.frames)
        ]}
