"""Draft and final: what a render's quality changes in the request, and re-rendering a draft as final.

The quality of a render is the one asked for (``studio render --quality``, the API), else the
shot's, else the board's. **Draft** asks for less: the distilled sibling of the model where the
catalog has one (with that model's own steps and guidance, e.g. Kandinsky 5 Lite distilled in 16
steps, LTX-2.3 distilled in 8 steps at CFG 1), otherwise DRAFT_STEP_FRACTION of the model's steps;
and at most DRAFT_AREA of the model's native pixels. Options given explicitly for the render still
win. The animatic is the same at both qualities (it is already instant). **Final** uses the model's
full settings; a final render of a shot whose chosen take is a draft re-renders *that take*: the
same seed, backend and (undistilled) model, and the draft's conditioning as its sidecar records it
(prompt, negative prompt, camera, keyframes, panels), as a new take that becomes the chosen one;
the draft stays among the takes. Every take and its sidecar say which quality made it.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from studio.backends import BACKENDS
from studio.backends.base import GenerationError
from studio.board import QUALITIES, Board, BoardError, Shot
from studio.board_codec import shot_from_dict, shot_to_dict
from studio.common import shown
from studio.models import CATALOG, ModelError, ModelSpec, resolve_model
from studio.storage import Project

DRAFT_STEP_FRACTION = 0.3
MIN_DRAFT_STEPS = 4
DRAFT_AREA = 0.5
"""A draft is made at most at this fraction of the model's native pixel count (about 0.7 of each side)."""

DISTILLED = MappingProxyType({
    "kandinsky-5-lite-t2v": "kandinsky-5-lite-t2v-distilled",
    "ltx-2": "ltx-2.3-distilled",
})
"""Catalog model -> its distilled sibling used for drafts."""

DRAFT_OPTIONS = ("steps", "guidance", "max_area")
"""The options a draft sets; a final re-render drops them from the draft's recorded options."""

CONDITIONING = ("prompt", "negative_prompt", "camera", "keyframes", "panels")
"""What a final re-render takes from its draft's sidecar rather than from the card as it is now."""


@dataclass(frozen=True)
class QualityJob:
    """A render with its quality applied: what to render and how, and what the sidecar records."""

    quality: str
    shot: Shot
    backend: str
    settings: dict[str, Any]
    options: dict[str, Any]
    seed: int | None
    record: dict[str, Any] = field(default_factory=dict)


def check_quality(value: object, field_name: str = "quality") -> str:
    if value not in QUALITIES:
        raise GenerationError(f"{field_name} must be one of {', '.join(QUALITIES)}, got {shown(value)}")
    return str(value)


def effective_quality(board: Board, shot: Shot, quality: str | None = None) -> str:
    """The quality asked for, else the shot's, else the board's."""
    return check_quality(quality) if quality else (shot.quality or board.quality)


def needs_render(board: Board, shot: Shot, quality: str | None = None) -> bool:
    """Whether an "only missing" render should make this shot: it has no chosen take, or a final
    render is asked for and its chosen take is a draft."""
    chosen = shot.chosen()
    if chosen is None:
        return True
    return effective_quality(board, shot, quality) == "final" and chosen.quality == "draft"


def model_spec(backend: str, model: str | None, like: str | None = None) -> ModelSpec | None:
    """The catalog spec a diffusion backend would run (its default model when none is named);
    None for a backend without models (the animatic) or a name the backend will refuse itself."""
    if backend not in BACKENDS:
        return None
    module_name, _, class_name = BACKENDS[backend].partition(":")
    default = getattr(getattr(importlib.import_module(module_name), class_name), "default_model", "")
    if not (model or default):
        return None
    try:
        return resolve_model(model or default, like=like)
    except ModelError:
        return None


def draft_plan(spec: ModelSpec) -> tuple[str | None, dict[str, Any]]:
    """The distilled model to use (None: the same model) and the draft options for ``spec``."""
    distilled = CATALOG.get(DISTILLED.get(spec.key, ""))
    runs = distilled or spec
    steps = runs.steps if distilled else max(MIN_DRAFT_STEPS, round(spec.steps * DRAFT_STEP_FRACTION))
    options: dict[str, Any] = {"steps": steps, "max_area": int(runs.native_area * DRAFT_AREA)}
    if distilled:
        options["guidance"] = distilled.guidance
    return (distilled.key if distilled else None), options


def apply_quality(project: Project, board: Board, shot: Shot, quality: str | None, backend: str,
                  settings: dict[str, Any], options: dict[str, Any], seed: int | None) -> QualityJob:
    """The render of ``shot`` at its quality (see the module docstring)."""
    level = effective_quality(board, shot, quality)
    if level == "draft":
        return _draft(shot, backend, settings, options, seed)
    chosen = shot.chosen()
    if seed is None and chosen is not None and chosen.quality == "draft":
        return _final_of_draft(project, shot, chosen.id, settings, options)
    return QualityJob("final", shot, backend, settings, options, seed, {"level": "final"})


def _draft(shot: Shot, backend: str, settings: dict[str, Any], options: dict[str, Any],
           seed: int | None) -> QualityJob:
    spec = model_spec(backend, settings.get("model"), settings.get("like"))
    if spec is None:
        return QualityJob("draft", shot, backend, settings, options, seed, {"level": "draft", "same_as_final": True})
    distilled, draft_options = draft_plan(spec)  # a custom folder's key is its path: no distilled sibling
    settings = settings | ({"model": distilled} if distilled else {"model": settings.get("model") or spec.key})
    merged = draft_options | options  # what the user asked for explicitly still wins
    record = {"level": "draft", "model": spec.key, "draft_model": distilled or spec.key,
              "options": {key: merged[key] for key in draft_options}}
    return QualityJob("draft", shot, backend, settings, merged, seed, record)


def _final_of_draft(project: Project, shot: Shot, take_id: str, settings: dict[str, Any],
                    options: dict[str, Any]) -> QualityJob:
    """A final re-render of the chosen draft: its seed, backend, model and conditioning."""
    take = next(t for t in shot.takes if t.id == take_id)
    try:
        sidecar = json.loads(project.resolve(take.sidecar_path).read_text(encoding="utf-8"))
        drafted = sidecar["quality"]
        base_model = drafted.get("model") or take.model
        card = shot_to_dict(shot) | {name: sidecar[name] for name in CONDITIONING if name in sidecar}
        conditioned = shot_from_dict(card)
    except (OSError, ValueError, KeyError, TypeError, BoardError) as error:
        raise GenerationError(
            f"shot {shot.id}: the draft take {take.id} cannot be re-rendered as final: its record "
            f"{take.sidecar_path} is missing or unreadable ({error}); render the shot again instead") from None
    kept = {key: value for key, value in dict(sidecar.get("options") or {}).items() if key not in DRAFT_OPTIONS}
    final_settings = settings | ({"model": base_model} if base_model else {})
    record = {"level": "final", "from_draft": take.id, "model": base_model,
              "same_seed": take.seed, "conditioning": list(CONDITIONING)}
    return QualityJob("final", conditioned, take.backend, final_settings, kept | options, take.seed, record)
