"""Long shots: a shot longer than a model makes in one call is made in overlapping windows.

Retiming a short clip to fill a long shot slows its motion down (up to the 2x limit in
diffusers_common); instead the shot is generated at the model's own pace in windows:

- window 1 is the shot's own task (text, or its first keyframe) at the model's longest length;
- every later window starts on the previous window's last frame (the model's image-to-video
  task with that frame as the first image), so the seam is a frame the model was told to keep,
  and that shared frame is kept once;
- the last window is the shortest valid length that reaches the shot's end; the frames past the
  end are cut. A model's sound (LTX-2) follows its frames: each window's sound without the
  shared frame's span.

A family whose pipeline extends a video itself (SkyReels-V2's diffusion forcing, with
``overlap_history`` frames of history per window) overrides ``DiffusersBackend.run_long`` and
gets the same plan.
Only text and first-frame shots are extended: a shot with a last or mid keyframe, or a
camera-guided one, pins frames a window plan could not honour, and keeps the retime rule.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.backends.base import GenerationError, ShotRequest
from studio.common import Progress
from studio.models import FrameRule, ModelSpec

if TYPE_CHECKING:
    from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape

EXTENDABLE_TASKS = ("t2v", "i2v")
SHARED_FRAMES = 1
"""Frames each window shares with the one before (its first frame is that window's last)."""


def model_frames(request: ShotRequest, spec: ModelSpec) -> int:
    """How many frames the shot lasts at the model's own rate."""
    return max(1, round(request.num_frames * spec.fps / request.fps.fraction))


def can_continue(spec: ModelSpec) -> bool:
    """Whether a window can start on a picture (the model animates a first frame)."""
    return spec.supports("i2v")


def window_rule(spec: ModelSpec, window_frames: object = None) -> FrameRule:
    """The model's frame rule, its longest window capped by the ``window_frames`` option (shorter
    windows need less memory) and snapped down to a valid count."""
    rule = spec.frames
    if window_frames is None:
        return rule
    if isinstance(window_frames, bool) or not isinstance(window_frames, int) or window_frames < rule.minimum:
        raise GenerationError(f"window_frames must be a whole number of frames from {rule.minimum} to {rule.maximum}, "
                              f"got {window_frames!r}")
    longest = min(rule.maximum, rule.multiple * ((window_frames - 1) // rule.multiple) + 1)
    return dataclasses.replace(rule, maximum=max(rule.minimum, longest))


def window_plan(total: int, rule: FrameRule, shared: int = SHARED_FRAMES) -> tuple[tuple[int, int], ...]:
    """(first frame, frame count) of each window covering ``total`` frames: the longest valid
    windows, each starting ``shared`` frames before the previous one ends, the last one the
    shortest valid length that reaches the end (it may run past it; the excess is cut)."""
    if total <= rule.maximum:
        return ((0, total),)
    if rule.maximum <= shared:
        raise GenerationError(f"windows of {rule.maximum} frames cannot overlap by {shared}")
    windows = [(0, rule.maximum)]
    while windows[-1][0] + windows[-1][1] < total:
        start = windows[-1][0] + windows[-1][1] - shared
        left = total - start
        count = rule.maximum if left >= rule.maximum else max(
            rule.minimum, rule.multiple * math.ceil((left - 1) / rule.multiple) + 1)
        windows.append((start, count))
    return tuple(windows)


def plan_long(request: ShotRequest, spec: ModelSpec, task: str, max_area: int | None) -> Shape | None:
    """A windowed shape when the shot is longer than ``spec`` makes at once, else None (one call)."""
    from studio.backends.diffusers_common import plan_shape

    rule = window_rule(spec, request.options.get("window_frames"))
    total = model_frames(request, spec)
    if total <= rule.maximum or task not in EXTENDABLE_TASKS or not can_continue(spec):
        return None
    one_window = dataclasses.replace(
        request, num_frames=max(1, math.floor(spec.frames.maximum * request.fps.fraction / spec.fps)))
    base = plan_shape(one_window, spec, max_area)
    windows = window_plan(total, rule)
    excess = windows[-1][0] + windows[-1][1] - total
    notes = [note for note in base.adjustments if not note.startswith("frames:")]
    notes.append(
        f"length: the shot is {total} frames at {spec.fps} fps and {spec.key} makes at most {rule.maximum} "
        f"at once{' (window_frames)' if rule.maximum < spec.frames.maximum else ''}, so it was made in "
        f"{len(windows)} overlapping windows ({', '.join(str(n) for _, n in windows)} frames), each continuing "
        f"from the end of the one before" + (f"; the last {excess} frame(s), past the shot's end, were cut" if excess else "")
    )
    return dataclasses.replace(base, frames=total, adjustments=tuple(notes), windows=windows)


def run_windows(backend: DiffusersBackend, pipe: Any, kwargs: dict[str, Any], task: str, spec: ModelSpec,
                shape: Shape, cond: Conditioning, progress: Progress,
                cancel: threading.Event) -> tuple[np.ndarray, Any]:
    """Every window in turn, each conditioned on the last frame of the one before; the frames
    joined (shared frames once) and cut to ``shape.frames``; the sound, if any, joined the same way."""
    from studio.backends.diffusers_common import Conditioning

    steps = int(kwargs["num_inference_steps"])
    count = len(shape.windows)
    started = time.perf_counter()
    pieces: list[np.ndarray] = []
    sounds: list[np.ndarray] = []
    rate = None
    task_keys = set(backend.task_kwargs(task, spec, shape, cond)) if task != "t2v" else set()
    for number, (_, frames) in enumerate(shape.windows):
        def window_progress(done: int, total: int, message: str, number: int = number) -> None:
            progress(number * steps + done, count * steps,
                     f"window {number + 1}/{count}: {message} ({time.perf_counter() - started:.1f} s in all)")

        window = dataclasses.replace(shape, frames=frames, windows=())
        call = {key: value for key, value in kwargs.items() if key not in task_keys} | {"num_frames": frames}
        window_pipe = pipe
        if number:
            previous_last = pieces[-1][-1]
            window_cond = Conditioning(task="i2v", first=previous_last)
            call |= backend.task_kwargs("i2v", spec, window, window_cond)
            window_pipe = backend.pipeline(spec, backend.pipeline_for("i2v", spec))
        elif task != "t2v":
            call |= backend.task_kwargs(task, spec, window, cond)
        made, audio = backend._run(window_pipe, call, window_progress, cancel, window)
        if len(made) != frames:
            raise GenerationError(f"window {number + 1} of {count} came back with {len(made)} frames, expected {frames}")
        skip = SHARED_FRAMES if number else 0
        pieces.append(made[skip:] if skip else made)
        if audio is not None:
            from studio.backends.diffusers_common import audio_samples

            rate = rate or backend.audio_rate(window_pipe)
            samples = audio_samples(audio)
            cut = round(skip * rate / shape.fps)
            sounds.append(samples[:, cut:round(frames * rate / shape.fps)])
    joined = np.concatenate(pieces)[:shape.frames]
    if len(joined) != shape.frames:
        raise GenerationError(f"the windows made {len(joined)} frames, expected {shape.frames}")
    sound = None
    if sounds and len(sounds) == count:
        sound = np.concatenate(sounds, axis=1)[:, :round(shape.frames * rate / shape.fps)]
    return joined, sound
