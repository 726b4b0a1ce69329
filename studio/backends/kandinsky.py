"""Kandinsky 5 Video Lite through Diffusers: text (Kandinsky5T2VPipeline) or a first frame
(Kandinsky5I2VPipeline, its own weights); the card's camera move also picks a camera-move LoRA.

Camera-move LoRAs (studio/backends/move_loras.py): the card's strongest move that has one is loaded
into the transformer as an adapter at the weight its intensity gives; ``--option move_lora=off``
renders without, ``move_lora=REPO_OR_FOLDER[:FILE]`` uses another LoRA for that move. LoRAs are read
from disk only (the Hugging Face cache or a folder): a missing one is an error that says how to
fetch it, never a silent download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.backends.base import GenerationError, ShotRequest
from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape, to_pil
from studio.backends.move_loras import apply_move_lora, choose_move_lora
from studio.models import ModelSpec


class KandinskyBackend(DiffusersBackend):
    name = "kandinsky"
    family = "kandinsky"
    default_model = "kandinsky-5-lite-t2v"

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        return spec.pipeline

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        if task == "i2v":
            return {"image": to_pil(cond.first)}
        if task != "t2v":
            raise GenerationError(f"{spec.key} has no way to take {task} input")
        return {}

    def prepare_pipeline(self, pipe: Any, request: ShotRequest, spec: ModelSpec) -> dict[str, Any]:
        """The card's camera-move LoRA, loaded (once) and weighted, or every adapter off."""
        choice = choose_move_lora(self.family, tuple(request.camera), request.options.get("move_lora"))
        local = choice is not None and Path(choice.lora.repo).expanduser().is_dir()
        load = {} if local else {"local_files_only": True, "cache_dir": self.cache_dir}
        try:
            apply_move_lora(pipe, choice, load)
        except (OSError, ValueError) as error:
            assert choice is not None
            raise GenerationError(
                f"camera-move LoRA {choice.lora.repo} for {choice.move} is not on disk or not readable ({error}); "
                f"fetch it with `huggingface-cli download {choice.lora.repo}`, or render with "
                "--option move_lora=off") from None
        return {"move_lora": None if choice is None else choice.to_dict()}
