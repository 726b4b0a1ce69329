"""Named HTTP endpoints (``api_name``) for scripts: the same services the browser uses.

Usable from ``gradio_client``::

    from gradio_client import Client
    client = Client("http://127.0.0.1:7860/")
    board = client.predict("/path/to/project", api_name="/load_board")

A client's jobs belong to its own session (gradio_client's session hash), so one script cannot
see or cancel another's renders. Errors come back as ``gr.Error`` with the message naming the
bad field or value. In returned board JSON, file references are under ``file`` (not ``path``).
"""

# No ``from __future__ import annotations`` here: gr.api reads the real type hints to describe
# each endpoint's parameters.

import gradio as gr

from studio.backends.base import GenerationError
from studio.board import BoardError
from studio.board_codec import board_to_dict, shot_to_dict
from studio.services.jobs import JobNotFound, JobView, QueueFull
from studio.storage import ProjectError
from studio.services.app import Studio
from studio.services.fields import FieldError, apply_board_settings, apply_shot_changes, new_shot

WAIT_SECONDS = 3600.0
PUBLIC_ERRORS = (FieldError, BoardError, ProjectError, GenerationError, QueueFull, JobNotFound, OSError)


def export_format_names() -> tuple:
    """The export service's format names (empty until that service is installed)."""
    try:
        from studio.services.export import EXPORT_FORMATS
    except ImportError:
        return ()
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


def _session(request: gr.Request) -> str:
    return f"s:{request.session_hash}"


def _job(view: JobView) -> dict:
    return {"id": view.id, "status": view.status, "shot_id": view.shot_id, "done": view.done,
            "total": view.total, "message": view.message, "elapsed": round(view.elapsed, 3),
            "eta": None if view.eta is None else round(view.eta, 3), "error": view.error,
            "take": None if view.status != "done" or view.result is None else view.result.id}


def register(studio: Studio) -> None:
    """Add the endpoints to the Blocks being built."""

    def guarded(fn):
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except PUBLIC_ERRORS as error:
                raise gr.Error(str(error)) from None
        call.__name__, call.__doc__ = fn.__name__, fn.__doc__
        call.__annotations__ = fn.__annotations__
        call.__wrapped__ = fn
        return call

    def load_board(project: str) -> dict:
        """The board of a project folder as board.json content, plus its folder."""
        p = studio.project(project)
        return _public({"project": str(p.root), **board_to_dict(studio.board(p))})

    def new_project(name: str) -> str:
        """Create an empty project under the user's projects folder; returns its folder."""
        return str(studio.workspace.new(name).root)

    def update_board(project: str, settings: dict) -> dict:
        """Change board settings: title, fps, width, height, default_backend, default_model,
        memory_profile. Returns the saved board."""
        p = studio.project(project)
        board = p.update(lambda b: apply_board_settings(b, settings))
        return _public({"project": str(p.root), **board_to_dict(board)})

    def add_shot(project: str, fields: dict, position: int = -1) -> dict:
        """Add a card (fields as for update_shot) at ``position`` (-1: the end); returns it."""
        p = studio.project(project)
        made: dict = {}

        def edit(board):
            shot = new_shot(board, **fields)
            made["id"] = shot.id
            return board.add_shot(shot, None if position < 0 else position)

        board = p.update(edit)
        return _public(shot_to_dict(board.shot(made["id"])))

    def update_shot(project: str, shot_id: str, changes: dict) -> dict:
        """Change fields of a card: title, prompt, negative_prompt, duration_s (seconds) or
        duration (frames), move, intensity, easing, seed, seed_locked, continuity, transition,
        transition_frames, notes, dialogue, backend, chosen_take. Returns the saved card."""
        board = studio.project(project).update(lambda b: apply_shot_changes(b, shot_id, changes))
        return _public(shot_to_dict(board.shot(shot_id)))

    def move_shot(project: str, shot_id: str, delta: int) -> list:
        """Move a card ``delta`` places; returns the shot ids in their new order."""
        board = studio.project(project).update(lambda b: b.move_shot(shot_id, delta))
        return [shot.id for shot in board.shots]

    def delete_shot(project: str, shot_id: str) -> list:
        """Remove a card (its take files stay on disk); returns the remaining shot ids."""
        board = studio.project(project).update(lambda b: b.remove_shot(shot_id))
        return [shot.id for shot in board.shots]

    def render_shot(project: str, shot_id: str, seed: int = -1, wait: bool = True,
                    request: gr.Request = None) -> dict:
        """Queue one take (seed -1: the shot's own if locked, else random). With wait, returns the
        finished job with its take id; otherwise the queued job (poll job_status)."""
        job = studio.submit_render(_session(request), studio.project(project), shot_id,
                                   seed=None if seed < 0 else seed)
        if wait:
            job = studio.jobs.wait(_session(request), job.id, WAIT_SECONDS)
            if job.status != "done":
                raise GenerationError(job.error or f"job {job.id} {job.status}")
        return _job(job)

    def render_board(project: str, only_missing: bool = True, wait: bool = True,
                     request: gr.Request = None) -> list:
        """Queue every shot (only those without a chosen take when only_missing); returns the jobs."""
        jobs = studio.submit_board(_session(request), studio.project(project), only_missing=only_missing)
        if wait:
            jobs = [studio.jobs.wait(_session(request), job.id, WAIT_SECONDS) for job in jobs]
        return [_job(job) for job in jobs]

    def job_status(job_id: str, request: gr.Request = None) -> dict:
        """Progress of one of this client's jobs."""
        return _job(studio.jobs.get(_session(request), job_id))

    def cancel_job(job_id: str, request: gr.Request = None) -> bool:
        """Cancel one of this client's jobs; False if it had already finished."""
        return studio.jobs.cancel(_session(request), job_id)

    for fn in (load_board, new_project, update_board, add_shot, update_shot, move_shot, delete_shot,
               render_shot, render_board, job_status, cancel_job):
        limits = ({"concurrency_id": "api_wait", "concurrency_limit": 32}
                  if fn in (render_shot, render_board) else
                  {"concurrency_id": "edit", "concurrency_limit": 16})
        gr.api(guarded(fn), api_name=fn.__name__, **limits)

    with gr.Column(visible=False):
        project_in = gr.Textbox(label="project")
        format_in = gr.Textbox(label="fmt")
        file_out = gr.File(label="file")
        trigger = gr.Button("export", visible=False)

    def export(project: str, fmt: str) -> str:
        """Export the board in one format; the client downloads the file."""
        try:
            return studio.media.publish(studio.export(studio.project(project), fmt.strip()))
        except Exception as error:  # noqa: BLE001 - every export failure goes back as a message
            raise gr.Error(str(error)) from None

    trigger.click(export, [project_in, format_in], [file_out], api_name="export",
                  concurrency_id="export", concurrency_limit=2)
