"""The app's Blocks: the storyboard wall with its shot inspector, the timeline, board settings
and the project panel. Handlers turn widget values into a request and call a service.

Per-tab state is one small dict, ``view`` (project folder, browser key, selected shot and
selection, and the inspector's ``seen`` values and base revisions). The board is always read
from disk, so a reload or a crash loses nothing. The browser key lives in localStorage
(``gr.BrowserState``), so after a reload the same browser still owns the renders it queued.
Identity is the login when there is one (every tab and client of a user shares jobs and undo).
"""

from __future__ import annotations

import collections
import html
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from studio.backends import backend_names
from studio.board import MEMORY_PROFILES, Board, BoardError, Shot
from studio.services import edits
from studio.services.access import EDITOR, VIEWER, Opened, Who
from studio.services.app import StudioServices
from studio.services.fields import FieldError, lora_lines, random_seed
from studio.services.jobs import JobNotFound, QueueFull
from studio.storage import AUDIO_SUFFIXES, Project, ProjectError
from studio.timeline import shot_label
from studio.scenes import shot_numbers
from studio.ui import api, cast, drawing, farm, keyframes, script, views, wall, workspaces
from studio.ui.inspector import MAX_SEGMENTS, TEXT, Inspector, camera_from, field_updates, same, shown_values
from studio.ui.serving import MediaCache
from studio.ui.timeline import TimelinePanel, track_value
from studio.ui.timeline import wire as wire_timeline

POLL_SECONDS = 1.0
MAX_TABS = 10_000
"""Tabs whose newest view state is tracked (the oldest forgotten first; a forgotten tab's poll
is merely trusted)."""
TOKEN = re.compile(r"^[0-9a-f]{32}$")
EDIT = {"concurrency_id": "edit", "concurrency_limit": 4, "show_progress": "hidden", "api_visibility": "private"}
"""Edits never share a concurrency group with generation, so they never wait behind a render.
UI handlers are private: scripts use the named endpoints of studio.ui.api instead."""
WALL = {**EDIT, "concurrency_id": "wall", "concurrency_limit": 1, "trigger_mode": "multiple"}
"""Structural edits: every click counts (a quick select, move, undo must not drop the undo) and
they run in the order they were made."""
POLL = {"concurrency_id": "poll", "concurrency_limit": None, "show_progress": "hidden", "api_visibility": "private"}
EXPORT = {"concurrency_id": "export", "concurrency_limit": 2, "api_visibility": "private"}
PUBLIC_ERRORS = (FieldError, BoardError, ProjectError, QueueFull, JobNotFound, edits.EditConflict,
                 edits.NothingToUndo, OSError)
FOCUS_JS = """(...args) => {
  const field = document.activeElement && document.activeElement.closest('[id^="insp-"]');
  args[0] = field ? field.id.slice(5) : '';
  return args;
}"""
"""Runs in the browser before each poll: names the inspector field that has the focus."""
SELECTION_JS = """(...args) => {
  args[1] = [...document.querySelectorAll('#wall .panel.selected')].map(p => p.dataset.id).join(',');
  return args;
}"""
"""Runs in the browser before a button that acts on the selected panels: sends their ids."""


def interactive(update: Any, editable: bool) -> Any:
    """``update`` (a value, gr.update or gr.skip) that also turns its widget on or off."""
    if isinstance(update, dict) and update.get("__type__") == "update":
        return {**update, "interactive": editable}
    return gr.update(value=update, interactive=editable)


def indicator(state: str, text: str) -> str:
    """The saving / saved / conflict line beside the inspector."""
    icon = {"saved": "✔", "saving": "…", "conflict": "⚠", "error": "⚠"}.get(state, "")
    return f'<span class="save-state {state}">{icon} {html.escape(text)}</span>'


def build_ui(services: StudioServices, media: MediaCache, start_project: Project | None) -> gr.Blocks:
    """The whole app for one :class:`StudioServices`; ``start_project`` is what a new browser of a
    local app opens (a team server opens each user's own projects)."""
    team = workspaces.WorkspaceWidgets(services)
    with gr.Blocks(title="Previz Studio", delete_cache=(1800, 3600), fill_width=True) as demo:
        view = gr.State(None)
        remembered = gr.BrowserState({"token": "", "project": ""}, storage_key="previz-studio-session")
        timer = gr.Timer(POLL_SECONDS)
        focus = gr.Textbox(visible=False)
        picked = gr.Textbox(visible=False)

        with gr.Row(equal_height=True):
            header = gr.Markdown("## Previz Studio", elem_id="header")
            undo_button = gr.Button("↶ Undo", size="sm", scale=0, min_width=110, elem_id="undo")
            redo_button = gr.Button("↷ Redo", size="sm", scale=0, min_width=110, elem_id="redo")

        with gr.Tabs():
            with gr.Tab("Board", id="board"):
                with gr.Row():
                    with gr.Column(scale=3, min_width=420):
                        with gr.Row(elem_id="wall-toolbar"):
                            add = gr.Button("+ Add shot", variant="primary", size="sm", elem_id="add-shot", min_width=0, scale=0)
                            duplicate = gr.Button("Duplicate", size="sm", elem_id="duplicate-shots", min_width=0, scale=0)
                            delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete-shots", min_width=0, scale=0)
                            render_selected = gr.Button("Render selected", size="sm", elem_id="render-selected", min_width=0, scale=0)
                            render_missing = gr.Button("Render missing", size="sm", elem_id="render-missing", min_width=0, scale=0)
                            render_all = gr.Button("Render all again", size="sm", elem_id="render-all", min_width=0, scale=0)
                            cancel_all = gr.Button("Cancel my renders", size="sm", elem_id="cancel-all", min_width=0, scale=0)
                        team.build_interrupted()
                        board_progress = gr.HTML("", elem_id="board-progress")
                        panels = gr.HTML(wall.EMPTY, html_template=wall.TEMPLATE, css_template=wall.CSS,
                                         js_on_load=wall.JS, elem_id="wall")
                    with gr.Column(scale=2, min_width=380, elem_id="inspector"):
                        ins = Inspector()

            with gr.Tab("Timeline", id="timeline"):
                timeline_panel = TimelinePanel(AUDIO_SUFFIXES)

            with gr.Tab("Board settings", id="settings"):
                s_title = gr.Textbox(label="Board title", elem_id="s-title")
                with gr.Row():
                    s_fps = gr.Textbox(label="Frame rate (24, 25, 30000/1001…)", elem_id="s-fps")
                    s_keep = gr.Radio([("keep each shot's seconds (frames rescaled)", "seconds"),
                                       ("keep frame counts (shots get shorter or longer)", "frames")],
                                      value="seconds", label="When the frame rate changes", elem_id="s-keep")
                    s_width = gr.Number(label="Width (px)", precision=0)
                    s_height = gr.Number(label="Height (px)", precision=0)
                with gr.Row():
                    s_backend = gr.Dropdown(backend_names(), label="Default backend")
                    s_model = gr.Textbox(label="Default model (blank: the backend's)")
                    s_memory = gr.Dropdown(list(MEMORY_PROFILES), label="Memory profile")
                    s_quality = gr.Dropdown([("draft (distilled or fewer steps, smaller)", "draft"),
                                             ("final (full settings)", "final")], label="Render quality",
                                            elem_id="s-quality")
                with gr.Row():
                    s_numbering = gr.Dropdown([("1, 2, 3 …", "sequential"), ("by scene: 12, 12A, 12B …", "scene")],
                                              label="Shot numbers (every export)", elem_id="s-shot_numbering")
                    s_wps = gr.Number(label="Dialogue words per second", step=0.1, elem_id="s-words_per_second")
                    s_scratch = gr.Checkbox(label="Scratch dialogue (espeak-ng voices under the cut)",
                                            elem_id="s-scratch_dialogue")
                s_cast = gr.Textbox(label="Cast: one per line, NAME or NAME: voice (espeak-ng, e.g. en-us+f3)",
                                    lines=3, elem_id="s-cast")
                s_loras = gr.Textbox(label="LoRAs for every shot (one per line: a .safetensors file, folder or hub id, "
                                           "then ': weight')", lines=2, elem_id="s-loras")
                looks_panel = cast.LooksPanel()

            with gr.Tab("Script", id="script"):
                script_panel = script.ScriptPanel()

            with gr.Tab("Project", id="project"):
                project_info = gr.Markdown("")
                with gr.Row():
                    recent = gr.Dropdown([], label="Recent projects", scale=3, elem_id="recent")
                    open_recent = gr.Button("Open", scale=1)
                with gr.Row(visible=not services.access.shared):  # a team server takes no server paths
                    open_path = gr.Textbox(label="Open a project folder (path on this computer)", scale=3)
                    open_folder = gr.Button("Open folder", scale=1)
                with gr.Row():
                    new_name = gr.Textbox(label="New project name", scale=3, elem_id="new-name")
                    new_button = gr.Button("New project", scale=1, elem_id="new-project")
                with gr.Row():
                    save_as_name = gr.Textbox(label="Save as (copy under a new name)", scale=3)
                    save_as_button = gr.Button("Save as", scale=1)
                project_error = gr.Markdown("", elem_classes=["card-error"], elem_id="project-error")
                team.build_share_box()

            with gr.Tab("Farm", id="farm"):
                farm_panel = farm.FarmPanel(services, lambda request: farm.owner_of(services, request))

        api.register(services, media)  # first, so the endpoints get their own names, not UI handlers
        farm_panel.wire()
        settings = {"title": s_title, "fps": s_fps, "width": s_width, "height": s_height,
                    "default_backend": s_backend, "default_model": s_model, "memory_profile": s_memory,
                    "quality": s_quality,
                    "shot_numbering": s_numbering, "words_per_second": s_wps, "scratch_dialogue": s_scratch,
                    "cast": s_cast, "loras": s_loras}
        edit_controls = [add, duplicate, delete, render_selected, render_missing, render_all, cancel_all,
                         *settings.values(), s_keep, *ins.edit_controls]
        ui = _Handlers(services, media, ins, panels=panels, board_progress=board_progress, header=header,
                       undo=undo_button, redo=redo_button, running=timeline_panel.running, strip=timeline_panel.track,
                       recent=recent, project_info=project_info, formats=timeline_panel.formats, settings=settings,
                       team=team, edit_controls=edit_controls, looks=looks_panel)
        shown = ui.all_outputs(view) + team.outputs()
        in_shown = {id(widget) for widget in shown}
        opening = shown + [widget for widget in edit_controls if id(widget) not in in_shown]
        team.wire(view, **EDIT)

        # -- opening a project -----------------------------------------------------------------
        def on_load(saved: dict | None, request: gr.Request):
            """A new tab: this user's project it had open (when still allowed), else their most
            recent one, else (local app) the start project, else their own copy of the sample."""
            saved = saved if isinstance(saved, dict) else {}
            token = saved.get("token") if TOKEN.match(str(saved.get("token", ""))) else uuid.uuid4().hex
            who = services.access.who(getattr(request, "username", None), f"b:{token}")
            opened = services.access.start(who, saved.get("project"), start_project)
            return {**ui.open({"key": f"b:{token}"}, opened, who), remembered: {"token": token, "project": opened.id}}

        demo.load(on_load, [remembered], opening + [remembered], **EDIT)

        def switch_to(opener: Callable[[Who, str], Opened]) -> Callable:
            def run(value: dict, text: str):
                who = workspaces.who_of(value)
                try:
                    opened = opener(who, text)
                except (ProjectError, OSError, BoardError, FieldError) as error:
                    return {project_error: f"⚠ {html.escape(str(error))}"}
                return {**ui.open(value, opened, who), project_error: "",
                        remembered: {"token": value["key"].removeprefix("b:"), "project": opened.id}}
            return run

        switching = opening + [project_error, remembered]
        open_recent.click(switch_to(lambda who, ref: services.access.open(ref, who)), [view, recent], switching,
                          **EDIT)
        open_folder.click(switch_to(lambda who, folder: services.access.open(folder.strip(), who)), [view, open_path],
                          switching, **EDIT)
        new_button.click(switch_to(lambda who, name: services.access.create(who, name or "Untitled board")),
                         [view, new_name], switching, **EDIT)

        def save_as(value: dict, name: str):
            return switch_to(lambda who, text: services.access.copy(who, value["project"], text))(value, name or "copy")

        save_as_button.click(save_as, [view, save_as_name], switching, **EDIT)

        # -- the wall --------------------------------------------------------------------------
        panels.click(ui.wall_action, [view], shown, **WALL)
        add.click(ui.add_shot, [view], shown, **WALL)
        duplicate.click(ui.duplicate, [view, picked], shown, js=SELECTION_JS, **WALL)
        delete.click(ui.delete, [view, picked], shown, js=SELECTION_JS, **WALL)
        undo_button.click(ui.step("undo"), [view], shown, **WALL)
        redo_button.click(ui.step("redo"), [view], shown, **WALL)
        render_selected.click(ui.render("selected"), [view, picked], shown, js=SELECTION_JS, **EDIT)
        render_missing.click(ui.render("missing"), [view], shown, **EDIT)
        render_all.click(ui.render("all"), [view], shown, **EDIT)
        cancel_all.click(ui.cancel_mine, [view], shown, **EDIT)
        timer.tick(ui.poll, [focus, view, *ins.value_widgets], shown, js=FOCUS_JS, **POLL)

        # -- the inspector ---------------------------------------------------------------------
        for name, widget in ins.fields.items():
            if name == "seed_locked":
                widget.input(ui.lock_seed, [view, widget], shown, **EDIT)
                continue
            events = (widget.input,) if isinstance(widget, (gr.Dropdown, gr.Checkbox)) else (widget.blur, widget.submit) \
                if isinstance(widget, gr.Textbox) and name in ("title", "location", "characters", "speaker", "seed") \
                else (widget.blur,)
            for event in events:  # a save while one is running waits, and only the newest one runs
                event(ui.save(name), [view, widget], shown, **{**EDIT, "trigger_mode": "always_last"})
        for move, intensity, easing in ins.moves:
            for event in (move.input, intensity.release, easing.input):
                event(ui.save_camera, [view, *ins.move_widgets], shown, **EDIT)
        ins.add_move.click(ui.resize_camera(+1), [view, *ins.move_widgets], shown, **EDIT)
        ins.remove_move.click(ui.resize_camera(-1), [view, *ins.move_widgets], shown, **EDIT)
        ins.dice.click(ui.random_seed, [view], shown, **EDIT)
        ins.kf_upload.upload(ui.add_keyframe, [view, ins.kf_upload, ins.kf_role, ins.kf_frame],
                             shown + [ins.kf_upload], **EDIT)
        ins.kf_clear.click(ui.clear_keyframes, [view], shown, **EDIT)
        ins.takes.select(ui.choose_take, [view], shown, **EDIT)
        ins.delete_take.click(ui.delete_take, [view], shown, **EDIT)
        for picker in (ins.compare_a, ins.compare_b):
            picker.input(ui.compare, [view, ins.compare_a, ins.compare_b], [ins.compare], **EDIT)
        ins.generate.click(ui.generate, [view], shown, **EDIT)
        ins.generate_n.click(ui.generate, [view, ins.count], shown, **EDIT)
        ins.cancel.click(ui.cancel_shot, [view], shown, **EDIT)
        script.wire_fit(ui, ins.fit, view, shown, EDIT, PUBLIC_ERRORS)
        script.wire(ui, script_panel, view, shown, EDIT, PUBLIC_ERRORS)
        drawing.wire(ui, ins.drawing, view, shown, EDIT, PUBLIC_ERRORS)
        keyframes.wire(ui, ins.image, view, shown, EDIT, PUBLIC_ERRORS)
        cast.wire(ui, looks_panel, view, shown, EDIT, PUBLIC_ERRORS)

        # -- board settings --------------------------------------------------------------------
        for name, widget in settings.items():
            event = widget.input if isinstance(widget, (gr.Dropdown, gr.Checkbox)) else widget.blur
            event(ui.save_setting(name), [view, widget, s_keep], shown, **EDIT)

        # -- timeline: the track, animatic, exports, scratch audio, re-cut ----------------------
        wire_timeline(ui, timeline_panel, view, shown, EDIT, EXPORT, PUBLIC_ERRORS)

    return demo


class _Handlers:
    """The page's event handlers. Each turns widget values into one service call and answers
    with a dict of the widgets to update (everything else stays as it is)."""

    def __init__(self, services: StudioServices, media: MediaCache, ins: Inspector, **widgets: Any) -> None:
        self.services, self.media, self.ins = services, media, ins
        self.w = widgets
        self.view: gr.State | None = None
        self._settled: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._settled_lock = threading.Lock()

    def settle(self, value: dict) -> dict:
        """Stamp the view state an action answers this tab with. A poll that began with an older
        state must not answer with it (the last answer's state wins in Gradio), or the tab's
        next save would be based on stale revisions."""
        with self._settled_lock:
            tab = value.get("tab", "")
            stamp = self._settled.pop(tab, 0) + 1
            self._settled[tab] = stamp
            while len(self._settled) > MAX_TABS:
                self._settled.popitem(last=False)
        return {**value, "stamp": stamp}

    def is_latest(self, value: dict) -> bool:
        """Whether ``value`` is the newest state an action gave this tab (a forgotten tab's is)."""
        with self._settled_lock:
            return self._settled.get(value.get("tab", ""), value.get("stamp", 0)) == value.get("stamp", 0)

    def all_outputs(self, view: gr.State) -> list[Any]:
        """Every widget a handler may update (a handler returns only those it changes)."""
        self.view = view
        w = self.w
        return [view, w["panels"], w["board_progress"], w["header"], w["undo"], w["redo"], w["running"], w["strip"],
                w["recent"], w["project_info"], w["formats"], *w["settings"].values(), self.ins.indicator,
                self.ins.heading, *self.ins.fields.values(), *self.ins.rows, *self.ins.move_widgets,
                self.ins.keyframes, self.ins.kf_frame, self.ins.takes, self.ins.take_info, self.ins.player,
                self.ins.compare_a, self.ins.compare_b, self.ins.compare, self.ins.timing,
                *self.ins.drawing.outputs, *self.ins.image.outputs, *w["looks"].outputs]

    @staticmethod
    def owner(value: dict) -> str:
        """Whose jobs and undo: the login when there is one, else this browser's key (set on open)."""
        return value["owner"]

    def project(self, value: dict, need: str = EDITOR) -> Project:
        """The tab's project, if its user still has the ``need`` right on it (asked on every
        action: a share taken away takes effect at once)."""
        return self.services.project(value["project"], workspaces.who_of(value), need)

    # -- showing -----------------------------------------------------------------------------
    def open(self, value: dict, opened: Opened, who: Who) -> dict[Any, Any]:
        """A tab switched to ``opened``: everything shown anew, the first shot selected."""
        project = opened.project
        board = self.services.board(project)
        value = {"project": opened.id, "role": opened.role, "key": value["key"], "owner": who.actor,
                 "user": who.user, "shot": None, "selection": [],
                 "seen": {}, "base": {}, "rev": board.revision, "takes_sig": None, "tab": uuid.uuid4().hex}
        first = board.shots[0].id if board.shots else None
        updates = self.board_updates(value, project, board, select=first)
        updates.update(self.project_updates(value, project, board))
        updates.update(self.w["team"].updates(value))
        value, shot_updates = self.select(value, project, board, first)
        updates = {**updates, **shot_updates}
        editable = opened.role != VIEWER
        for widget in self.w["edit_controls"]:  # a viewer sees the board, but nothing to change it with
            updates[widget] = interactive(updates.get(widget, gr.skip()), editable)
        if not editable:
            updates[self.ins.indicator] = indicator("", "View only: shared with you as a viewer")
        return {**updates, self.view: self.settle(value)}

    def project_updates(self, value: dict, project: Project, board: Board) -> dict[Any, Any]:
        w = self.w
        names = list(api.export_format_names())
        recent = workspaces.project_choices(self.services, workspaces.who_of(value))
        updates = {w["recent"]: gr.update(choices=recent, value=value["project"]),
                   w["project_info"]: workspaces.project_line(self.services, value["project"], project,
                                                              value["role"]),
                   w["formats"]: gr.update(choices=names, value=[n for n in names if n in ("mp4", "otio")] or names[:1])}
        values = {"title": board.title, "fps": str(board.fps), "width": board.width, "height": board.height,
                  "default_backend": board.default_backend, "default_model": board.default_model or "",
                  "memory_profile": board.memory_profile, "quality": board.quality,
                  "shot_numbering": board.shot_numbering,
                  "words_per_second": board.words_per_second, "scratch_dialogue": board.scratch_dialogue,
                  "cast": "\n".join(m.name + (f": {m.voice}" if m.voice else "") for m in board.cast),
                  "loras": lora_lines(board.loras)}
        updates.update({widget: values[name] for name, widget in w["settings"].items()})
        updates.update(cast.listing(self, project, board))
        return updates

    def board_updates(self, value: dict, project: Project, board: Board, select: str | None = None) -> dict[Any, Any]:
        """The wall, progress, header, undo/redo labels and timeline strip for ``board``."""
        w = self.w
        owner = self.owner(value)
        jobs = self.services.jobs.jobs(owner, project=str(project.root))
        panels, pictures = [], [self.picture(project, shot) for shot in board.shots]
        for number, shot in zip(shot_numbers(board), board.shots):
            state = self.services.panel_status(project, shot, jobs)
            panels.append(wall.panel(shot, number, board, img=pictures[len(panels)], status=state.status,
                                     badge=state.badge, detail=state.detail, progress=state.progress))
        history = edits.undo_state(project, owner)
        return {
            w["panels"]: wall.wall_value(board, panels, select),
            w["board_progress"]: views.board_progress(board, jobs, {j.id: self.services.jobs.position(j.id)
                                                                    for j in jobs if j.status == "queued"}),
            w["header"]: f"## {html.escape(board.title)}",
            w["undo"]: gr.update(value=f"↶ Undo {history.undo}" if history.undo else "↶ Undo",
                                 interactive=bool(history.undo) and value.get("role") != VIEWER),
            w["redo"]: gr.update(value=f"↷ Redo {history.redo}" if history.redo else "↷ Redo",
                                 interactive=bool(history.redo) and value.get("role") != VIEWER),
            w["running"]: views.running_time(board),
            w["strip"]: self.track_update(value, project=project, board=board, pictures=pictures, select=select),
        }

    def track_update(self, value: dict, *, project: Project | None = None, board: Board | None = None,
                     pictures: list[str | None] | None = None, select: str | None = None,
                     video: str | None = None, video_rev: int | None = None) -> dict[str, Any]:
        """The timeline track's value for the tab's board (studio.ui.timeline)."""
        project = project or self.project(value, VIEWER)
        board = board or self.services.board(project)
        pictures = pictures if pictures is not None else [self.picture(project, shot) for shot in board.shots]
        return track_value(project, board, pictures, editable=value.get("role") != VIEWER, select=select,
                           video=video, video_rev=video_rev)

    def wall_signature(self, value: dict, project: Project, board: Board) -> str:
        """What the wall, header and undo labels are drawn from: the board's revision and this
        user's jobs (each poll skips the wall when this has not changed)."""
        jobs = self.services.jobs.jobs(self.owner(value), project=str(project.root))
        return repr((board.revision, [(j.id, j.status, j.done, j.total, j.message, self.services.jobs.position(j.id))
                                      for j in jobs]))

    def picture(self, project: Project, shot: Shot) -> str | None:
        """The panel's picture: chosen take's poster, else the first keyframe (a URL), else None."""
        try:
            take = shot.chosen()
            if take is not None and not self.services.is_slate(project, take):
                path = self.media.poster(project.resolve(take.path))
                if path:
                    return file_url(path)
            keyframe = shot.keyframe("first") or (shot.keyframes[0] if shot.keyframes else None)
            if keyframe is not None:
                path = self.media.poster(project.resolve(keyframe.path))
                return file_url(path) if path else None
        except (ProjectError, OSError):
            return None
        return None

    def select(self, value: dict, project: Project, board: Board, shot_id: str | None) -> tuple[dict, dict[Any, Any]]:
        """Show ``shot_id`` in the inspector (all fields, keyframes, takes)."""
        ins = self.ins
        if shot_id is None or shot_id not in [s.id for s in board.shots]:
            value = {**value, "shot": None, "seen": {}, "base": {}}
            return value, {ins.heading: "### No shot selected", ins.indicator: indicator("", "Add a shot to begin")}
        shot = board.shot(shot_id)
        shown = shown_values(board, shot)
        value = {**value, "shot": shot_id, "seen": shown, "base": {name: board.revision for name in shown},
                 "rev": board.revision}
        updates = field_updates(ins, shown, set(shown))
        updates[ins.heading] = f"### Shot {shot_numbers(board)[board.index_of(shot_id)]}" + (
            f" · {html.escape(shot.framing_label())}" if shot.framing_label() else "")
        updates[ins.kf_frame] = shot.duration // 2
        updates[ins.indicator] = indicator("saved", f"All changes saved · revision {board.revision}")
        value, take_updates = self.take_updates(value, project, board, shot, force=True)
        take_updates.update(drawing.select_hook(self)(project, board, shot))
        take_updates.update(keyframes.select_hook(self)(project, board, shot))
        return value, {**updates, **take_updates}

    def take_updates(self, value: dict, project: Project, board: Board, shot: Shot,
                     force: bool = False) -> tuple[dict, dict[Any, Any]]:
        """Keyframes, the take strip, the player and the compare pickers, when they changed."""
        ins = self.ins
        signature = repr((shot.id, shot.chosen_take, [t.id for t in shot.takes], shot.keyframes, shot.prompt,
                          shot.camera, shot.duration, shot.dialogue, shot.speaker, shot.trim_in, shot.trim_out,
                          board.words_per_second, board.fps))
        if not force and signature == value.get("takes_sig"):
            return value, {}
        value = {**value, "takes_sig": signature}
        takes, choices = [], []
        for number, take in enumerate(shot.takes, start=1):
            poster = self.media.poster(project.resolve(take.path)) if project.resolve(take.path).is_file() else None
            stale = self.services.stale_reasons(project, shot, take)
            made = self.services.sidecar(project, take) or {}
            caption = (f"{'★ ' if take.id == shot.chosen_take else ''}T{number} · seed {take.seed} · {take.backend}"
                       f"{' · ' + take.model if take.model else ''}{' · ♪ sound' if made.get('audio') else ''}"
                       f" · {made.get('elapsed_seconds', '?')} s · "
                       f"{take.created[5:16].replace('T', ' ')}" + (f" · stale ({', '.join(stale)})" if stale else ""))
            if poster:
                takes.append((poster, caption))
            choices.append((f"T{number} (seed {take.seed})", take.id))
        keyframes = [(self.media.poster(project.resolve(k.path)), f"{k.role}" + (f" @ {k.frame}" if k.role == "mid" else ""))
                     for k in shot.keyframes if project.resolve(k.path).is_file()]
        chosen = shot.chosen()
        video = self.media.publish(project.resolve(chosen.path)) if chosen and project.resolve(chosen.path).is_file() else None
        info = views.take_info(chosen, self.services.sidecar(project, chosen)) if chosen else "No take yet: press **Generate**."
        return value, {ins.takes: takes, ins.keyframes: [k for k in keyframes if k[0]], ins.player: video,
                       ins.take_info: info, ins.timing: script.timing_text(board, shot),
                       ins.compare_a: gr.update(choices=choices, value=None),
                       ins.compare_b: gr.update(choices=choices, value=None), ins.compare: ""}

    def refreshed(self, value: dict, *, select: str | None = None,
                  message: tuple[str, str] | None = None) -> dict[Any, Any]:
        """After an action: the wall and the selected shot's takes anew; fields via the poll."""
        project = self.project(value, VIEWER)
        board = self.services.board(project)
        updates = self.board_updates(value, project, board, select=select)
        if select is not None and select != value.get("shot"):
            value, shot_updates = self.select(value, project, board, select)
            updates.update(shot_updates)
        elif value.get("shot") in [s.id for s in board.shots]:
            value, take_updates = self.take_updates(value, project, board, board.shot(value["shot"]))
            updates.update(take_updates)
        if message:
            updates[self.ins.indicator] = indicator(*message)
        return {**updates, self.view: self.settle(value)}

    def unchanged(self) -> dict[Any, Any]:
        """No widget changes (Gradio reads an empty dict as one value, so name one, skipped)."""
        return {self.ins.indicator: gr.skip()}

    def failed(self, error: Exception) -> dict[Any, Any]:
        return {self.ins.indicator: indicator("error", str(error))}

    # -- the wall ----------------------------------------------------------------------------
    def wall_action(self, value: dict, event: gr.EventData) -> dict[Any, Any]:
        data = getattr(event, "_data", None) or {}
        action = data.get("action")
        try:
            if action == "select":
                ids = [i for i in data.get("ids", []) if isinstance(i, str)]
                value = {**value, "selection": ids}
                primary = data.get("primary") if isinstance(data.get("primary"), str) else None
                project = self.project(value, VIEWER)
                value, updates = self.select(value, project, self.services.board(project), primary)
                return {**updates, self.view: self.settle(value)}
            if action == "move":
                project = self.project(value)
                edits.move_shots(project, list(data.get("ids", [])), int(data.get("to", 0)), self.owner(value))
                return self.refreshed(value, message=("saved", "moved"))
            if action in ("undo", "redo"):
                return self.step(action)(value)
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        return self.unchanged()

    def add_shot(self, value: dict) -> dict[Any, Any]:
        try:
            _, new_id = edits.add_shot(self.project(value), after=value.get("shot"),
                                       actor=self.owner(value))
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        return self.refreshed({**value, "selection": [new_id]}, select=new_id, message=("saved", "shot added"))

    @staticmethod
    def selection(value: dict, picked: str | None = None) -> list[str]:
        """The shots an action applies to: ``picked``, the ids the page had selected when the
        button was pressed (SELECTION_JS), so a click right after a shift-click never acts on the
        selection before it; else the tab's last known selection, else its shot."""
        ids = [i for i in (picked or "").split(",") if i]
        return ids or value.get("selection") or ([value["shot"]] if value.get("shot") else [])

    def duplicate(self, value: dict, picked: str | None = None) -> dict[Any, Any]:
        try:
            _, made = edits.duplicate_shots(self.project(value), self.selection(value, picked),
                                            self.owner(value))
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        return self.refreshed({**value, "selection": made[-1:]}, select=made[-1],
                              message=("saved", f"{len(made)} shot(s) duplicated"))

    def delete(self, value: dict, picked: str | None = None) -> dict[Any, Any]:
        ids = self.selection(value, picked)
        try:
            project = self.project(value)
            before = [s.id for s in self.services.board(project).shots]
            board = edits.delete_shots(project, ids, self.owner(value))
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        remaining = [s.id for s in board.shots]
        after = next((sid for sid in before[before.index(ids[0]):] if sid in remaining), remaining[-1] if remaining else None)
        return self.refreshed({**value, "selection": [after] if after else [], "shot": None}, select=after,
                              message=("saved", f"{len(ids)} shot(s) deleted (Undo brings them back)"))

    def step(self, kind: str) -> Callable:
        def run(value: dict) -> dict[Any, Any]:
            try:
                (edits.undo if kind == "undo" else edits.redo)(self.project(value),
                                                               self.owner(value))
            except PUBLIC_ERRORS as error:
                return self.failed(error)
            return self.refreshed(value, message=("saved", f"{kind} done"))
        return run

    def render(self, which: str) -> Callable:
        def run(value: dict, picked: str | None = None) -> dict[Any, Any]:
            try:
                ids = self.selection(value, picked) if which == "selected" else None
                jobs = self.services.submit_renders(self.owner(value), self.project(value),
                                                  ids, only_missing=which == "missing")
            except PUBLIC_ERRORS as error:
                return self.failed(error)
            return self.refreshed(value, message=("saved", f"{len(jobs)} shot(s) queued"))
        return run

    def cancel_mine(self, value: dict) -> dict[Any, Any]:
        count = self.services.jobs.cancel_owner(self.owner(value))
        return self.refreshed(value, message=("saved", f"cancelled {count} job(s)"))

    # -- polling -----------------------------------------------------------------------------
    def poll(self, focused: str, value: dict | None, *widget_values: Any) -> dict[Any, Any]:
        """Every second: the wall (panels whose data changed), and inspector fields another tab
        or a landing take changed, except fields with unsaved typing or the focus."""
        if not value:
            return self.unchanged()
        try:
            project = self.project(value, VIEWER)
            board = self.services.board(project)
        except (ProjectError, OSError) as error:
            return {self.w["board_progress"]: f"⚠ {html.escape(str(error))}"}
        answer = self.polled(value, project, board, focused, widget_values)
        # an action has answered this tab since this poll began: its view is newer (the next poll catches up)
        return answer if self.is_latest(value) else self.unchanged()

    def polled(self, value: dict, project: Project, board: Board, focused: str,
               widget_values: tuple[Any, ...]) -> dict[Any, Any]:
        """The poll's answer for ``board``: wall, changed fields, takes."""
        signature = self.wall_signature(value, project, board)
        updates = {} if signature == value.get("wall_sig") else self.board_updates(value, project, board)
        value, team_updates = self.w["team"].polled({**value, "wall_sig": signature})
        updates.update(team_updates)
        shot_id = value.get("shot")
        if shot_id not in [s.id for s in board.shots]:
            if shot_id is not None:
                value, shot_updates = self.select(value, project, board, board.shots[0].id if board.shots else None)
                updates.update(shot_updates)
            return {**updates, self.view: value}
        shot = board.shot(shot_id)
        current = dict(zip(self.ins.fields, widget_values))
        current["camera"] = camera_from(list(widget_values[len(self.ins.fields):]), len(value["seen"].get("camera", [])))
        shown = shown_values(board, shot)
        seen, base = dict(value["seen"]), dict(value["base"])
        changed = set()
        for name, now in shown.items():
            dirty = name == focused or not same(name, current.get(name), seen.get(name))
            if dirty:
                continue
            base[name] = board.revision
            if not same(name, now, seen.get(name)):
                seen[name] = now
                changed.add(name)
        updates.update(field_updates(self.ins, shown, changed))
        value, take_updates = self.take_updates({**value, "seen": seen, "base": base, "rev": board.revision},
                                                project, board, shot)
        value, draw_updates = drawing.poll_hook(self)(value, project, board, shot)
        return {**updates, **take_updates, **draw_updates, self.view: value}

    # -- inspector edits -----------------------------------------------------------------------
    def patch(self, value: dict, changes: dict[str, Any], shown_names: set[str]) -> dict[Any, Any]:
        """Send one patch based on the fields' base revisions; on a conflict show the current value."""
        project = self.project(value, VIEWER)
        base = min(value["base"].get(name, value["rev"]) for name in shown_names)
        try:
            board = edits.patch_shot(self.project(value), value["shot"], changes, base, self.owner(value))
        except edits.EditConflict as error:
            board = self.services.board(project)
            shown = shown_values(board, board.shot(value["shot"]))
            value = {**value, "seen": {**value["seen"], **{n: shown[n] for n in shown_names}},
                     "base": {**value["base"], **{n: board.revision for n in shown_names}}}
            mine = "; ".join(f"{n}: {str(v)[:200]}" for n, v in changes.items())
            updates = field_updates(self.ins, shown, shown_names)
            return {**updates, self.view: self.settle(value),
                    self.ins.indicator: indicator("conflict", f"{error} Your value was — {mine}")}
        except PUBLIC_ERRORS as error:
            board = self.services.board(project)
            shown = shown_values(board, board.shot(value["shot"]))
            return {**field_updates(self.ins, shown, shown_names), self.ins.indicator: indicator("error", str(error))}
        shown = shown_values(board, board.shot(value["shot"]))
        value = {**value, "seen": {**value["seen"], **{n: shown[n] for n in shown_names}},
                 "base": {**value["base"], **{n: board.revision for n in shown_names}}, "rev": board.revision}
        updates = self.refreshed(value, message=("saved", f"saved {time.strftime('%H:%M:%S')}"))
        # a saved text field is not written back (the person may have typed on since), unless
        # the service normalised it (e.g. repeated characters dropped)
        echo = {n for n in shown_names if not (n in TEXT and n in changes and same(n, changes[n], shown[n]))}
        return {**updates, **field_updates(self.ins, shown, echo)}

    def save(self, name: str) -> Callable:
        def run(value: dict, widget_value: Any) -> dict[Any, Any]:
            if not value or not value.get("shot"):
                return self.unchanged()
            if same(name, widget_value, value["seen"].get(name)):
                return self.unchanged()  # nothing typed: a blur alone saves nothing
            return self.patch(value, {name: "" if widget_value is None and name != "lens_mm" else widget_value}, {name})
        return run

    def lock_seed(self, value: dict, locked: bool) -> dict[Any, Any]:
        """Locking keeps the look of the chosen take: its seed becomes the shot's seed."""
        if not value or not value.get("shot"):
            return self.unchanged()
        board = self.services.board(self.project(value, VIEWER))
        take = board.shot(value["shot"]).chosen()
        changes: dict[str, Any] = {"seed_locked": bool(locked)}
        if locked and take is not None:
            changes["seed"] = take.seed
        return self.patch(value, changes, {"seed_locked", "seed"})

    def random_seed(self, value: dict) -> dict[Any, Any]:
        if not value or not value.get("shot"):
            return self.unchanged()
        return self.patch(value, {"seed": random_seed(), "seed_locked": True}, {"seed", "seed_locked"})

    def save_camera(self, value: dict, *moves: Any) -> dict[Any, Any]:
        if not value or not value.get("shot"):
            return self.unchanged()
        camera = camera_from(list(moves), len(value["seen"].get("camera", [])) or 1)
        segments = [{"move": m, "intensity": i, "easing": e} for m, i, e in camera]
        return self.patch(value, {"camera": segments}, {"camera"})

    def resize_camera(self, delta: int) -> Callable:
        def run(value: dict, *moves: Any) -> dict[Any, Any]:
            if not value or not value.get("shot"):
                return self.unchanged()
            count = max(1, min(MAX_SEGMENTS, len(value["seen"].get("camera", [])) + delta))
            camera = camera_from(list(moves), MAX_SEGMENTS)[:count]
            if delta > 0 and count > len(value["seen"].get("camera", [])):
                camera[-1] = ["handheld" if count == 2 else "static", 0.3, "linear"]
            segments = [{"move": m, "intensity": i, "easing": e} for m, i, e in camera]
            return self.patch(value, {"camera": segments}, {"camera"})
        return run

    def add_keyframe(self, value: dict, file_path: str | None, role: str, frame: Any) -> dict[Any, Any]:
        if not file_path or not value or not value.get("shot"):
            return self.unchanged()
        try:
            edits.set_keyframe(self.project(value), value["shot"], Path(file_path), role,
                               int(frame or 0), self.owner(value), limiter=self.services.limiter)
        except PUBLIC_ERRORS as error:
            return {**self.failed(Exception(f"Keyframe refused: {error}")), self.ins.kf_upload: None}
        return {**self.refreshed(value, message=("saved", f"{role} keyframe added")), self.ins.kf_upload: None}

    def clear_keyframes(self, value: dict) -> dict[Any, Any]:
        if not value or not value.get("shot"):
            return self.unchanged()
        try:
            edits.remove_keyframes(self.project(value), value["shot"], self.owner(value))
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        return self.refreshed(value, message=("saved", "keyframes removed"))

    def choose_take(self, value: dict, event: gr.SelectData) -> dict[Any, Any]:
        project = self.project(value)
        shot = self.services.board(project).shot(value["shot"])
        with_poster = [t for t in shot.takes if project.resolve(t.path).is_file()]
        if not 0 <= event.index < len(with_poster):
            return self.unchanged()
        try:
            edits.choose_take(project, shot.id, with_poster[event.index].id, self.owner(value))
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        return self.refreshed(value, message=("saved", f"take T{event.index + 1} chosen"))

    def delete_take(self, value: dict) -> dict[Any, Any]:
        project = self.project(value)
        shot = self.services.board(project).shot(value["shot"])
        if shot.chosen_take is None:
            return {self.ins.indicator: indicator("error", "this shot has no take to delete")}
        try:
            edits.delete_take(project, shot.id, shot.chosen_take, self.owner(value))
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        return self.refreshed(value, message=("saved", "take deleted (Undo brings it back)"))

    def compare(self, value: dict, first: str | None, second: str | None) -> str:
        """Two takes side by side; the left one drives playback of both."""
        if not first or not second:
            return ""
        project = self.project(value, VIEWER)
        shot = self.services.board(project).shot(value["shot"])
        takes = {t.id: t for t in shot.takes}
        cells = []
        for take_id in (first, second):
            take = takes.get(take_id)
            if take is None or not project.resolve(take.path).is_file():
                return f"<p>Take {html.escape(str(take_id))} is gone.</p>"
            url = file_url(self.media.public_video(project.resolve(take.path)))
            cells.append(f'<figure><video src="{html.escape(url)}" muted playsinline controls loop></video>'
                         f"<figcaption>seed {take.seed} · {html.escape(take.backend)}</figcaption></figure>")
        return f'<div class="compare-pair">{"".join(cells)}</div>'

    def generate(self, value: dict, count: Any = 1) -> dict[Any, Any]:
        """Queue takes of the shot as saved (the form is never re-saved by Generate)."""
        if not value or not value.get("shot"):
            return self.unchanged()
        try:
            n = int(count or 1)
            if not 1 <= n <= 8:
                raise FieldError("takes", f"must be from 1 to 8, got {count!r}")
            project = self.project(value)
            board = self.services.board(project)
            label = shot_label(board.index_of(value["shot"]) + 1, board.shot(value["shot"]).title, "message")
            for i in range(n):
                self.services.submit_render(self.owner(value), project, value["shot"],
                                            seed=None if i == 0 else random_seed(),
                                            label=label + (f" (take {i + 1} of {n})" if n > 1 else ""))
        except PUBLIC_ERRORS as error:
            return self.failed(error)
        return self.refreshed(value, message=("saved", f"{n} take(s) queued"))

    def cancel_shot(self, value: dict) -> dict[Any, Any]:
        owner = self.owner(value)
        stopped = 0
        for job in self.services.jobs.jobs(owner, project=str(self.project(value, VIEWER).root)):
            if job.shot_id == value.get("shot") and not job.is_finished:
                stopped += self.services.jobs.cancel(owner, job.id)
        return self.refreshed(value, message=("saved", f"cancelled {stopped} job(s)"))

    # -- board settings ------------------------------------------------------------------------
    def save_setting(self, name: str) -> Callable:
        def run(value: dict, widget_value: Any, keep: str) -> dict[Any, Any]:
            project = self.project(value, VIEWER)
            try:
                edits.patch_board(self.project(value), {name: widget_value}, None, self.owner(value), keep=keep)
            except PUBLIC_ERRORS as error:
                board = self.services.board(project)
                return {**self.project_updates(value, project, board), self.w["settings"][name]: gr.update(),
                        self.ins.indicator: indicator("error", str(error))}
            updates = self.refreshed(value, message=("saved", f"board {name} saved"))
            if value.get("shot"):
                board = self.services.board(project)
                value, shot_updates = self.select(updates[self.view], project, board, value["shot"])
                updates.update({**shot_updates, self.view: self.settle(value)})
            return updates
        return run


def file_url(path: str | Path) -> str:
    """The URL Gradio serves a published copy at (the copies' folder is an allowed path)."""
    return f"/gradio_api/file={path}"
