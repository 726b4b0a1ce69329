"""Keyframe variations: N pictures of a shot from its card (or its sketch), kept like takes, one
picked as the shot's first, mid or last keyframe.

1. the inputs: the card's words (framing, prompt, camera phrase, the cast and location it shows),
   the seeds (base seed + 0, 1, 2...: the same card and seed make the same pictures), the sketch
   (the shot's drawn panel or an uploaded rough, stored in the project and kept), the cast's and
   location's reference pictures, the board's and shot's LoRAs;
2. the image backend makes one picture per seed at the board's aspect ratio;
3. each picture is written under ``keyframes/variations/<shot>/`` with a JSON sidecar holding
   everything that made it; nothing is written when the batch fails or is cancelled;
4. :func:`pick_variation` makes one of them a keyframe of the shot: one undoable edit.

Variations are files, not board entries: making forty of them never grows board.json, and the
folder is the history a person goes back to.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.backends import BackendCache
from studio.backends.base import GenerationError, library_versions
from studio.board import KEYFRAME_ROLES, SEED_MAX, Board, BoardError, Shot, check_seed, new_id, random_seed
from studio.common import Progress, no_progress, shown, write_atomic, write_json_atomic
from studio.services.fields import FieldError
from studio.storage import Project, ProjectError

VARIATIONS_DIR = "keyframes/variations"
MAX_VARIATIONS = 16
SOURCES: tuple[str, ...] = ("text", "panel", "upload")
"""Where a batch starts: the card's words alone, the shot's drawn panel, or an uploaded rough."""
RECORDED_LIBRARIES = ("previz-studio", "numpy", "pillow", "torch", "diffusers", "transformers", "peft")
IMAGE_BACKEND = "image"
"""The BackendCache name of the image backend (one cache: one model resident across image and video)."""


@dataclass(frozen=True)
class Variation:
    """One kept picture: its id, PNG path in the project, seed and sidecar."""

    id: str
    shot_id: str
    path: str
    seed: int
    record: dict[str, Any]

    @property
    def sidecar_path(self) -> str:
        return self.path.removesuffix(".png") + ".json"

    def public(self) -> dict[str, Any]:
        made = self.record
        return {"id": self.id, "shot_id": self.shot_id, "image": self.path, "seed": self.seed,
                "model": made.get("model"), "source": made.get("source"), "strength": made.get("strength"),
                "prompt": made.get("prompt"), "created": made.get("created"), "batch": made.get("batch")}


@dataclass(frozen=True)
class VariationBatch:
    """What one keyframe job made (``id`` is the batch id, as a job result reports it)."""

    id: str
    variations: tuple[Variation, ...]


# --------------------------------------------------------------------------------------------
# The words


def keyframe_prompt(board: Board, shot: Shot) -> tuple[str, str]:
    """The card as one prompt for a still: framing, prompt, camera phrase, then who and where
    (the cast's and location's descriptions). Returns (prompt, camera phrase)."""
    from studio.camera import camera_prompt, framing_prompt
    from studio.services.cast import cast_phrase

    phrase = camera_prompt(tuple(shot.camera)).strip()
    parts = [framing_prompt(shot.shot_size, shot.angle, shot.lens_mm), shot.prompt, phrase, cast_phrase(board, shot)]
    return ". ".join(p.strip().rstrip(".") for p in parts if p and p.strip()), phrase


def seeds_for(base: int, count: int) -> tuple[int, ...]:
    """Variation i uses base + i (wrapping), so any one of them can be made again alone."""
    return tuple((base + index) % (SEED_MAX + 1) for index in range(count))


# --------------------------------------------------------------------------------------------
# Making a batch


def generate_keyframes(
    project: Project,
    shot_id: str,
    *,
    count: int = 4,
    model: str | None = None,
    seed: int | None = None,
    source: str = "text",
    rough: bytes | None = None,
    strength: float = 0.6,
    control: str | None = None,
    references: bool = True,
    options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    backends: BackendCache | None = None,
) -> VariationBatch:
    """Make ``count`` variations of a shot's keyframe and keep them (see the module docstring).

    ``source`` "panel" starts from the shot's drawn panel (else its first keyframe), "upload"
    from ``rough`` (image bytes, stored in the project); ``strength`` says how far from it the
    picture may go (0 keeps it as drawn); ``control`` "auto" (or a ControlNet folder / hub id)
    follows the sketch's lines with a ControlNet instead. ``references`` False ignores the cast's
    pictures.
    """
    from studio.backends.image import ImageRequest
    from studio.services.cast import shot_loras, shot_references

    progress = progress or no_progress
    cancel = cancel or threading.Event()
    backends = backends or BackendCache()
    check_count(count)
    if source not in SOURCES:
        raise FieldError("source", f"must be one of {', '.join(SOURCES)}, got {shown(source)}")
    board = project.load()
    try:
        shot = board.shot(shot_id)
    except BoardError as error:
        raise FieldError("shot", str(error)) from None
    base = _base_seed(shot, seed)
    prompt, phrase = keyframe_prompt(board, shot)
    if not prompt.strip():
        raise FieldError("prompt", "write a prompt (or a shot size, or tag a cast member) to make keyframes from")
    sketch_path, sketch = _sketch(project, shot, source, rough)
    ref_paths, ref_images = shot_references(project, board, shot) if references else ((), ())
    loras = shot_loras(board, shot)
    use_refs = bool(ref_images) and source == "text"
    chosen_model, note = _model_for(model, use_refs)
    use_refs = use_refs and not note
    request = ImageRequest(
        prompt=prompt, negative_prompt=shot.negative_prompt, width=board.width, height=board.height,
        seeds=seeds_for(base, count), model=chosen_model, init_image=sketch,
        strength=float(strength), references=tuple(ref_images) if use_refs else (),
        loras=loras, control=control if sketch is not None else None, options=dict(options or {}),
    )
    settings = {"memory_profile": board.memory_profile} | dict(settings or {})
    started = time.perf_counter()
    generator = backends.get(IMAGE_BACKEND, **settings)
    result = generator.generate(request, progress, cancel)
    if cancel.is_set():
        raise GenerationError(f"shot {shot_id}: cancelled; nothing was kept")
    elapsed = time.perf_counter() - started
    # 3. files: every picture and sidecar, or none
    batch = new_id("kb_")
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")  # orders two batches made within a second
    written: list[Path] = []
    variations = []
    try:
        for index, (image, image_seed) in enumerate(zip(result.images, request.seeds)):
            variation_id = new_id("kv_")
            path = f"{VARIATIONS_DIR}/{shot_id}/{variation_id}.png"
            record = {
                "variation": variation_id, "batch": batch, "index": index, "shot": shot_id, "created": created,
                "seed": image_seed, "model": result.metadata.get("model"), "source": source,
                "sketch": sketch_path, "strength": float(strength) if sketch is not None else None,
                "prompt": prompt, "camera_phrase": phrase, "negative_prompt": shot.negative_prompt,
                "card_prompt": shot.prompt, "width": board.width, "height": board.height,
                "characters": list(shot.characters), "location": shot.location,
                "references": list(ref_paths) if request.references else [], "note": note,
                "loras": [lora.record() for lora in loras], "settings": settings, "options": request.options,
                "generation": result.metadata, "elapsed_seconds": round(elapsed, 3),
                "libraries": library_versions(RECORDED_LIBRARIES), "python": platform.python_version(),
            }
            target = project.resolve(path, "variation")
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, _png(image))
            written.append(target)
            sidecar = target.with_suffix(".json")
            write_json_atomic(sidecar, record)
            written.append(sidecar)
            variations.append(Variation(variation_id, shot_id, path, image_seed, record))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return VariationBatch(batch, tuple(variations))


def _model_for(model: str | None, references: bool) -> tuple[str, str]:
    """The model to use (the catalog's default image or edit model unless one is named) and a note
    when reference pictures cannot be used by the named model."""
    from studio.image_models import DEFAULT_EDIT_MODEL, DEFAULT_IMAGE_MODEL, resolve_image_model
    from studio.models import ModelError

    chosen = model or (DEFAULT_EDIT_MODEL if references else DEFAULT_IMAGE_MODEL)
    try:
        spec = resolve_image_model(chosen)
    except ModelError as error:
        raise FieldError("model", str(error)) from None
    if references and not spec.supports("edit"):
        return chosen, f"the cast's and location's reference pictures were not used: {spec.key} is not an edit model"
    return chosen, ""


def check_count(count: Any) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_VARIATIONS:
        raise FieldError("count", f"must be a whole number from 1 to {MAX_VARIATIONS}, got {shown(count)}")
    return count


def _base_seed(shot: Shot, seed: int | None) -> int:
    if seed is not None:
        try:
            return check_seed("seed", seed)
        except BoardError as error:
            raise FieldError("seed", f"{error.problem}, got {shown(seed)}") from None
    return shot.seed if shot.seed_locked else random_seed()


def _sketch(project: Project, shot: Shot, source: str, rough: bytes | None) -> tuple[str | None, np.ndarray | None]:
    """The picture to start from and its path in the project (an upload is stored and kept)."""
    from studio.images import ImageError, load_rgb

    if source == "text":
        return None, None
    if source == "upload":
        if not rough:
            raise FieldError("rough", "upload a rough sketch to start from")
        try:
            path = project.import_keyframe(rough)
        except ImageError as error:
            raise FieldError("rough", str(error)) from None
    else:
        panel = shot.panel("first") or (shot.panels[0] if shot.panels else None)
        keyframe = shot.keyframe("first") or (shot.keyframes[0] if shot.keyframes else None)
        path = panel.flat if panel is not None else keyframe.path if keyframe is not None else None
        if path is None:
            raise FieldError("source", "the shot has no drawn panel or keyframe: draw one in the Draw tab, "
                                       "or upload a rough")
    try:
        return path, load_rgb(project.resolve(path))
    except (ImageError, OSError, ProjectError) as error:
        raise FieldError("source", f"{path}: {error}") from None


def _png(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Going back, and picking


def list_variations(project: Project, shot_id: str) -> list[Variation]:
    """The shot's kept variations, newest batch first (in its order); unreadable sidecars skipped."""
    folder = project.root / VARIATIONS_DIR / shot_id
    if not _safe_id(shot_id) or not folder.is_dir():
        return []
    found = []
    for sidecar in folder.glob("kv_*.json"):
        png = sidecar.with_suffix(".png")
        try:
            record = json.loads(sidecar.read_text(encoding="utf-8"))
            seed = int(record["seed"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not png.is_file() or not isinstance(record, dict):
            continue
        found.append(Variation(sidecar.stem, shot_id, f"{VARIATIONS_DIR}/{shot_id}/{png.name}", seed, record))
    found.sort(key=lambda v: (str(v.record.get("created", "")), str(v.record.get("batch", "")),
                              -int(v.record.get("index", 0))), reverse=True)
    return found


def find_variation(project: Project, shot_id: str, variation_id: str) -> Variation:
    for variation in list_variations(project, shot_id):
        if variation.id == variation_id:
            return variation
    raise FieldError("variation", f"shot {shown(shot_id)} has no keyframe variation {shown(variation_id)}")


def pick_variation(project: Project, shot_id: str, variation_id: str, role: str = "first", frame: int = 0,
                   actor: str = "") -> Board:
    """Make a variation the shot's ``role`` keyframe (one undoable edit; the variation stays)."""
    from studio.services.edits import set_keyframe

    if role not in KEYFRAME_ROLES:
        raise FieldError("role", f"must be one of {', '.join(KEYFRAME_ROLES)}, got {shown(role)}")
    variation = find_variation(project, shot_id, variation_id)
    return set_keyframe(project, shot_id, project.resolve(variation.path), role, int(frame), actor)


def _safe_id(value: str) -> bool:
    try:
        from studio.board import check_id

        check_id("shot", value)
    except BoardError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# As a job on the app's queue (the UI and the HTTP API)


def submit_keyframes(services: Any, owner: str, project: Project, shot_id: str, **request: Any) -> Any:
    """Queue one batch of variations for ``owner`` on the app's job queue (progress, cancel, fair
    turns with renders; the app's BackendCache, so one model stays resident). ``request`` as
    :func:`generate_keyframes` takes it. Bad input is refused here, before any wait."""
    from studio.timeline import shot_label

    board = services.board(project)
    try:
        index = board.index_of(shot_id)
    except BoardError as error:
        raise FieldError("shot", str(error)) from None
    check_count(request.get("count", 4))
    if request.get("source", "text") not in SOURCES:
        raise FieldError("source", f"must be one of {', '.join(SOURCES)}, got {shown(request.get('source'))}")
    _model_for(request.get("model"), False)

    def run(progress: Progress, cancel: threading.Event) -> VariationBatch:
        return generate_keyframes(project, shot_id, progress=progress, cancel=cancel, backends=services.backends,
                                  **request)

    label = shot_label(index + 1, board.shot(shot_id).title, "message") + " keyframes"
    return services.jobs.submit(owner, run, kind="keyframes", label=label, shot_id=shot_id, project=str(project.root))
