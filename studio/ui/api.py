"""Named HTTP endpoints (``api_name``) for scripts: the same services the browser uses.

Usable from ``gradio_client``::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/", auth=("alice", "secret"))
    project = client.predict("My film", api_name="/new_project")       # a project id: "p3f0c..."
    board = client.predict(project, api_name="/load_board")
    client.predict(project, shot_id, {"prompt": "dawn"}, board["revision"], api_name="/patch_shot")

Projects are named by the ids the server gives (``/new_project``, ``/list_projects``), never by a
folder: on a server with a login every endpoint refuses paths, and another user's project id is
answered exactly like one that never existed. The owner shares a project (``/share_project``)
as a viewer (load it, fetch its pictures) or an editor (also edit, render, export, undo). A local
app with no login also accepts a folder path, which it registers and answers with an id.

A client acts as its login when the server has one, else as its own session (gradio_client's
session hash): jobs and undo history belong to that identity, so a user sees and cancels their
jobs from every client. Edits carry the revision they were based on and are refused with a
conflict error naming the fields when those fields changed since. Errors come back as
``gr.Error`` naming the bad field or value. In returned board JSON, file references are under
``file`` (not ``path``).
"""

# No ``from __future__ import annotations`` here: gr.api reads the real type hints to describe
# each endpoint's parameters.

from pathlib import Path

import gradio as gr

from studio.backends.base import GenerationError
from studio.board import BoardError
from studio.board_codec import board_to_dict, shot_to_dict
from studio.services import edits
from studio.services.access import EDITOR, VIEWER, Who
from studio.services.app import StudioServices
from studio.services.fields import FieldError
from studio.services.jobs import JobNotFound, JobView, NotInterrupted, QueueFull, QueueStateError
from studio.storage import ProjectError
from studio.ui.serving import MediaCache

WAIT_SECONDS = 3600.0
PUBLIC_ERRORS = (FieldError, BoardError, ProjectError, GenerationError, QueueFull, JobNotFound, OSError,
                 edits.EditConflict, edits.NothingToUndo, NotInterrupted, QueueStateError)


def export_format_names() -> tuple:
    """The export service's format names."""
    from studio.services.export import EXPORT_FORMATS

    return tuple(EXPORT_FORMATS)


def _public(value):
    """Board JSON for clients: every ``path`` key is renamed ``file``.

    gradio_client downloads any returned dict with a string ``path`` as if it were a file, so
    project-relative paths (keyframes, takes, audio) would be fetched, and refused, as files.
    """
    if isinstance(value, dict):
        return {("file" if key == "path" else key): _public(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_public(item) for item in value]
    return value


def _job(view: JobView) -> dict:
    return {"id": view.id, "status": view.status, "shot_id": view.shot_id, "label": view.label,
            "done": view.done, "total": view.total, "message": view.message, "elapsed": round(view.elapsed, 3),
            "eta": None if view.eta is None else round(view.eta, 3), "error": view.error,
            "take": None if view.status != "done" or view.result is None else view.result.id,
            "seed": view.seed, "requeued_as": view.requeued_as}


def register(services: StudioServices, media: MediaCache) -> None:
    """Add the endpoints to the Blocks being built."""

    def who(request: gr.Request) -> Who:
        """The login when there is one, else (local app only) the client's session."""
        return services.access.who(getattr(request, "username", None), getattr(request, "session_hash", None))

    def opened(project: str, request: gr.Request, need: str = EDITOR):
        """The project a client names, if this user has the ``need`` right on it."""
        return services.opened(project, who(request), need)

    def _owner(request: gr.Request) -> str:
        return who(request).actor

    def guarded(fn):
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except edits.EditConflict as error:
                raise gr.Error(f"conflict: {error} (fields: {', '.join(error.fields)}; "
                               f"current revision {error.revision})") from None
            except PUBLIC_ERRORS as error:
                raise gr.Error(str(error)) from None
        call.__name__, call.__doc__ = fn.__name__, fn.__doc__
        call.__annotations__ = fn.__annotations__
        call.__wrapped__ = fn
        return call

    def board_json(project) -> dict:
        return _public({"project": project.id, "role": project.role,
                        **board_to_dict(services.board(project.project))})

    def load_board(project: str, request: gr.Request = None) -> dict:
        """A project's board as board.json content (with its ``revision``), its ``project`` id and
        your ``role`` (owner, editor, viewer)."""
        return board_json(opened(project, request, VIEWER))

    def new_project(name: str, request: gr.Request = None) -> str:
        """Create an empty project of yours in the workspace; returns its id."""
        return services.access.create(who(request), name).id

    def list_projects(request: gr.Request = None) -> list:
        """Your projects and those shared with you, most recently opened first: id, title, owner,
        your role, and (for your own) who they are shared with."""
        return [row.public() for row in services.access.projects(who(request))]

    def share_project(project: str, user: str, role: str, request: gr.Request = None) -> dict:
        """Share one of your projects with another login as "viewer" or "editor" ("none" takes the
        share away); returns the project's row as list_projects shows it."""
        return services.access.share(who(request), project, user, role).public()

    def list_jobs(request: gr.Request = None) -> list:
        """Your jobs (from any of your clients and tabs), oldest first."""
        return [_job(job) for job in services.jobs.jobs(_owner(request))]

    def interrupted_jobs(request: gr.Request = None) -> list:
        """Your renders that a server restart interrupted and that can be queued again."""
        return [_job(job) for job in services.interrupted(who(request))]

    def requeue_job(job_id: str, request: gr.Request = None) -> dict:
        """Queue an interrupted render again (same shot and seed); returns the new job."""
        return _job(services.requeue(who(request), job_id))

    def dismiss_job(job_id: str, request: gr.Request = None) -> bool:
        """Drop an interrupted render from your list without making it again."""
        services.dismiss(who(request), job_id)
        return True

    def update_board(project: str, settings: dict, base_revision: int = -1, keep: str = "seconds",
                     request: gr.Request = None) -> dict:
        """Change board settings: title, fps, width, height, default_backend, default_model,
        memory_profile. A new fps keeps each shot's seconds (keep="frames" keeps frame counts).
        Returns the saved board."""
        p = opened(project, request).project
        edits.patch_board(p, settings, None if base_revision < 0 else base_revision, _owner(request), keep)
        return board_json(opened(project, request))

    def add_shot(project: str, fields: dict, position: int = -1, after: str = "", request: gr.Request = None) -> dict:
        """Add a card (fields as for patch_shot) after shot ``after``, or at ``position`` (-1: the end);
        returns it."""
        p = opened(project, request).project
        board, shot_id = edits.add_shot(p, after=after or None, fields=fields, actor=_owner(request))
        if position >= 0 and not after:
            board = edits.move_shots(p, [shot_id], position, _owner(request))
        return _public(shot_to_dict(board.shot(shot_id)))

    def patch_shot(project: str, shot_id: str, changes: dict, base_revision: int,
                   request: gr.Request = None) -> dict:
        """Change fields of a card, based on ``base_revision`` (from load_board): title, prompt,
        negative_prompt, shot_size, angle, lens_mm, action, speaker, dialogue, location, int_ext,
        characters, notes, duration_s (seconds) or duration (frames), camera (list of {move,
        intensity, easing}), seed, seed_locked, continuity, transition, transition_frames, backend,
        chosen_take, take_audio_level (dB: the chosen take's own sound in the cut). Refused with a
        conflict naming the fields if they changed since. Returns
        {"revision", "shot"}."""
        board = edits.patch_shot(opened(project, request).project, shot_id, changes, base_revision,
                                 _owner(request))
        return {"revision": board.revision, "shot": _public(shot_to_dict(board.shot(shot_id)))}

    def update_shot(project: str, shot_id: str, changes: dict, request: gr.Request = None) -> dict:
        """patch_shot without a base revision (last write wins); returns the saved card."""
        board = edits.patch_shot(opened(project, request).project, shot_id, changes, None, _owner(request))
        return _public(shot_to_dict(board.shot(shot_id)))

    def choose_take(project: str, shot_id: str, take_id: str, request: gr.Request = None) -> int:
        """Make a take the shot's chosen one; returns the new revision."""
        return edits.choose_take(opened(project, request).project, shot_id, take_id, _owner(request)).revision

    def delete_take(project: str, shot_id: str, take_id: str, request: gr.Request = None) -> int:
        """Remove a take from its shot (undo brings it back); returns the new revision."""
        return edits.delete_take(opened(project, request).project, shot_id, take_id, _owner(request)).revision

    def undo(project: str, request: gr.Request = None) -> dict:
        """Undo this client's newest edit of the project; returns the board."""
        p = opened(project, request)
        edits.undo(p.project, _owner(request))
        return board_json(p)

    def redo(project: str, request: gr.Request = None) -> dict:
        """Redo this client's newest undone edit; returns the board."""
        p = opened(project, request)
        edits.redo(p.project, _owner(request))
        return board_json(p)

    def move_shot(project: str, shot_id: str, delta: int, request: gr.Request = None) -> list:
        """Move a card ``delta`` places; returns the shot ids in their new order."""
        p = opened(project, request).project
        index = services.board(p).index_of(shot_id)
        board = edits.move_shots(p, [shot_id], max(0, index + delta), _owner(request))
        return [shot.id for shot in board.shots]

    def delete_shot(project: str, shot_id: str, request: gr.Request = None) -> list:
        """Remove a card (undo brings it back); returns the remaining shot ids."""
        board = edits.delete_shots(opened(project, request).project, [shot_id], _owner(request))
        return [shot.id for shot in board.shots]

    def render_shot(project: str, shot_id: str, seed: int = -1, wait: bool = True,
                    request: gr.Request = None) -> dict:
        """Queue one take (seed -1: the shot's own if locked, else random). With wait, returns the
        finished job with its take id; otherwise the queued job (poll job_status)."""
        job = services.submit_render(_owner(request), opened(project, request).project, shot_id,
                                     seed=None if seed < 0 else seed)
        if wait:
            job = services.jobs.wait(_owner(request), job.id, WAIT_SECONDS)
            if job.status != "done":
                raise GenerationError(job.error or f"job {job.id} {job.status}")
        return _job(job)

    def render_board(project: str, only_missing: bool = True, wait: bool = True,
                     request: gr.Request = None) -> list:
        """Queue every shot (only those without a chosen take when only_missing); returns the jobs."""
        jobs = services.submit_renders(_owner(request), opened(project, request).project, only_missing=only_missing)
        if wait:
            jobs = [services.jobs.wait(_owner(request), job.id, WAIT_SECONDS) for job in jobs]
        return [_job(job) for job in jobs]

    def job_status(job_id: str, request: gr.Request = None) -> dict:
        """Progress of one of this client's jobs."""
        return _job(services.jobs.get(_owner(request), job_id))

    def cancel_job(job_id: str, request: gr.Request = None) -> bool:
        """Cancel one of this client's jobs; False if it had already finished."""
        return services.jobs.cancel(_owner(request), job_id)

    def import_script(project: str, name: str, text: str, options: dict = None, dry_run: bool = True,
                      request: gr.Request = None) -> dict:
        """Import a screenplay given as text (Fountain, or Final Draft XML when ``name`` ends .fdx);
        options: granularity (scene, action, exchange), cap (cards per scene). Returns the preview
        (scenes, shots per scene, new cast, warnings) and, unless dry_run, the new ``revision``.
        A file that cannot be read is refused naming its line; nothing changes."""
        from studio.screenplay import ScriptError
        from studio.services.script_import import ImportOptions
        from studio.services.script_import import import_script as run_import

        p = opened(project, request, VIEWER if dry_run else EDITOR).project
        try:
            result = run_import(p, text.encode("utf-8"), name, ImportOptions.parse(options), _owner(request), dry_run)
        except ScriptError as error:
            raise gr.Error(f"{name}: {error}; nothing was imported") from None
        return {**result.plan.to_json(), "revision": None if result.board is None else result.board.revision}

    def dialogue_timing(project: str, request: gr.Request = None) -> list:
        """Every shot's dialogue against its length: words, needed_frames (at the board's words
        per second), available_frames, fits, and the warning the wall shows."""
        from studio.services.dialogue import board_timing

        return [item.to_json() for item in board_timing(services.board(opened(project, request, VIEWER).project))]

    def fit_dialogue(project: str, shot_id: str, base_revision: int = -1, request: gr.Request = None) -> dict:
        """Set a shot's duration so its dialogue just fits; returns {"revision", "shot"}."""
        from studio.services.dialogue import fit_to_dialogue

        board = fit_to_dialogue(opened(project, request).project, shot_id,
                                None if base_revision < 0 else base_revision, _owner(request))
        return {"revision": board.revision, "shot": _public(shot_to_dict(board.shot(shot_id)))}

    for fn in (load_board, new_project, list_projects, share_project, update_board, add_shot, patch_shot,
               update_shot, choose_take, delete_take, undo, redo, move_shot, delete_shot, render_shot,
               render_board, job_status, cancel_job, list_jobs, interrupted_jobs, requeue_job, dismiss_job,
               import_script, dialogue_timing, fit_dialogue):
        limits = ({"concurrency_id": "api_wait", "concurrency_limit": 32}
                  if fn in (render_shot, render_board) else
                  {"concurrency_id": "edit", "concurrency_limit": 4})
        gr.api(guarded(fn), api_name=fn.__name__, **limits)

    def timeline(project: str, request: gr.Request = None) -> dict:
        """The cut in frames: each shot's start, length, trims and incoming transition, dialogue,
        whether its take has its own sound (take_audio) and that sound's level (take_audio_level, dB),
        and the scratch track (offset, level in dB, muted, one waveform peak per frame)."""
        from studio.services.track import track_data

        p = opened(project, request, VIEWER).project
        return track_data(p, services.board(p))

    def patch_audio(project: str, changes: dict, base_revision: int = -1, request: gr.Request = None) -> dict:
        """Change the scratch track: offset (frames), level (dB, -60..12), muted, fade_out (frames);
        refused with a conflict if it changed since ``base_revision``. ``{"remove": true}`` removes
        the track (undo brings it back). Returns {"revision", "audio"}."""
        p = opened(project, request).project
        if dict(changes or {}) == {"remove": True}:
            board = edits.set_audio(p, None, _owner(request))
        else:
            board = edits.patch_audio(p, changes, None if base_revision < 0 else base_revision, _owner(request))
        return {"revision": board.revision, "audio": _public(board_to_dict(board)["audio"])}

    def import_edit(project: str, name: str, text: str, dry_run: bool = True, base_revision: int = -1,
                    request: gr.Request = None) -> dict:
        """Read back a re-cut (``name`` ends .otio, .xml or .edl; ``text`` its content): the list of
        changes (trims, order, removed shots, transitions), unmatched clips and problems, and unless
        dry_run applies them as one undoable edit (refused if the board changed since
        ``base_revision`` in a way that changes the list). Returns the list and the ``revision``."""
        from studio.services.recut import RecutError
        from studio.services.recut import import_edit as run_import

        p = opened(project, request, VIEWER if dry_run else EDITOR).project
        try:
            result = run_import(p, text.encode("utf-8"), name, _owner(request), dry_run,
                                None if base_revision < 0 else base_revision)
        except RecutError as error:
            raise gr.Error(f"{name}: {error}; the board is unchanged") from None
        return {**result.plan.to_json(), "revision": None if result.board is None else result.board.revision}

    for fn in (timeline, patch_audio, import_edit):
        gr.api(guarded(fn), api_name=fn.__name__, concurrency_id="edit", concurrency_limit=4)

    from studio.ui import panels_api

    panels_api.register(opened, _owner, guarded, _public, media)

    from studio.ui import keyframes_api

    keyframes_api.register(services, opened, _owner, guarded)

    from studio.ui import farm

    farm.register_api(services, _owner)

    with gr.Column(visible=False):
        project_in = gr.Textbox(label="project")
        shot_in = gr.Textbox(label="shot_id")
        role_in = gr.Textbox(label="role")
        frame_in = gr.Number(label="frame", precision=0)
        format_in = gr.Textbox(label="fmt")
        options_in = gr.JSON({}, label="options")
        file_in = gr.File(label="file", type="filepath")
        file_out = gr.File(label="file")
        revision_out = gr.Number(label="revision", precision=0)
        export_trigger = gr.Button("export", visible=False)
        keyframe_trigger = gr.Button("upload_keyframe", visible=False)
        audio_trigger = gr.Button("upload_audio", visible=False)

    def export(project: str, fmt: str, options: dict, request: gr.Request) -> str:
        """Export the board in one format (editors and the owner); the client downloads the file.
        ``options`` (all optional): burn_ins (list of shot, camera, take, timecode, dialogue,
        watermark, or "all"), watermark (text), per_page (2, 4, 6), fit (cover, letterbox),
        include_audio, use_slates, preview_width."""
        try:
            return media.publish(services.export(opened(project, request).project, fmt.strip(), options=options or {}))
        except Exception as error:  # noqa: BLE001 - every export failure goes back as a message
            raise gr.Error(str(error)) from None

    export_trigger.click(export, [project_in, format_in, options_in], [file_out], api_name="export",
                         concurrency_id="export", concurrency_limit=2)

    def upload_keyframe(project: str, shot_id: str, role: str, frame: float, file: str,
                        request: gr.Request) -> int:
        """Upload an image as a shot's first, last or mid (at ``frame``) keyframe; returns the revision."""
        if not file:
            raise gr.Error("file: send an image")
        return guarded(lambda: edits.set_keyframe(opened(project, request).project, shot_id, Path(file),
                                                  role or "first", int(frame or 0), _owner(request),
                                                  limiter=services.limiter).revision)()

    keyframe_trigger.click(upload_keyframe, [project_in, shot_in, role_in, frame_in, file_in], [revision_out],
                           api_name="upload_keyframe", concurrency_id="edit", concurrency_limit=4)

    def upload_audio(project: str, frame: float, file: str, request: gr.Request) -> int:
        """Lay an audio file under the cut from frame ``frame``; returns the revision."""
        if not file:
            raise gr.Error("file: send an audio file")
        return guarded(lambda: edits.set_audio(opened(project, request).project, Path(file), _owner(request),
                                               int(frame or 0)).revision)()

    audio_trigger.click(upload_audio, [project_in, frame_in, file_in], [revision_out], api_name="upload_audio",
                        concurrency_id="edit", concurrency_limit=4)
