"""Wan 2.1 / 2.2 video models through Diffusers: text, first frame, first+last, VACE keyframes, V2V.

Which pipeline serves which task:

- T2V weights (WanPipeline): text; camera-guided video-to-video via WanVideoToVideoPipeline.from_pipe.
- I2V / FLF2V weights (WanImageToVideoPipeline): first frame; first + last (``last_image=``) only
  on the FLF2V model, whose image embedding has room for two pictures.
- Wan 2.2 TI2V 5B (WanPipeline, ``expand_timesteps``): text; first frame via WanImageToVideoPipeline.
- VACE weights (WanVACEPipeline): keyframes at any frame index as ``video`` + ``mask``
  (black mask = keep this frame, white = generate it).

The VAE (and the CLIP image encoder) stay in float32 whatever the transformer's dtype: the Wan VAE
loses visible detail in bf16.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.backends.base import GenerationError, ShotRequest
from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape, fit_keyframe, to_pil
from studio.models import ModelSpec

GRAY = 127
"""VACE's "nothing here" pixel value for frames it must generate."""


class WanBackend(DiffusersBackend):
    name = "wan"
    family = "wan"
    default_model = "wan2.1-t2v-1.3b"
    keep_float32 = ("vae", "image_encoder")
    max_sequence_length = 512

    def load_kwargs(self, spec: ModelSpec, source: str, load: dict[str, Any]) -> dict[str, Any]:
        import torch
        from diffusers import AutoencoderKLWan

        vae = AutoencoderKLWan.from_pretrained(source, subfolder="vae", dtype=torch.float32, **load)
        extra: dict[str, Any] = {"vae": vae}
        if spec.pipeline == "WanImageToVideoPipeline" and _has_component(source, load, "image_encoder"):
            from transformers import CLIPVisionModelWithProjection

            extra["image_encoder"] = CLIPVisionModelWithProjection.from_pretrained(
                source, subfolder="image_encoder", dtype=torch.float32, **load)
        return extra

    def request_kwargs(self, request: ShotRequest, task: str, spec: ModelSpec, shape: Shape,
                       cond: Conditioning) -> tuple[dict[str, Any], dict[str, Any]]:
        """VACE takes the shot's cast and location reference pictures (``reference_images``), so
        the same face and place come back shot after shot; other Wan pipelines have no such input."""
        if spec.pipeline != "WanVACEPipeline" or not request.references:
            return {}, {}
        images = [to_pil(fit_keyframe(picture, shape.width, shape.height)) for picture in request.references]
        return {"reference_images": images}, {"reference_images": len(images)}

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        if spec.pipeline == "WanVACEPipeline":
            return "WanVACEPipeline"
        if task == "v2v":
            return "WanVideoToVideoPipeline"
        if task in ("i2v", "flf2v"):
            return "WanImageToVideoPipeline"
        return spec.pipeline

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        if spec.pipeline == "WanVACEPipeline":
            return _vace_inputs(cond, shape) if task != "t2v" else {}
        if task == "v2v":
            assert cond.video is not None
            return {"video": [to_pil(frame) for frame in cond.video], "strength": cond.strength}
        if task == "i2v":
            return {"image": to_pil(cond.first)}
        if task == "flf2v":
            return {"image": to_pil(cond.first), "last_image": to_pil(cond.last)}
        if task != "t2v":
            raise GenerationError(f"{spec.key} has no way to take {task} input")
        return {}


def _vace_inputs(cond: Conditioning, shape: Shape) -> dict[str, Any]:
    """Keyframes as a VACE video + mask: the pictures where they belong, gray + white elsewhere."""
    video = np.full((shape.frames, shape.height, shape.width, 3), GRAY, dtype=np.uint8)
    mask = np.full((shape.frames, shape.height, shape.width), 255, dtype=np.uint8)
    for frame, image in cond.images_at(shape.frames):
        video[frame] = image
        mask[frame] = 0
    from PIL import Image

    return {"video": [to_pil(frame) for frame in video], "mask": [Image.fromarray(m) for m in mask]}


def _has_component(source: str, load: dict[str, Any], name: str) -> bool:
    """Whether the model folder ships ``name`` (Wan 2.2 TI2V has no CLIP image encoder)."""
    from pathlib import Path

    if not load:
        return (Path(source) / name).is_dir()
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(source, f"{name}/config.json", cache_dir=load.get("cache_dir"),
                                   revision=load.get("revision"))
    return isinstance(found, str)
