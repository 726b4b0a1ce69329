"""HunyuanVideo 1.5 through Diffusers: text (HunyuanVideo15Pipeline) or a first frame
(HunyuanVideo15ImageToVideoPipeline, its own weights).

Two differences from the other families, both absorbed here so the shared step loop holds:

- CFG lives in the pipeline's ``guider`` (a ClassifierFreeGuidance component), not in a
  ``guidance_scale`` argument: the card's guidance is set on a copy of the guider for the call.
- The pipeline takes no ``callback_on_step_end``: the step callback (progress, and cancel raised
  from inside the loop) is called after each scheduler step instead, which the loop makes exactly
  once per denoising step.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Iterator

from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape, image_or_text_kwargs
from studio.models import ModelSpec


class HunyuanBackend(DiffusersBackend):
    name = "hunyuan"
    family = "hunyuan"
    default_model = "hunyuanvideo-1.5-480p-t2v"

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        return spec.pipeline

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        return image_or_text_kwargs(task, spec, cond)

    def _run(self, pipe: Any, kwargs: dict[str, Any], progress: Any, cancel: Any, shape: Shape) -> Any:
        accepted = set(inspect.signature(type(pipe).__call__).parameters)
        guidance = kwargs.get("guidance_scale")
        call = {key: value for key, value in kwargs.items() if key in accepted}
        return super()._run(_StepCallbacks(pipe, guidance), call, progress, cancel, shape)


class _StepCallbacks:
    """The pipeline, called with a ``callback_on_step_end`` it does not take: the callback runs
    after every scheduler step, and the guider gets the card's guidance for this call."""

    def __init__(self, pipe: Any, guidance: float | None) -> None:
        self._pipe = pipe
        self._guidance = guidance

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def __call__(self, callback_on_step_end: Any = None, **kwargs: Any) -> Any:
        with self._guided(), self._stepping(callback_on_step_end):
            return self._pipe(**kwargs)

    @contextlib.contextmanager
    def _guided(self) -> Iterator[None]:
        pipe, original = self._pipe, self._pipe.guider
        if self._guidance is not None:
            pipe.guider = original.new(guidance_scale=float(self._guidance))
        try:
            yield
        finally:
            pipe.guider = original

    @contextlib.contextmanager
    def _stepping(self, callback: Any) -> Iterator[None]:
        scheduler = self._pipe.scheduler
        original = scheduler.step
        done = [0]

        def step(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if callback is not None:
                callback(self._pipe, done[0], args[1] if len(args) > 1 else kwargs.get("timestep"), {})
            done[0] += 1
            return result

        scheduler.step = step
        try:
            yield
        finally:
            del scheduler.step
