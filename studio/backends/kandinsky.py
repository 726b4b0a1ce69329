"""Kandinsky 5 Video Lite through Diffusers: text (Kandinsky5T2VPipeline) or a first frame
(Kandinsky5I2VPipeline, its own weights); the card's camera move also picks a camera-move LoRA.

Camera-move LoRAs (studio/backends/move_loras.py): the card's strongest move that has one is loaded
into the transformer as an adapter at the weight its intensity gives; ``--option move_lora=off``
renders without, ``move_lora=REPO_OR_FOLDER[:FILE]`` uses another LoRA for that move. LoRAs are read
from disk only (the Hugging Face cache or a folder): a missing one is an error that says how to
fetch it, never a silent download.
"""

from __future__ import annotations

from typing import Any

from studio.backends.base import ShotRequest
from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape, image_or_text_kwargs
from studio.backends.move_loras import load_move_lora
from studio.models import ModelSpec


class KandinskyBackend(DiffusersBackend):
    name = "kandinsky"
    family = "kandinsky"
    default_model = "kandinsky-5-lite-t2v"

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        return spec.pipeline

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        return image_or_text_kwargs(task, spec, cond)

    def prepare_pipeline(self, pipe: Any, request: ShotRequest, spec: ModelSpec) -> dict[str, Any]:
        """The card's camera-move LoRA, loaded (once) and weighted, or every adapter off."""
        return load_move_lora(pipe, self.family, tuple(request.camera), request.options.get("move_lora"),
                              self.cache_dir)
