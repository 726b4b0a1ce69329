"""One shot card: its widgets and their handlers. Called inside the board's ``@gr.render``.

Every widget has ``key=(shot id, field)``, so re-rendering the board after a reorder or a new
take keeps what the user is typing in other cards. Widgets whose value comes from the server
(video, takes, thumbnail) are not preserved by key, so a new take always shows.
Handlers are thin: widget value -> :func:`forms.apply_shot_changes` -> ``project.update``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from studio.board import EASINGS, KEYFRAME_ROLES, MOVES, TRANSITIONS, Board, BoardError, Keyframe, Shot
from studio.services.jobs import JobNotFound, QueueFull
from studio.storage import Project, ProjectError
from studio.ui import views
from studio.services.app import Studio
from studio.services.fields import (
    FieldError,
    apply_shot_changes,
    duplicate_shot,
    frames_label,
    random_seed,
)

MAX_TAKES_PER_CLICK = 8
EDIT = {"concurrency_id": "edit", "concurrency_limit": 16, "show_progress": "hidden",
        "api_visibility": "private"}
"""Edits never share a concurrency group with generation, so they never wait behind a render.
UI handlers are private: scripts use the named endpoints of studio.ui.api instead."""


def saved_status(message: str = "") -> str:
    return f"✔ All changes saved {time.strftime('%H:%M:%S')}" + (f" · {message}" if message else "")


def bump(layout: dict | None, project: Project, board: Board | None = None) -> dict:
    """A new layout value: re-renders the cards (the nonce forces it even if nothing moved).

    It carries the board's current signature, so the next poll does not render them again."""
    board = board or project.load()
    return {"project": str(project.root), "sig": structure(project, board), "nonce": time.monotonic_ns()}


def structure(project: Project, board: Board) -> str:
    """Changes whenever the cards must be rebuilt: order, takes, keyframes, titles, fps."""
    parts = [str(project.root), str(board.fps), str(board.width), str(board.height)]
    for shot in board.shots:
        parts.append("|".join([shot.id, shot.title, shot.chosen_take or "", ",".join(t.id for t in shot.takes),
                               ",".join(f"{k.role}:{k.frame}:{k.path}" for k in shot.keyframes)]))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def stored_value(board: Board, shot: Shot, field: str) -> Any:
    """What a field shows for the shot as saved (used to put a refused value back)."""
    camera = shot.camera[0]
    return {
        "duration_s": round(board.fps.frames_to_seconds(shot.duration), 3),
        "seed": str(shot.seed),
        "move": camera.move, "intensity": camera.intensity, "easing": camera.easing,
        "transition": shot.transition.kind, "transition_frames": shot.transition.length,
    }.get(field, getattr(shot, field, None))


def thumbnail(studio: Studio, project: Project, shot: Shot) -> str | None:
    take = shot.chosen()
    try:
        if take is not None:
            path = project.resolve(take.path)
            if path.is_file():
                return studio.media.thumbnail(path)
        for role in ("first", "mid", "last"):
            keyframe = shot.keyframe(role)
            if keyframe is not None:
                path = project.resolve(keyframe.path)
                if path.is_file():
                    return studio.media.publish(path)
    except (ProjectError, OSError):
        return None
    return None


def take_video(studio: Studio, project: Project, shot: Shot, take_id: str | None) -> tuple[str | None, str]:
    """A servable copy of a take and its info text (seed, settings from the sidecar)."""
    take = next((t for t in shot.takes if t.id == take_id), None)
    if take is None:
        return None, "No take yet: press **Generate**."
    try:
        video = project.resolve(take.path)
        sidecar_path = project.resolve(take.sidecar_path)
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8")) if sidecar_path.is_file() else None
        return (studio.media.publish(video) if video.is_file() else None), views.take_info(take, sidecar)
    except (ProjectError, OSError, ValueError) as error:
        return None, f"Take {take.id} cannot be shown: {error}"


def render_card(studio: Studio, project: Project, board: Board, index: int, shot: Shot,
                session: gr.State, layout: gr.State, undo: gr.State, status: gr.Markdown,
                session_key: str | None = None) -> None:
    """Build one card and wire its handlers; its status shows only this session's jobs."""
    sid = shot.id
    camera = shot.camera[0]

    def key(name: str) -> tuple[str, str]:
        return (sid, name)

    with gr.Column(key=key("card"), elem_classes=["shot-card"], elem_id=f"card-{sid}"):
        gr.Markdown(f"### {index + 1}. {views.html.escape(shot.title or sid)}",
                    key=key("head"), preserved_by_key=None)
        with gr.Row():
            with gr.Column(scale=2, min_width=260):
                thumb = gr.Image(thumbnail(studio, project, shot), label="Thumbnail", interactive=False,
                                 height=150, key=key("thumb"), preserved_by_key=None,
                                 buttons=[], elem_classes=["card-thumb"])
                video_path, info = take_video(studio, project, shot, shot.chosen_take)
                video = gr.Video(video_path, label="Chosen take", interactive=False, height=200,
                                 key=key("video"), preserved_by_key=None, elem_classes=["card-video"])
                takes = gr.Radio([(views.take_label(i, t), t.id) for i, t in enumerate(shot.takes)],
                                 value=shot.chosen_take, label="Takes (pick the chosen one)",
                                 key=key("takes"), preserved_by_key=None, visible=bool(shot.takes))
                take_md = gr.Markdown(info, key=key("takeinfo"), preserved_by_key=None)
                delete_take_button = gr.Button("Delete this take", size="sm", variant="stop",
                                        key=key("deltake"), visible=bool(shot.takes))
            with gr.Column(scale=3, min_width=320):
                title = gr.Textbox(shot.title, label="Title", interactive=True, key=key("title"), max_lines=1)
                prompt = gr.Textbox(shot.prompt, label="Prompt", lines=2, interactive=True, key=key("prompt"),
                                    elem_classes=["card-prompt"])
                negative = gr.Textbox(shot.negative_prompt, label="Negative prompt", interactive=True, key=key("negative_prompt"),
                                      max_lines=2)
                with gr.Row():
                    move = gr.Dropdown(list(MOVES), value=camera.move, label="Camera move",
                                       interactive=True, key=key("move"), elem_classes=["card-move"])
                    intensity = gr.Slider(0, 1, value=camera.intensity, step=0.05, label="Intensity",
                                          interactive=True, key=key("intensity"))
                    easing = gr.Dropdown(list(EASINGS), value=camera.easing, label="Easing", interactive=True, key=key("easing"))
                with gr.Row():
                    duration = gr.Number(stored_value(board, shot, "duration_s"), label="Duration (s)",
                                         info=frames_label(board, shot.duration), interactive=True, key=key("duration_s"),
                                         minimum=None, step=0.5)
                    seed = gr.Textbox(str(shot.seed), label="Seed", interactive=True, key=key("seed"), max_lines=1,
                                      elem_classes=["card-seed"])
                    locked = gr.Checkbox(shot.seed_locked, label="Lock seed", interactive=True, key=key("seed_locked"))
                    dice = gr.Button("Random seed", size="sm", min_width=60, key=key("dice"))
                with gr.Row():
                    continuity = gr.Checkbox(shot.continuity, label="Continue from previous shot",
                                             interactive=True, key=key("continuity"))
                    transition = gr.Dropdown(list(TRANSITIONS), value=shot.transition.kind,
                                             label="Transition into this shot", interactive=True, key=key("transition"))
                    transition_frames = gr.Number(shot.transition.length, label="Transition (frames)",
                                                  precision=0, interactive=True, key=key("transition_frames"))
                with gr.Accordion("Notes, dialogue, keyframes", open=False, key=key("more")):
                    notes = gr.Textbox(shot.notes, label="Notes", lines=2, interactive=True, key=key("notes"))
                    dialogue = gr.Textbox(shot.dialogue, label="Dialogue", lines=2, interactive=True, key=key("dialogue"))
                    kf_text = ", ".join(f"{k.role}" + (f" @ frame {k.frame}" if k.role == "mid" else "")
                                        for k in shot.keyframes) or "none"
                    gr.Markdown(f"Keyframes: {kf_text}", key=key("kfinfo"), preserved_by_key=None)
                    with gr.Row():
                        role = gr.Dropdown(list(KEYFRAME_ROLES), value="first", label="Keyframe role",
                                           interactive=True, key=key("kfrole"))
                        mid_frame = gr.Number(shot.duration // 2, label="Frame (mid-shot)", precision=0,
                                              interactive=True, key=key("kfframe"))
                    upload = gr.File(label="Upload keyframe image", file_types=["image"], type="filepath",
                                     interactive=True, key=key("kfupload"))
                    clear_kf = gr.Button("Remove keyframes", size="sm", key=key("kfclear"))
        card_error = gr.Markdown("", elem_classes=["card-error"], key=key("error"), preserved_by_key=None)
        shot_jobs = [job for job in studio.jobs.jobs(session=session_key, project=str(project.root))
                     if job.shot_id == sid] if session_key else []
        positions = {job.id: studio.jobs.position(job.id) for job in shot_jobs if job.status == "queued"}
        progress = gr.HTML(views.card_status(shot_jobs, positions), key=key("progress"), preserved_by_key=None,
                           elem_classes=["card-progress"])
        with gr.Row():
            generate = gr.Button("Generate", variant="primary", key=key("generate"), elem_classes=["card-generate"])
            count = gr.Number(3, label="Takes", precision=0, minimum=1, maximum=MAX_TAKES_PER_CLICK,
                              interactive=True, key=key("count"), min_width=70, scale=0)
            generate_n = gr.Button("Generate N takes", key=key("generate_n"))
            cancel = gr.Button("Cancel", key=key("cancel"))
            up = gr.Button("▲ Up", key=key("up"), elem_classes=["card-up"])
            down = gr.Button("▼ Down", key=key("down"), elem_classes=["card-down"])
            duplicate = gr.Button("Duplicate", key=key("duplicate"))
            delete = gr.Button("Delete", variant="stop", key=key("delete"))

    # -- field edits -----------------------------------------------------------------------
    def saver(field: str, widget: gr.components.Component) -> Callable:
        def save(value: Any):
            try:
                board_now = project.update(lambda b: apply_shot_changes(b, sid, {field: value}))
            except FieldError as error:
                gr.Warning(str(error))
                board_now = studio.board(project)
                return stored_value(board_now, board_now.shot(sid), field), f"⚠ {error}", gr.skip()
            except (BoardError, ProjectError) as error:
                gr.Warning(str(error))
                return gr.skip(), f"⚠ {error}", gr.skip()
            if field == "duration_s":
                shot_now = board_now.shot(sid)
                return gr.update(info=frames_label(board_now, shot_now.duration)), "", saved_status()
            return gr.skip(), "", saved_status()
        return save

    fields = {"title": title, "prompt": prompt, "negative_prompt": negative, "notes": notes,
              "dialogue": dialogue, "duration_s": duration, "seed": seed,
              "transition_frames": transition_frames}
    for field, widget in fields.items():
        for event in (widget.blur, widget.submit) if hasattr(widget, "submit") else (widget.blur,):
            event(saver(field, widget), [widget], [widget, card_error, status], **EDIT)
    for field, widget in {"move": move, "easing": easing, "seed_locked": locked,
                          "continuity": continuity, "transition": transition}.items():
        widget.input(saver(field, widget), [widget], [widget, card_error, status], **EDIT)
    intensity.release(saver("intensity", intensity), [intensity], [intensity, card_error, status], **EDIT)

    def roll_dice():
        value = random_seed()
        project.update(lambda b: apply_shot_changes(b, sid, {"seed": value}))
        return str(value), "", saved_status(f"new seed {value}")

    dice.click(roll_dice, None, [seed, card_error, status], **EDIT)

    # -- generation ----------------------------------------------------------------------
    form = {"title": title, "prompt": prompt, "negative_prompt": negative, "move": move,
            "intensity": intensity, "easing": easing, "duration_s": duration, "seed": seed,
            "seed_locked": locked, "continuity": continuity, "transition": transition,
            "transition_frames": transition_frames, "notes": notes, "dialogue": dialogue}

    def generator(many: bool) -> Callable:
        def generate_takes(session_value: dict, how_many: Any = 1, **values: Any):
            try:
                n = int(how_many) if many else 1
                if not 1 <= n <= MAX_TAKES_PER_CLICK:
                    raise FieldError("takes", f"must be from 1 to {MAX_TAKES_PER_CLICK}, got {how_many!r}")
                project.update(lambda b: apply_shot_changes(b, sid, values))
                label = f"shot {board.index_of(sid) + 1}: {values.get('title') or sid}"
                jobs = [studio.submit_render(session_value["key"], project, sid,
                                             seed=None if i == 0 else random_seed(),
                                             label=label + (f" (take {i + 1} of {n})" if n > 1 else ""))
                        for i in range(n)]
            except (FieldError, QueueFull, BoardError, ProjectError) as error:
                gr.Warning(str(error))
                return f"⚠ {error}", gr.skip(), gr.skip()
            positions = {job.id: studio.jobs.position(job.id) for job in jobs}
            return "", views.job_line(jobs[0], positions[jobs[0].id]), saved_status(f"{n} take(s) queued")
        return generate_takes

    generate.click(generator(False), inputs=[session], outputs=[card_error, progress, status],
                   inputs_kwargs=form, **EDIT)
    generate_n.click(generator(True), inputs=[session, count], outputs=[card_error, progress, status],
                     inputs_kwargs=form, **EDIT)

    def cancel_jobs(session_value: dict):
        stopped = 0
        for job in studio.jobs.jobs(session=session_value["key"], project=str(project.root)):
            if job.shot_id == sid and not job.is_finished:
                try:
                    stopped += studio.jobs.cancel(session_value["key"], job.id)
                except JobNotFound:
                    continue
        return saved_status(f"cancelled {stopped} job(s)")

    cancel.click(cancel_jobs, [session], [status], **EDIT)

    # -- takes -----------------------------------------------------------------------------
    def choose(take_id: str):
        try:
            board_now = project.update(lambda b: apply_shot_changes(b, sid, {"chosen_take": take_id}))
        except (FieldError, BoardError, ProjectError) as error:
            gr.Warning(str(error))
            return gr.skip(), gr.skip(), gr.skip(), f"⚠ {error}", gr.skip()
        shot_now = board_now.shot(sid)
        path, text = take_video(studio, project, shot_now, take_id)
        return path, text, thumbnail(studio, project, shot_now), "", saved_status()

    takes.input(choose, [takes], [video, take_md, thumb, card_error, status], **EDIT)

    def remove_take(layout_value: dict, take_id: str | None):
        if not take_id:
            return gr.skip(), "⚠ pick a take first", gr.skip()
        from studio.services.render import delete_take  # local: the UI starts without the render stack

        try:
            delete_take(project, sid, take_id)
        except (BoardError, ProjectError) as error:
            gr.Warning(str(error))
            return gr.skip(), f"⚠ {error}", gr.skip()
        return bump(layout_value, project), "", saved_status("take deleted")

    delete_take_button.click(remove_take, [layout, takes], [layout, card_error, status], **EDIT)

    # -- keyframes -------------------------------------------------------------------------
    def add_keyframe(layout_value: dict, file_path: str | None, role_value: str, frame_value: Any):
        if not file_path:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            relative = import_image(project, Path(file_path))
            frame = 0
            if role_value == "mid":
                frame = int(frame_value) if frame_value is not None else shot.duration // 2

            keyframe = Keyframe(role=role_value, path=relative, frame=frame)
            project.update(lambda b: b.with_shot(b.shot(sid).with_keyframe(keyframe)))
        except (ValueError, ProjectError, OSError) as error:  # ImageError and BoardError are ValueErrors
            gr.Warning(f"Keyframe refused: {error}")
            return gr.skip(), None, f"⚠ Keyframe refused: {error}", gr.skip()
        return bump(layout_value, project), None, "", saved_status(f"{role_value} keyframe added")

    upload.upload(add_keyframe, [layout, upload, role, mid_frame], [layout, upload, card_error, status], **EDIT)

    def clear_keyframes(layout_value: dict):
        project.update(lambda b: b.with_shot(b.shot(sid).replace(keyframes=())))
        return bump(layout_value, project), saved_status("keyframes removed")

    clear_kf.click(clear_keyframes, [layout], [layout, status], **EDIT)

    # -- card actions ----------------------------------------------------------------------
    def restructure(edit: Callable[[Board], Board], message: str) -> Callable:
        def run(layout_value: dict):
            try:
                project.update(edit)
            except (BoardError, ProjectError) as error:
                gr.Warning(str(error))
                return gr.skip(), f"⚠ {error}", gr.skip()
            return bump(layout_value, project), "", saved_status(message)
        return run

    up.click(restructure(lambda b: b.move_shot(sid, -1), "moved up"), [layout], [layout, card_error, status], **EDIT)
    down.click(restructure(lambda b: b.move_shot(sid, 1), "moved down"), [layout], [layout, card_error, status], **EDIT)

    def duplicate_card(b: Board) -> Board:
        return b.add_shot(duplicate_shot(b.shot(sid)), b.index_of(sid) + 1)

    duplicate.click(restructure(duplicate_card, "card duplicated"), [layout], [layout, card_error, status], **EDIT)

    def delete_card(layout_value: dict):
        from studio.board_codec import shot_to_dict

        removed: dict[str, Any] = {}

        def edit(b: Board) -> Board:
            removed.update(shot=shot_to_dict(b.shot(sid)), index=b.index_of(sid), project=str(project.root))
            return b.remove_shot(sid)
        try:
            project.update(edit)
        except (BoardError, ProjectError) as error:
            gr.Warning(str(error))
            return gr.skip(), gr.skip(), f"⚠ {error}", gr.skip()
        return bump(layout_value, project), removed, "", saved_status("card deleted (Undo delete brings it back)")

    delete.click(delete_card, [layout], [layout, undo, card_error, status], **EDIT)


def import_image(project: Project, path: Path) -> str:
    """An uploaded file as a validated keyframe (size checked before reading it whole)."""
    from studio.images import MAX_BYTES, ImageError

    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ImageError(f"{path.name}: {size / 1e6:.1f} MB is more than the {MAX_BYTES / 1e6:.0f} MB upload limit")
    return project.import_keyframe(path.read_bytes(), path.suffix)
