"""The inspector's Image tab: keyframe variations of the selected shot from an image model.

Make N seeded variations from the card (or from its drawn panel or an uploaded rough, at a
strength), see every kept variation of the shot (newest first), click one and use it as the first,
mid or last keyframe. Generation runs as a job on the app's queue (so it shares turns, progress
and cancel with renders) and the handler waits for it; picking is one undoable edit.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from studio.board import KEYFRAME_ROLES, Board, Shot
from studio.image_models import DEFAULT_IMAGE_MODEL, IMAGE_CATALOG
from studio.storage import Project

WAIT_SECONDS = 3600.0


class KeyframesPanel:
    """The Image tab's widgets, built once."""

    def __init__(self) -> None:
        choices = [(f"{spec.title} · ~{spec.vram_gb:g} GB", spec.key) for spec in IMAGE_CATALOG.values()]
        with gr.Row():
            self.model = gr.Dropdown(choices, value=DEFAULT_IMAGE_MODEL, label="Image model", allow_custom_value=True,
                                     elem_id="kf-model", scale=3)
            self.count = gr.Number(4, label="Variations", precision=0, minimum=1, maximum=16, elem_id="kf-count",
                                   min_width=70, scale=1)
            self.seed = gr.Textbox(label="Base seed", placeholder="the shot's", max_lines=1, elem_id="kf-seed",
                                   min_width=80, scale=1)
        with gr.Row():
            self.source = gr.Radio([("the card", "text"), ("drawn panel", "panel"), ("rough upload", "upload")],
                                   value="text", label="Start from", elem_id="kf-source")
            self.strength = gr.Slider(0, 1, value=0.6, step=0.05, label="Strength (0 keeps the sketch)",
                                      elem_id="kf-strength")
        self.rough = gr.File(label="Rough sketch (for 'rough upload')", file_types=["image"], type="filepath",
                             elem_id="kf-rough", height=70)
        with gr.Row():
            self.steps = gr.Number(None, label="Steps (0: the model's)", precision=0, elem_id="kf-steps",
                                   min_width=80)
            self.references = gr.Checkbox(True, label="Use the cast's and location's reference pictures",
                                          elem_id="kf-references")
            self.control = gr.Checkbox(False, label="Follow the sketch's lines (ControlNet, where the model has one)",
                                       elem_id="kf-control")
            self.generate = gr.Button("Make variations", variant="primary", size="sm", elem_id="kf-generate")
        self.status = gr.Markdown("", elem_id="kf-status")
        self.gallery = gr.Gallery(label="Variations (click one, then use it)", columns=4, height=180,
                                  allow_preview=False, object_fit="contain", elem_id="kf-gallery", interactive=False)
        with gr.Row():
            self.role = gr.Dropdown(list(KEYFRAME_ROLES), value="first", label="Use as", min_width=80,
                                    elem_id="kf-role")
            self.frame = gr.Number(0, label="Frame (mid)", precision=0, min_width=80, elem_id="kf-frame")
            self.use = gr.Button("Use as keyframe", size="sm", elem_id="kf-use")
        self.picked = gr.State(None)

    @property
    def outputs(self) -> list[Any]:
        return [self.gallery, self.status]


def gallery_value(ui: Any, project: Project, shot: Shot | None) -> list[tuple[str, str]]:
    """The shot's kept variations as (poster, caption), newest first."""
    from studio.services.keyframes import list_variations

    if shot is None:
        return []
    items = []
    for variation in list_variations(project, shot.id):
        poster = ui.media.poster(project.resolve(variation.path))
        if poster:
            made = variation.record
            model = str(made.get("model") or "")
            caption = f"seed {variation.seed} · {Path(model).name if '/' in model else model} · {made.get('source')}"
            items.append((poster, caption))
    return items


def select_hook(ui: Any) -> Callable[[Project, Board, Shot | None], dict[Any, Any]]:
    """The Image tab's update when the inspector shows a shot (layout.select calls it)."""
    def updates(project: Project, board: Board, shot: Shot | None) -> dict[Any, Any]:
        panel = ui.ins.image
        return {panel.gallery: gallery_value(ui, project, shot), panel.status: ""}
    return updates


def wire(ui: Any, panel: KeyframesPanel, view: Any, shown: list[Any], options: dict[str, Any],
         errors: tuple[type[Exception], ...]) -> None:
    """Connect the Image tab to the keyframe service (``ui`` is the page's handlers)."""
    from studio.backends.base import GenerationError
    from studio.services import keyframes
    from studio.services.fields import FieldError

    outputs = shown + panel.outputs + [panel.picked]
    public = (*errors, GenerationError)

    def answer(value: dict, message: str, state: str = "saved") -> dict[Any, Any]:
        updates = ui.refreshed(value, message=(state, message))
        project = ui.project(value, "viewer")
        board = ui.services.board(project)
        shot = board.shot(value["shot"]) if value.get("shot") in [s.id for s in board.shots] else None
        return {**updates, panel.gallery: gallery_value(ui, project, shot), panel.status: html.escape(message),
                panel.picked: None}

    def failed(error: Exception) -> dict[Any, Any]:
        return {**ui.failed(error), panel.status: f"⚠ {html.escape(str(error))}"}

    def generate(value: dict, model: str, count: Any, seed: str, source: str, strength: float, rough: str | None,
                 steps: Any, references: bool, control: bool) -> dict[Any, Any]:
        if not value or not value.get("shot"):
            return ui.unchanged()
        try:
            seed_text = (seed or "").strip()
            if seed_text and not seed_text.isdigit():
                raise FieldError("seed", f"must be a whole number, got {seed_text!r}")
            project = ui.project(value)
            job = keyframes.submit_keyframes(
                ui.services, ui.owner(value), project, value["shot"], count=int(count or 4), model=model or None,
                seed=int(seed_text) if seed_text else None, source=source or "text", strength=float(strength),
                rough=Path(rough).read_bytes() if rough and source == "upload" else None,
                references=bool(references), control="auto" if control else None,
                options={"steps": int(steps)} if steps else {})
            job = ui.services.jobs.wait(ui.owner(value), job.id, WAIT_SECONDS)
            if job.status != "done":
                raise GenerationError(job.error or f"keyframes {job.status}")
        except public as error:
            return failed(error)
        made = job.result.variations
        note = made[0].record.get("note") or ""
        return answer(value, f"{len(made)} variation(s) made (seeds {made[0].seed}–{made[-1].seed}): "
                             "click one, then Use as keyframe" + (f". Note: {note}" if note else ""))

    def select(value: dict, event: gr.SelectData) -> Any:
        project = ui.project(value, "viewer")
        variations = keyframes.list_variations(project, value["shot"])
        index = event.index if isinstance(event.index, int) else None
        return variations[index].id if index is not None and 0 <= index < len(variations) else None

    def use(value: dict, picked: str | None, role: str, frame: Any) -> dict[Any, Any]:
        if not value or not value.get("shot"):
            return ui.unchanged()
        if not picked:
            return {panel.status: "Click a variation first."}
        try:
            keyframes.pick_variation(ui.project(value), value["shot"], picked, role or "first", int(frame or 0),
                                     ui.owner(value))
        except public as error:
            return failed(error)
        return answer(value, f"variation {picked} is the {role} keyframe (Undo takes it back)")

    inputs = [view, panel.model, panel.count, panel.seed, panel.source, panel.strength, panel.rough, panel.steps,
              panel.references, panel.control]
    panel.generate.click(generate, inputs, outputs, **{**options, "concurrency_id": "keyframes",
                                                       "concurrency_limit": 2})
    panel.gallery.select(select, [view], [panel.picked], **options)
    panel.use.click(use, [view, panel.picked, panel.role, panel.frame], outputs, **options)
