"""Board settings' Cast and locations: each character's and place's description (woven into every
prompt of the shots that show them) and reference pictures (sent to the models that take them).

A shot shows a character when its Characters field names them, a place when its Location does.
Every change is one undoable edit through services/cast.py.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr

from studio.board import Board
from studio.storage import Project


class LooksPanel:
    """The widgets, built once."""

    def __init__(self) -> None:
        with gr.Accordion("Cast and locations (descriptions and reference pictures)", open=False,
                          elem_id="looks"):
            with gr.Row():
                self.kind = gr.Radio([("character", "cast"), ("location", "location")], value="cast", label="Kind",
                                     elem_id="look-kind", scale=1)
                self.name = gr.Textbox(label="Name (as shots name it)", max_lines=1, elem_id="look-name", scale=2)
            self.description = gr.Textbox(label="Description (prompt words)", lines=2, elem_id="look-description")
            with gr.Row():
                self.reference = gr.File(label="Add a reference picture", file_types=["image"], type="filepath",
                                         elem_id="look-reference", height=70, scale=3)
                self.save = gr.Button("Save", variant="primary", size="sm", elem_id="look-save", scale=1)
                self.remove = gr.Button("Remove", variant="stop", size="sm", elem_id="look-remove", scale=1)
            self.listing = gr.HTML("", elem_id="look-list")
            self.pictures = gr.Gallery(label="Reference pictures", columns=6, height=110, allow_preview=False,
                                       object_fit="contain", elem_id="look-pictures", interactive=False)

    @property
    def outputs(self) -> list[Any]:
        return [self.listing, self.pictures]


def listing(ui: Any, project: Project, board: Board) -> dict[Any, Any]:
    """The cast and locations as a list, and their reference pictures (captioned by name)."""
    panel = ui.w["looks"]
    rows, pictures = [], []
    for kind, items in (("character", board.cast), ("location", board.locations)):
        for item in items:
            rows.append(f"<li><b>{html.escape(item.name)}</b> <i>({kind})</i> {html.escape(item.description)}"
                        f"{f' · {len(item.references)} picture(s)' if item.references else ''}</li>")
            for path in item.references:
                try:
                    poster = ui.media.poster(project.resolve(path))
                except (OSError, ValueError):
                    poster = None
                if poster:
                    pictures.append((poster, item.name))
    text = f"<ul>{''.join(rows)}</ul>" if rows else "<p>No cast or locations yet.</p>"
    return {panel.listing: text, panel.pictures: pictures}


def wire(ui: Any, panel: LooksPanel, view: Any, shown: list[Any], options: dict[str, Any],
         errors: tuple[type[Exception], ...]) -> None:
    from studio.services import cast

    outputs = shown + panel.outputs + [panel.reference]

    def answer(value: dict, message: str) -> dict[Any, Any]:
        project = ui.project(value, "viewer")
        return {**ui.refreshed(value, message=("saved", message)),
                **listing(ui, project, ui.services.board(project)), panel.reference: None}

    def save(value: dict, kind: str, name: str, description: str, reference: str | None) -> dict[Any, Any]:
        try:
            cast.set_look(ui.project(value), kind, name, description=description,
                          add_reference=Path(reference).read_bytes() if reference else None, actor=ui.owner(value))
        except errors as error:
            return {**ui.failed(error), panel.reference: None}
        return answer(value, f"{name.strip()} saved")

    def remove(value: dict, kind: str, name: str) -> dict[Any, Any]:
        try:
            cast.remove_look(ui.project(value), kind, name, actor=ui.owner(value))
        except errors as error:
            return ui.failed(error)
        return answer(value, f"{name.strip()} removed (Undo brings it back)")

    panel.save.click(save, [view, panel.kind, panel.name, panel.description, panel.reference], outputs, **options)
    panel.remove.click(remove, [view, panel.kind, panel.name], outputs, **options)
