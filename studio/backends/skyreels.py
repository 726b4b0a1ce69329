"""SkyReels-V2 diffusion forcing through Diffusers: long shots made by the model itself.

Which pipeline serves which task (one set of Wan-architecture weights):

- text: ``SkyReelsV2DiffusionForcingPipeline``; first frame: ``SkyReelsV2DiffusionForcingImageToVideoPipeline``.

Diffusion forcing denoises each frame at its own noise level, so a video longer than one window
(``base_num_frames``) is made window after window inside one call, every window starting from the
last ``overlap_history`` frames of the one before (as clean history, with ``addnoise_condition``
of noise added to keep it from freezing). long_shots.py plans the windows exactly as for any
model; here they are handed to the pipeline in one call instead of one call each.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from studio.backends.base import GenerationError
from studio.backends.diffusers_common import (
    Conditioning,
    DiffusersBackend,
    Shape,
    to_pil,
)
from studio.backends.wan import WanBackend
from studio.common import Progress
from studio.models import ModelSpec

OVERLAP_HISTORY = 17
"""Frames of history each window starts from (the pipeline's recommended 17 for 97-frame windows)."""
ADDNOISE_CONDITION = 20
"""Noise added to the history (the pipeline's recommended 20)."""


class SkyReelsBackend(DiffusersBackend):
    name = "skyreels"
    family = "skyreels"
    default_model = "skyreels-v2-df-1.3b-540p"
    keep_float32 = ("vae",)
    max_sequence_length = 512

    load_kwargs = WanBackend.load_kwargs  # the Wan VAE, loaded apart in float32

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        return "SkyReelsV2DiffusionForcingImageToVideoPipeline" if task == "i2v" else "SkyReelsV2DiffusionForcingPipeline"

    def call_defaults(self, spec: ModelSpec, shape: Shape) -> dict[str, Any]:
        return {"fps": shape.fps}

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        if task == "t2v":
            return {}
        if task != "i2v":
            raise GenerationError(f"{spec.key} has no way to take {task} input")
        return {"image": to_pil(cond.first)}

    def run_long(self, pipe: Any, kwargs: dict[str, Any], task: str, spec: ModelSpec, shape: Shape,
                 cond: Conditioning, progress: Progress, cancel: threading.Event) -> tuple[np.ndarray, Any]:
        """One call over the whole shot: windows of ``shape.windows[0]`` frames, each continuing from
        the previous one's last ``overlap_history`` frames; the frames past the shot's end cut."""
        window = shape.windows[0][1]
        rule = spec.frames
        length = rule.multiple * math.ceil((shape.frames - 1) / rule.multiple) + 1
        overlap = min(OVERLAP_HISTORY, (window - 1) // 2 // rule.multiple * rule.multiple + 1)
        call = kwargs | {"num_frames": length, "base_num_frames": window, "overlap_history": overlap,
                         "addnoise_condition": ADDNOISE_CONDITION}
        frames, _ = self._run(pipe, call, progress, cancel, shape)
        if len(frames) < shape.frames:
            raise GenerationError(f"{type(pipe).__name__} made {len(frames)} frames, expected at least {shape.frames}")
        return frames[:shape.frames], None
