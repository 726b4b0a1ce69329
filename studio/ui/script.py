"""The Script tab (import a screenplay: upload, options, preview table, apply) and the inspector's
dialogue timing line with its "Fit duration to dialogue" button.

Handlers are thin: widget values -> studio.services.script_import / studio.services.dialogue.
The preview is a dry run of the same import the Apply button makes, so what is shown is what
is written (planned again on the board as it is when applied).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from studio.board import Board, Shot
from studio.scenes import dialogue_timing
from studio.screenplay import FDX_SUFFIXES, FOUNTAIN_SUFFIXES, MAX_SCRIPT_BYTES, ScriptError
from studio.services.dialogue import fit_to_dialogue
from studio.services.script_import import MAX_CAP, ImportOptions, ImportResult, import_script

PREVIEW_HEADERS = ["Scene", "Heading", "Shots", "Characters", "Line"]
GRANULARITY_LABELS = (("one card per scene", "scene"), ("one per action paragraph", "action"),
                      ("one per dialogue exchange", "exchange"))


def timing_text(board: Board, shot: Shot) -> str:
    """The inspector's line under the dialogue: how long it takes to say, and whether it fits."""
    timing = dialogue_timing(board, shot)
    if not timing.words:
        return ""
    needed = board.fps.frames_to_seconds(timing.needed)
    if timing.fits:
        return (f"Dialogue: {timing.words} words ≈ {needed:.1f} s at {board.words_per_second:g} words/s; "
                f"fits the {board.fps.frames_to_seconds(timing.available):.1f} s shot.")
    return f"⚠ {html.escape(timing.warning(board)).capitalize()}."


class ScriptPanel:
    """The Script tab's widgets (built inside the caller's ``gr.Tab``)."""

    def __init__(self) -> None:
        gr.Markdown("Import a screenplay: Fountain (`.fountain`, `.spmd`, `.txt`) or Final Draft (`.fdx`). "
                    "Scene headings become scenes, speaking characters the cast, and each scene gets shot "
                    "cards. Preview first; importing adds to the board (existing shots stay as they are) "
                    "and Undo takes it back in one step.")
        self.file = gr.File(label="Screenplay", file_types=list(FOUNTAIN_SUFFIXES + FDX_SUFFIXES), type="filepath",
                            elem_id="script-file")
        with gr.Row():
            self.granularity = gr.Radio(list(GRANULARITY_LABELS), value="action", label="Shot cards",
                                        elem_id="script-granularity")
            self.cap = gr.Number(12, label="At most per scene", precision=0, minimum=1, maximum=MAX_CAP,
                                 elem_id="script-cap")
        with gr.Row():
            self.preview = gr.Button("Preview", elem_id="script-preview")
            self.apply = gr.Button("Import into the board", variant="primary", elem_id="script-apply")
        self.summary = gr.Markdown("", elem_id="script-summary")
        self.table = gr.Dataframe(headers=PREVIEW_HEADERS, value=[], interactive=False, elem_id="script-table",
                                  wrap=True)


def _read(file_path: str | None) -> tuple[bytes, str]:
    if not file_path:
        raise ScriptError(1, "choose a screenplay file first")
    path = Path(file_path)
    if path.stat().st_size > MAX_SCRIPT_BYTES:
        raise ScriptError(1, f"{path.name} is larger than {MAX_SCRIPT_BYTES // 2**20} MB; not a screenplay")
    return path.read_bytes(), path.name


def _summary(result: ImportResult, applied: bool) -> str:
    plan = result.plan
    lines = [f"**{html.escape(plan.title or 'Untitled')}** ({plan.format}): {html.escape(plan.summary())}."]
    if applied and result.board is not None:
        lines.append(f"Imported (revision {result.board.revision}); **Undo** takes it back.")
    lines += [f"⚠ {html.escape(warning)}" for warning in plan.warnings[:20]]
    return "  \n".join(lines)


def wire(ui: Any, panel: ScriptPanel, view: gr.State, shown: list[Any], events: dict[str, Any],
         errors: tuple[type[Exception], ...]) -> None:
    """Preview and apply: ``ui`` is the page's handlers (project, owner, refreshed)."""
    outputs = [panel.summary, panel.table]

    def run(applying: bool) -> Callable:
        def handler(value: dict, file_path: str | None, granularity: str, cap: Any) -> dict[Any, Any]:
            try:
                options = ImportOptions.parse({"granularity": granularity or "action", "cap": cap if cap else 12})
                data, name = _read(file_path)
                result = import_script(ui.project(value), data, name, options, actor=ui.owner(value),
                                       dry_run=not applying)
            except ScriptError as error:
                return {panel.summary: f"⚠ {html.escape(str(error))}; nothing was imported.", panel.table: []}
            except errors as error:
                return {panel.summary: f"⚠ {html.escape(str(error))}", panel.table: gr.skip()}
            updates = ui.refreshed(value, message=("saved", "script imported")) if applying else {}
            return {**updates, panel.summary: _summary(result, applying), panel.table: result.plan.rows()}
        return handler

    inputs = [view, panel.file, panel.granularity, panel.cap]
    panel.preview.click(run(False), inputs, shown + outputs, **events)
    panel.apply.click(run(True), inputs, shown + outputs, **events)


def wire_fit(ui: Any, button: gr.Button, view: gr.State, shown: list[Any], events: dict[str, Any],
             errors: tuple[type[Exception], ...]) -> None:
    """"Fit duration to dialogue" on the selected shot (its duration field follows with the poll)."""
    def fit(value: dict) -> dict[Any, Any]:
        if not value or not value.get("shot"):
            return ui.unchanged()
        try:
            fit_to_dialogue(ui.project(value), value["shot"], None, ui.owner(value))
        except errors as error:
            return ui.failed(error)
        return ui.refreshed(value, message=("saved", "duration fitted to the dialogue"))

    button.click(fit, [view], shown, **events)
