"""CogVideoX through Diffusers: text, first frame, and camera-guided video-to-video.

Which pipeline serves which task:

- T2V weights (CogVideoXPipeline, 2B and 5B): text; camera-guided mode through
  CogVideoXVideoToVideoPipeline on the same weights, the animatic render as the init video.
- I2V weights (CogVideoXImageToVideoPipeline, 5B-I2V): first frame.

CogVideoX 1.0 was trained on 49 frames at 8 fps, 720x480: shots map onto at most 49 frames.
"""

from __future__ import annotations

from typing import Any

from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape, image_or_text_kwargs, to_pil
from studio.models import ModelSpec


class CogVideoXBackend(DiffusersBackend):
    name = "cogvideox"
    family = "cogvideox"
    default_model = "cogvideox-5b"
    max_sequence_length = 226

    def text_length(self, pipe: Any, requested: int) -> int:
        """CogVideoX's position embedding is built for exactly ``max_text_seq_length`` prompt tokens."""
        return int(pipe.transformer.config.max_text_seq_length)

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        if task == "v2v":
            return "CogVideoXVideoToVideoPipeline"
        return spec.pipeline

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        if task == "v2v":
            assert cond.video is not None
            return {"video": [to_pil(frame) for frame in cond.video], "strength": cond.strength}
        return image_or_text_kwargs(task, spec, cond)
