"""LTX-2 through Diffusers: video with synchronized sound, kept in the take.

Which pipeline serves which task (one set of weights, derived pipelines share it):

- text: ``LTX2Pipeline``; first frame: ``LTX2ImageToVideoPipeline`` (``image=``).

Both return ``audio`` beside the frames (the vocoder's waveform, ``vocoder.config.output_sampling_rate``
Hz). To keep the sound in sync to the frame, LTX-2 is asked for the board's own frame rate
(``frame_rate`` sets the sound's length and the motion's pace), and for the fewest valid frames
(8k+1) that cover the shot; the extra frames at the end are cut from picture and sound alike, never
retimed. A board at a fractional rate (29.97) is generated at the nearest whole rate and both are
retimed together (the sidecar's adjustments say so).

The card's camera move also picks an LTX-2 camera-control LoRA (studio/backends/move_loras.py:
dolly, jib, static), loaded as an adapter at the weight of its intensity.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from studio.backends.base import ClipAudio, GenerationError, ShotRequest, fit_audio
from studio.backends.diffusers_common import (
    Conditioning,
    DiffusersBackend,
    Shape,
    audio_samples,
    resize_frames,
    to_pil,
)
from studio.backends.move_loras import load_move_lora
from studio.board import FrameRate
from studio.models import ModelSpec


class LTX2Backend(DiffusersBackend):
    name = "ltx2"
    family = "ltx2"
    default_model = "ltx-2"
    max_sequence_length = 1024

    def prepare_pipeline(self, pipe: Any, request: ShotRequest, spec: ModelSpec) -> dict[str, Any]:
        """The card's camera-move LoRA (or every adapter off), from the move-LoRA table."""
        return load_move_lora(pipe, self.family, tuple(request.camera), request.options.get("move_lora"),
                              self.cache_dir)

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        return "LTX2ImageToVideoPipeline" if task == "i2v" else "LTX2Pipeline"

    def call_defaults(self, spec: ModelSpec, shape: Shape) -> dict[str, Any]:
        return {"frame_rate": float(shape.fps)}

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        if task == "t2v":
            return {}
        if task != "i2v":
            raise GenerationError(f"{spec.key} has no way to take {task} input")
        return {"image": to_pil(cond.first)}

    def plan(self, request: ShotRequest, spec: ModelSpec, task: str, max_area: int | None) -> Shape:
        """At the board's rate (rounded to a whole one), the fewest valid frames covering the shot."""
        rate = max(1, round(float(request.fps)))
        at_board_rate = dataclasses.replace(spec, fps=rate)
        shape = super().plan(request, at_board_rate, task, max_area)
        if shape.windows:
            return shape
        rule = spec.frames
        cover = max(rule.minimum, rule.multiple * math.ceil((request.num_frames - 1) / rule.multiple) + 1)
        if cover > rule.maximum:
            return shape
        notes = [note for note in shape.adjustments if not note.startswith("frames:")]
        same_rate = FrameRate(rate) == request.fps
        if cover != request.num_frames or not same_rate:
            notes.append(
                f"frames: {spec.key} makes {rule} frames; {cover} were generated at {rate} fps and the last "
                f"{cover - request.num_frames} cut (picture and sound), none retimed"
                if same_rate else
                f"frames: generated {cover} frames at {rate} fps for a {request.fps} fps board; picture and sound "
                f"retimed together to {request.num_frames}"
            )
        return dataclasses.replace(shape, frames=cover, fps=rate, adjustments=tuple(notes))

    def fit(self, frames: np.ndarray, audio: Any, pipe: Any, shape: Shape,
            request: ShotRequest) -> tuple[np.ndarray, ClipAudio | None]:
        """Cut, not retime, when generated at the board's rate: frame i of the take is frame i of
        the model's clip, and sample j of its sound is sample j of the model's."""
        if FrameRate(shape.fps) != request.fps or len(frames) < request.num_frames:
            return super().fit(frames, audio, pipe, shape, request)
        frames = resize_frames(frames[:request.num_frames], request.width, request.height)
        if audio is None:
            return frames, None
        rate = self.audio_rate(pipe)
        samples, _ = fit_audio(audio_samples(audio), rate, request.num_frames, request.fps)
        return frames, ClipAudio(samples=samples, rate=rate)
