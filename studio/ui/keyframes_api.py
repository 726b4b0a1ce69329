"""Named HTTP endpoints for keyframe variations, the cast and locations.

``/image_models`` (the image catalog), ``/generate_keyframes`` (N seeded variations of a shot from
its card, drawn panel or a rough; queued as a job, waited for unless ``wait`` is false),
``/keyframe_variations`` (the shot's kept variations, newest first), ``/pick_keyframe`` (one as the
first, mid or last keyframe: an undoable edit), ``/set_look`` (a cast member's or location's
description and reference pictures) and ``/looks``.
"""

# No ``from __future__ import annotations`` here: gr.api reads the real type hints.

import base64
import binascii
from typing import Any, Callable

import gradio as gr

from studio.services.fields import FieldError

WAIT_SECONDS = 3600.0


def decode_data_url(value: str, field: str) -> bytes:
    """The bytes of "data:image/...;base64,..." (or bare base64) sent by a script."""
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FieldError(field, "must be an image as a base64 data URL (data:image/png;base64,...)") from None


def register(services: Any, opened: Callable[..., Any], owner: Callable[[Any], str], guarded: Callable) -> None:
    """Add the endpoints (``opened(project, request, need)`` checks rights, ``owner`` gives the
    request's actor, ``guarded`` turns service errors into gr.Error)."""
    from studio.image_models import image_model_rows
    from studio.services import cast, keyframes

    def image_models() -> list:
        """The image models the server knows: key, hub id, native size, steps, memory."""
        return image_model_rows()

    def generate_keyframes(project: str, shot_id: str, count: int = 4, model: str = "", seed: int = -1,
                           source: str = "text", strength: float = 0.6, rough: str = "", references: bool = True,
                           controlnet: str = "", options: dict = None, wait: bool = True,
                           request: gr.Request = None) -> dict:
        """Queue ``count`` keyframe variations of a shot (seeds seed, seed+1, ...; -1: the shot's
        own when locked). ``source`` text, panel (its drawn panel) or upload (``rough``: a data
        URL); ``strength`` 0 keeps the sketch; ``controlnet`` "auto" (or a ControlNet folder or hub
        id on the server) follows the sketch's lines. With wait, returns the job and the variations."""
        p = opened(project, request).project
        job = keyframes.submit_keyframes(
            services, owner(request), p, shot_id, count=int(count), model=model or None,
            seed=None if seed is None or seed < 0 else int(seed), source=source, strength=float(strength),
            rough=decode_data_url(rough, "rough") if rough else None, references=bool(references),
            control=controlnet or None,
            options=dict(options or {}))
        answer = {"job": job.id, "status": job.status}
        if wait:
            job = services.jobs.wait(owner(request), job.id, WAIT_SECONDS)
            if job.status != "done":
                raise gr.Error(job.error or f"job {job.id} {job.status}")
            answer = {"job": job.id, "status": job.status,
                      "variations": [v.public() for v in job.result.variations]}
        return answer

    def keyframe_variations(project: str, shot_id: str, request: gr.Request = None) -> list:
        """The shot's kept variations, newest first: id, seed, model, source, prompt, created."""
        return [v.public() for v in keyframes.list_variations(opened(project, request, "viewer").project, shot_id)]

    def pick_keyframe(project: str, shot_id: str, variation_id: str, role: str = "first", frame: int = 0,
                      request: gr.Request = None) -> dict:
        """Make a variation the shot's ``role`` keyframe (undo takes it back)."""
        board = keyframes.pick_variation(opened(project, request).project, shot_id, variation_id, role,
                                         int(frame or 0), owner(request))
        return {"revision": board.revision,
                "keyframes": [{"role": k.role, "frame": k.frame, "file": k.path} for k in board.shot(shot_id).keyframes]}

    def set_look(project: str, kind: str, name: str, description: str = None, reference: str = "",
                 remove_reference: str = "", request: gr.Request = None) -> dict:
        """Create or change a cast member (kind "cast") or location: its description, a reference
        picture added (a data URL) or one removed (its path). Returns the cast and locations."""
        board = cast.set_look(opened(project, request).project, kind, name, description=description,
                              add_reference=decode_data_url(reference, "reference") if reference else None,
                              remove_reference=remove_reference or None, actor=owner(request))
        return {"revision": board.revision, **cast.looks(board)}

    def looks(project: str, request: gr.Request = None) -> dict:
        """The board's cast and locations: names, descriptions, reference picture paths."""
        return cast.looks(services.board(opened(project, request, "viewer").project))

    for fn in (image_models, keyframe_variations, looks):
        gr.api(guarded(fn), api_name=fn.__name__, concurrency_id="edit", concurrency_limit=4)
    for fn in (pick_keyframe, set_look):
        gr.api(guarded(fn), api_name=fn.__name__, concurrency_id="edit", concurrency_limit=4)
    gr.api(guarded(generate_keyframes), api_name="generate_keyframes", concurrency_id="keyframes",
           concurrency_limit=4)
