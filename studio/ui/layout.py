"""The app's Blocks: board view (cards), timeline view, board settings, project panel.

Per-session state is two small values: ``session`` ({"project": folder, "key": session key})
and ``layout`` (which project the cards show, and a signature of the board's structure). The
board itself is always read from disk, so a refresh or a crash loses nothing. The session key
lives in the browser's localStorage (``gr.BrowserState``), so after a refresh the same browser
still owns (and can cancel) the renders it queued; a new browser gets a new key.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import gradio as gr

from studio.backends import backend_names
from studio.board import MEMORY_PROFILES, AudioTrack, BoardError
from studio.board_codec import shot_from_dict
from studio.services.jobs import QueueFull
from studio.storage import AUDIO_SUFFIXES, Project, ProjectError
from studio.ui import api, views
from studio.ui.cards import EDIT, bump, render_card, saved_status, structure
from studio.services.app import Studio
from studio.services.fields import FieldError, apply_board_settings, new_shot

POLL_SECONDS = 1.0
TOKEN = re.compile(r"^[0-9a-f]{32}$")
POLL = {"concurrency_id": "poll", "concurrency_limit": None, "show_progress": "hidden",
        "api_visibility": "private"}
EXPORT = {"concurrency_id": "export", "concurrency_limit": 2, "api_visibility": "private"}


def build_ui(studio: Studio, start_project: Project) -> gr.Blocks:
    """The whole app for one :class:`Studio`; ``start_project`` is what a new browser opens."""
    with gr.Blocks(title="Previz Studio", delete_cache=(1800, 3600)) as demo:
        session = gr.State(None)
        layout = gr.State(None)
        undo = gr.State(None)
        remembered = gr.BrowserState({"token": "", "project": ""}, storage_key="previz-studio-session")
        timer = gr.Timer(POLL_SECONDS)

        with gr.Row():
            header = gr.Markdown("## Previz Studio", elem_id="header")
            status = gr.Markdown("", elem_id="autosave-status")

        with gr.Tabs():
            with gr.Tab("Board", id="board"):
                board_progress = gr.HTML("", elem_id="board-progress")
                with gr.Row():
                    add = gr.Button("+ Add shot", variant="primary", elem_id="add-shot")
                    render_missing = gr.Button("Render missing shots", elem_id="render-missing")
                    render_all = gr.Button("Render every shot again", elem_id="render-all")
                    cancel_all = gr.Button("Cancel my renders", elem_id="cancel-all")
                    undo_button = gr.Button("Undo delete", elem_id="undo-delete")

                @gr.render(inputs=[layout, session], triggers=[layout.change])
                def cards(layout_value: dict | None, session_value: dict | None):
                    if not layout_value:
                        gr.Markdown("Opening the project…")
                        return
                    try:
                        project = studio.project(layout_value["project"])
                        board = studio.board(project)
                    except (ProjectError, OSError) as error:
                        gr.Markdown(f"⚠ Cannot open the project: {views.html.escape(str(error))}")
                        return
                    if not board.shots:
                        gr.Markdown("No shots yet: press **Add shot**.")
                    # No listener polls inside @gr.render: after a re-render the browser can still fire
                    # one tick at the removed listener, which Gradio answers with a 500 error toast.
                    # Live per-shot progress is the job list above the cards (the top-level poll).
                    for index, shot in enumerate(board.shots):
                        render_card(studio, project, board, index, shot, session, layout, undo, status,
                                    session_key=(session_value or {}).get("key"))


            with gr.Tab("Timeline", id="timeline"):
                running = gr.Markdown("", elem_id="running-time")
                strip = gr.HTML("", js_on_load=views.STRIP_JS, elem_id="timeline-strip")
                with gr.Row():
                    build_preview = gr.Button("Build animatic", variant="primary", elem_id="build-animatic")
                player = gr.Video(label="Animatic", interactive=False, elem_id="animatic-player")
                gr.Markdown("### Export")
                formats = gr.CheckboxGroup([], label="Formats", elem_id="export-formats")
                export_button = gr.Button("Export", variant="primary", elem_id="export-button")
                export_error = gr.Markdown("", elem_classes=["card-error"])
                export_files = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                       elem_id="export-files")
                gr.Markdown("### Scratch audio")
                audio_upload = gr.File(label="Scratch audio (wav, mp3, m4a, aac, flac, ogg)",
                                       file_types=list(AUDIO_SUFFIXES), type="filepath", elem_id="audio-upload")
                audio_info = gr.Markdown("")

            with gr.Tab("Board settings", id="settings"):
                settings_error = gr.Markdown("", elem_classes=["card-error"])
                s_title = gr.Textbox(label="Board title")
                with gr.Row():
                    s_fps = gr.Textbox(label="Frame rate (24, 25, 30000/1001…)")
                    s_width = gr.Number(label="Width (px)", precision=0)
                    s_height = gr.Number(label="Height (px)", precision=0)
                with gr.Row():
                    s_backend = gr.Dropdown(backend_names(), label="Default backend")
                    s_model = gr.Textbox(label="Default model (blank: the backend's)")
                    s_memory = gr.Dropdown(list(MEMORY_PROFILES), label="Memory profile")

            with gr.Tab("Project", id="project"):
                project_info = gr.Markdown("")
                with gr.Row():
                    recent = gr.Dropdown([], label="Recent projects", scale=3)
                    open_recent = gr.Button("Open", scale=1)
                with gr.Row():
                    open_path = gr.Textbox(label="Open a project folder (path on the server)", scale=3)
                    open_folder = gr.Button("Open folder", scale=1)
                with gr.Row():
                    new_name = gr.Textbox(label="New project name", scale=3)
                    new_button = gr.Button("New project", scale=1)
                with gr.Row():
                    save_as_name = gr.Textbox(label="Save as (copy under a new name)", scale=3)
                    save_as_button = gr.Button("Save as", scale=1)
                project_error = gr.Markdown("", elem_classes=["card-error"])

        settings_fields = [s_title, s_fps, s_width, s_height, s_backend, s_model, s_memory]
        refresh_outputs = [header, project_info, recent, formats, running, strip, *settings_fields]

        # -- opening a project into a session ----------------------------------------------
        def refreshed(project: Project) -> list[Any]:
            board = studio.board(project)
            choices = studio.workspace.recent()
            names = list(api.export_format_names())
            return [
                f"## {views.html.escape(board.title)}",
                f"Project folder: `{project.root}`",
                gr.update(choices=choices, value=str(project.root) if str(project.root) in choices else None),
                gr.update(choices=names, value=[n for n in names if n in ("mp4", "otio")] or names[:1]),
                views.running_time(board),
                views.timeline_strip(board),
                board.title, str(board.fps), board.width, board.height, board.default_backend,
                board.default_model or "", board.memory_profile,
            ]

        def switch(session_value: dict, project: Project):
            studio.workspace.remember(project)
            new_session = {"project": str(project.root), "key": session_value["key"]}
            browser = {"token": session_value["key"].removeprefix("b:"), "project": str(project.root)}
            return [new_session, bump(None, project), browser, "", *refreshed(project)]

        def on_load(saved: dict | None):
            saved = saved if isinstance(saved, dict) else {}
            token = saved.get("token") if isinstance(saved.get("token"), str) and TOKEN.match(saved["token"]) else uuid.uuid4().hex
            project = start_project
            wanted = saved.get("project")
            if isinstance(wanted, str) and wanted in studio.workspace.recent():
                try:
                    project = studio.project(wanted)
                except ProjectError:
                    project = start_project
            return switch({"key": f"b:{token}", "project": ""}, project)

        switch_outputs = [session, layout, remembered, project_error, *refresh_outputs]
        demo.load(on_load, [remembered], switch_outputs, **EDIT)

        def open_project(session_value: dict, folder: str):
            try:
                project = studio.workspace.open(folder.strip())
            except (ProjectError, OSError) as error:
                gr.Warning(str(error))
                return [gr.skip()] * 3 + [f"⚠ {error}"] + [gr.skip()] * len(refresh_outputs)
            return switch(session_value, project)

        open_recent.click(open_project, [session, recent], switch_outputs, **EDIT)
        open_folder.click(open_project, [session, open_path], switch_outputs, **EDIT)

        def create(session_value: dict, name: str):
            try:
                project = studio.workspace.new(name or "Untitled board")
            except (ProjectError, OSError, BoardError) as error:
                return [gr.skip()] * 3 + [f"⚠ {error}"] + [gr.skip()] * len(refresh_outputs)
            return switch(session_value, project)

        new_button.click(create, [session, new_name], switch_outputs, **EDIT)

        def save_as(session_value: dict, name: str):
            try:
                project = studio.workspace.save_as(studio.project(session_value["project"]), name or "copy")
            except (ProjectError, OSError, BoardError) as error:
                return [gr.skip()] * 3 + [f"⚠ {error}"] + [gr.skip()] * len(refresh_outputs)
            return switch(session_value, project)

        save_as_button.click(save_as, [session, save_as_name], switch_outputs, **EDIT)

        # -- polling: progress, and re-render when the board changed on disk --------------
        def poll(session_value: dict | None, layout_value: dict | None):
            if not session_value or not layout_value:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            try:
                project = studio.project(session_value["project"])
                board = studio.board(project)
            except (ProjectError, OSError) as error:
                return f"⚠ {views.html.escape(str(error))}", gr.skip(), gr.skip(), gr.skip()
            jobs = [j for j in studio.jobs.jobs(session=session_value["key"], project=str(project.root))]
            positions = {j.id: studio.jobs.position(j.id) for j in jobs if j.status == "queued"}
            progress_html = views.board_progress(board, jobs, positions)
            signature = structure(project, board)
            if signature == layout_value.get("sig"):
                return progress_html, gr.skip(), gr.skip(), gr.skip()
            new_layout = {"project": str(project.root), "sig": signature, "nonce": layout_value.get("nonce")}
            return progress_html, new_layout, views.running_time(board), views.timeline_strip(board)

        timer.tick(poll, [session, layout], [board_progress, layout, running, strip], **POLL)

        # -- board actions -----------------------------------------------------------------
        def add_card(session_value: dict, layout_value: dict):
            project = studio.project(session_value["project"])
            project.update(lambda b: b.add_shot(new_shot(b)))
            return bump(layout_value, project), saved_status("shot added")

        add.click(add_card, [session, layout], [layout, status], **EDIT)

        def undo_delete(session_value: dict, layout_value: dict, removed: dict | None):
            if not removed or removed.get("project") != session_value["project"]:
                gr.Info("Nothing to undo")
                return gr.skip(), gr.skip(), gr.skip()
            project = studio.project(session_value["project"])
            shot = shot_from_dict(removed["shot"])
            try:
                project.update(lambda b: b.add_shot(shot, removed["index"]))
            except (BoardError, ProjectError) as error:
                gr.Warning(str(error))
                return gr.skip(), gr.skip(), gr.skip()
            return bump(layout_value, project), None, saved_status("card restored")

        undo_button.click(undo_delete, [session, layout, undo], [layout, undo, status], **EDIT)

        def render_board(only_missing: bool):
            def run(session_value: dict):
                try:
                    project = studio.project(session_value["project"])
                    jobs = studio.submit_board(session_value["key"], project, only_missing=only_missing)
                except (FieldError, QueueFull, ProjectError, BoardError) as error:
                    gr.Warning(str(error))
                    return f"⚠ {error}"
                if not jobs:
                    gr.Info("Every shot already has a chosen take")
                return saved_status(f"{len(jobs)} shot(s) queued")
            return run

        render_missing.click(render_board(True), [session], [status], **EDIT)
        render_all.click(render_board(False), [session], [status], **EDIT)

        def cancel_mine(session_value: dict):
            count = studio.jobs.cancel_session(session_value["key"])
            return saved_status(f"cancelled {count} job(s)")

        cancel_all.click(cancel_mine, [session], [status], **EDIT)

        # -- board settings ----------------------------------------------------------------
        names = ("title", "fps", "width", "height", "default_backend", "default_model", "memory_profile")

        def save_settings(session_value: dict, layout_value: dict, *values: Any):
            project = studio.project(session_value["project"])
            try:
                board = project.update(lambda b: apply_board_settings(b, dict(zip(names, values))))
            except FieldError as error:
                gr.Warning(str(error))
                return gr.skip(), f"⚠ {error}", gr.skip(), gr.skip()
            return (bump(layout_value, project), "", saved_status("board settings"),
                    f"## {views.html.escape(board.title)}")

        for widget in settings_fields:
            event = widget.input if isinstance(widget, gr.Dropdown) else widget.blur
            event(save_settings, [session, layout, *settings_fields], [layout, settings_error, status, header], **EDIT)

        # -- timeline: animatic, exports, scratch audio ------------------------------------
        def animatic(session_value: dict):
            try:
                project = studio.project(session_value["project"])
                path = studio.export(project, "preview", warn=gr.Info)
            except Exception as error:  # noqa: BLE001 - any export failure is shown, not raised
                gr.Warning(f"Animatic failed: {error}")
                return gr.skip(), f"⚠ Animatic failed: {error}"
            return studio.media.publish(path), ""

        build_preview.click(animatic, [session], [player, export_error], **EXPORT)

        def export_files_for(session_value: dict, chosen: list[str]):
            if not chosen:
                return gr.skip(), "⚠ pick at least one format"
            project = studio.project(session_value["project"])
            files, problems = [], []
            for fmt in chosen:
                try:
                    files.append(studio.media.publish(studio.export(project, fmt, warn=gr.Info)))
                except Exception as error:  # noqa: BLE001 - report every format's failure
                    problems.append(f"{fmt}: {error}")
            if problems:
                gr.Warning("; ".join(problems))
            return files, "  \n".join(f"⚠ {p}" for p in problems)

        export_button.click(export_files_for, [session, formats], [export_files, export_error], **EXPORT)

        def add_audio(session_value: dict, file_path: str | None):
            if not file_path:
                return gr.skip(), gr.skip()
            try:
                project = studio.project(session_value["project"])
                relative = project.import_audio(Path(file_path))
                project.update(lambda b: b.replace(audio=AudioTrack(path=relative)))
            except (ValueError, ProjectError, OSError) as error:
                gr.Warning(f"Audio refused: {error}")
                return None, f"⚠ Audio refused: {error}"
            return None, f"Scratch audio: `{relative}` (laid under the animatic from frame 0)"

        audio_upload.upload(add_audio, [session, audio_upload], [audio_upload, audio_info], **EDIT)

        api.register(studio)
    return demo
