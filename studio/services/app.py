"""Everything one running app shares between its users: queue, backends, workspace, board cache.

One :class:`StudioServices` per app (made by the server, never at module level), so two apps in
one process (tests) never share a queue or a loaded model. Callers hold only a project path and
an owner key (the login, or the browser session when there is no login); the project folder on
disk is the truth, read through :meth:`StudioServices.board`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from studio.backends import BackendCache, check_backend_name
from studio.board import Board, Shot, Take
from studio.board_codec import shot_to_dict
from studio.common import Progress
from studio.services.access import EDITOR, VIEWER, Access, AccessDenied, Opened, Who
from studio.services.fields import FieldError
from studio.services.jobs import (CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobQueue, JobView,
                                  NotInterrupted)
from studio.services.quality import needs_render
from studio.services.workspace import Workspace
from studio.storage import Project, ProjectError
from studio.timeline import shot_label

BOARD_CACHE_KEPT = 32
SIDECAR_CACHE_KEPT = 2048
RECENT_DONE_SECONDS = 30.0
"""A finished job stays on its panel this long (then the panel shows the take)."""
TEXT_TO_VIDEO_FREE = frozenset({"animatic"})
"""Backends that make a shot without a prompt (the animatic draws keyframes or a slate)."""


@dataclass(frozen=True)
class PanelStatus:
    """What a shot's panel badge says: none, queued, rendering, done, failed or stale."""

    status: str
    badge: str
    detail: str = ""
    progress: float = 0.0


class StudioServices:
    """The app-wide services behind the UI and the HTTP API."""

    def __init__(self, workspace: Workspace, *, backend: str | None = None,
                 device: str | None = None, backends: BackendCache | None = None,
                 jobs: JobQueue | None = None, access: Access | None = None,
                 limiter: Any = None, farm: Any = None) -> None:
        from studio.images import DecodeLimiter

        self.workspace = workspace
        self.access = access or Access(workspace)
        """Who may open which project (ids, owners, shares): every route asks it."""
        self.backend_override = backend
        self.backends = backends or BackendCache(**({"device": device} if device else {}))
        self.jobs = jobs or JobQueue()
        self.farm = farm
        """A render farm (services/farm.Farm) that renders the queue's jobs, or None: this machine."""
        self._farm_owners: dict[str, str] = {}
        """Farm job id -> its owner, while it runs: the panel names only a viewer's own shots."""
        self.limiter: DecodeLimiter = limiter or DecodeLimiter()
        """Bounds how many uploaded images decode at once (their memory), for every route."""
        self._boards: OrderedDict[Path, tuple[tuple[int, int, int], Board]] = OrderedDict()
        self._sidecars: OrderedDict[tuple[str, int, int], dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()
        self._on_close: list[Callable[[], None]] = []
        self.served_copies: Any = None
        """The UI's folder of files the browser may fetch, when a UI runs (tests check it)."""

    def closing(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when the app closes (the UI's served-copies folder, for one)."""
        self._on_close.append(cleanup)

    # -- projects ------------------------------------------------------------------------
    def opened(self, ref: str, who: Who | None = None, need: str = VIEWER) -> Opened:
        """The project a client names (an id; a folder too on a local app) if ``who`` has the
        ``need`` right on it, else an AccessDenied saying why. ``who`` None: the local user
        (refused on a shared server, where every request has a login)."""
        if who is None:
            if self.access.shared:
                raise AccessDenied("this server needs a login: sign in first")
            who = self.access.who(None, "local")
        return self.access.resolve(ref, who, need)

    def project(self, ref: str | Path, who: Who | None = None, need: str = VIEWER) -> Project:
        """:meth:`opened`'s project folder."""
        return self.opened(str(ref) if ref else "", who, need).project

    def board(self, project: Project) -> Board:
        """The board on disk, parsed once per change of the file (polling reads this often)."""
        stat = project.board_path.stat()
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # os.replace gives a new inode
        with self._lock:
            cached = self._boards.get(project.root)
            if cached is not None and cached[0] == key:
                self._boards.move_to_end(project.root)
                return cached[1]
        board = project.load()
        with self._lock:
            self._boards[project.root] = (key, board)
            while len(self._boards) > BOARD_CACHE_KEPT:
                self._boards.popitem(last=False)
        return board

    # -- takes -----------------------------------------------------------------------------
    def sidecar(self, project: Project, take: Take) -> dict[str, Any] | None:
        """A take's JSON sidecar (None when missing or unreadable), read once per file version."""
        try:
            path = project.resolve(take.sidecar_path)
            stat = path.stat()
        except (ProjectError, OSError):
            return None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key in self._sidecars:
                return self._sidecars[key]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data = data if isinstance(data, dict) else None
        except (OSError, ValueError):
            data = None
        with self._lock:
            self._sidecars[key] = data
            while len(self._sidecars) > SIDECAR_CACHE_KEPT:
                self._sidecars.popitem(last=False)
        return data

    def is_slate(self, project: Project, take: Take) -> bool:
        """A take the animatic drew as a slate: shown with the shot's current number, never its
        baked picture (the number changes when shots move)."""
        made = self.sidecar(project, take) or {}
        generation = made.get("generation")
        return isinstance(generation, dict) and generation.get("source") == "slate"

    def stale_reasons(self, project: Project, shot: Shot, take: Take) -> list[str]:
        """What changed on the shot since ``take`` was made: prompt, camera, keyframes, duration.

        Empty when the take still matches (or when its sidecar cannot tell)."""
        made = self.sidecar(project, take)
        if made is None:
            return []
        card = shot_to_dict(shot)
        reasons = []
        if made.get("prompt") != shot.prompt or made.get("negative_prompt", shot.negative_prompt) != shot.negative_prompt:
            reasons.append("prompt")
        if made.get("camera") != card["camera"]:
            reasons.append("camera")
        if made.get("keyframes") != card["keyframes"]:
            reasons.append("keyframes")
        elif made.get("panels", []) != card["panels"]:  # layers or their depths
            reasons.append("layers")
        if made.get("frames") != shot.duration:
            reasons.append("duration")
        return reasons

    def panel_status(self, project: Project, shot: Shot, jobs: list[JobView]) -> PanelStatus:
        """The badge of one shot: its owner's newest job when it is running, queued, or just
        ended; otherwise the chosen take (done or stale) or none."""
        live = [job for job in jobs if job.shot_id == shot.id]
        running = [job for job in live if job.status == RUNNING]
        if running:
            job = running[-1]
            return PanelStatus("rendering", f"rendering {job.fraction:.0%}", job.message, job.fraction)
        queued = [job for job in live if job.status == QUEUED]
        if queued:
            position = self.jobs.position(queued[0].id)
            where = f" #{position + 1} in line" if position is not None else ""
            return PanelStatus("queued", f"queued{where}", f"{len(queued)} take(s) waiting")
        ended = [job for job in live if job.status in (FAILED, DONE, CANCELLED)]
        if ended and ended[-1].status == FAILED and time.monotonic() - (ended[-1].finished or 0) < 600:
            return PanelStatus("failed", "failed", ended[-1].error or "the render failed")
        take = shot.chosen()
        if take is None:
            return PanelStatus("none", "no take", "press Generate")
        reasons = self.stale_reasons(project, shot, take)
        if reasons:
            return PanelStatus("stale", "stale", f"the shot's {', '.join(reasons)} changed since this take was made")
        return PanelStatus("done", "done", f"take {take.id}, seed {take.seed}")

    # -- generation ----------------------------------------------------------------------
    def check_renderable(self, board: Board, shot_id: str) -> None:
        """Refuse early what the backend would refuse after a wait in the queue."""
        shot = board.shot(shot_id)
        backend = check_backend_name(self.backend_override or board.backend_for(shot))
        if backend not in TEXT_TO_VIDEO_FREE and not shot.keyframes and not shot.prompt.strip():
            raise FieldError("prompt", f"the {backend} backend makes a shot from text: write a prompt "
                                       "or upload a first keyframe")

    def submit_render(self, owner: str, project: Project, shot_id: str, *, seed: int | None = None,
                      group: str | None = None, label: str = "") -> JobView:
        """Queue one take of one shot on the shared lane; it renders the shot as saved."""
        board = self.board(project)
        self.check_renderable(board, shot_id)
        label = label or shot_label(board.index_of(shot_id) + 1, board.shot(shot_id).title, "message")
        return self.jobs.submit(owner, self._render_job(project, shot_id, seed, owner), kind="render",
                                label=label, shot_id=shot_id, project=str(project.root),
                                group=group, seed=seed)

    def _render_job(self, project: Project, shot_id: str, seed: int | None, owner: str) -> Callable:
        """The job function of one render: a take of the shot as saved when the job starts."""
        queued_at = time.monotonic()

        def run(progress: Callable, cancel: threading.Event) -> Take:
            if self.farm is not None:
                from studio.services.farm import farm_job

                self._await_predecessor(project, shot_id, queued_at, progress, cancel)
                job = farm_job(project, shot_id, job_id=f"app-{uuid.uuid4().hex[:12]}",
                               backend=self.backend_override, seed=seed)
                with self._lock:
                    self._farm_owners[job.id] = owner
                try:
                    return self.farm.run(job, progress, cancel)
                finally:
                    with self._lock:
                        self._farm_owners.pop(job.id, None)
            from studio.services.render import render_shot

            return render_shot(project, shot_id, backend=self.backend_override, seed=seed,
                               progress=progress, cancel=cancel, backends=self.backends)
        return run

    def _await_predecessor(self, project: Project, shot_id: str, queued_at: float, progress: Callable,
                           cancel: threading.Event) -> None:
        """With a farm, jobs run at once: a continuity shot waits for the render of the shot
        before it that was queued ahead of it (one lane renders in board order by itself)."""
        while not cancel.is_set():
            board = self.board(project)
            index = board.index_of(shot_id)
            if index <= 0 or not board.shot(shot_id).continuity:
                return
            before = board.shots[index - 1].id
            ahead = [job for job in self.jobs.jobs(project=str(project.root))
                     if job.shot_id == before and job.status in (QUEUED, RUNNING) and job.submitted <= queued_at]
            if not ahead:
                return
            progress(0, 0, "waiting for the shot it continues from")
            cancel.wait(0.2)

    def submit_renders(self, owner: str, project: Project, shot_ids: list[str] | None = None, *,
                       only_missing: bool = False) -> list[JobView]:
        """One render job per shot, in board order, so other users' shots interleave fairly."""
        board = self.board(project)
        wanted = None if shot_ids is None else set(shot_ids)
        todo = [s for s in board.shots  # at final quality a chosen draft still needs its final take
                if (wanted is None or s.id in wanted) and not (only_missing and not needs_render(board, s))]
        for shot in todo:
            self.check_renderable(board, shot.id)
        group = f"batch-{uuid.uuid4().hex[:8]}"
        return [self.submit_render(owner, project, shot.id, group=group) for shot in todo]

    # -- after a restart -----------------------------------------------------------------
    def interrupted(self, who: Who) -> list[JobView]:
        """This user's jobs a restart interrupted, still to be queued again or dismissed."""
        return self.jobs.interrupted(who.actor)

    def requeue(self, who: Who, job_id: str) -> JobView:
        """Queue an interrupted render again, as it was (same shot, same seed when it had one).

        The user must still be allowed to edit the project: a share taken away since the
        restart is not a way back in."""
        old = self.jobs.get(who.actor, job_id)
        if not old.can_requeue:
            raise NotInterrupted(f"job {old.id} is {old.status}"
                                 + (f" (queued again as {old.requeued_as})" if old.requeued_as else "")
                                 + ": only a job interrupted by a restart can be queued again")
        if old.kind != "render" or not old.project or not old.shot_id:
            raise NotInterrupted(f"job {old.id} is a {old.kind} job: only renders can be queued again")
        project_id = self.access.id_of(old.project)
        if project_id is None and self.access.shared:
            raise AccessDenied(f"job {old.id}: its project is no longer in this workspace")
        project = self.project(project_id or old.project, who, EDITOR)
        self.check_renderable(self.board(project), old.shot_id)
        return self.jobs.requeue(who.actor, job_id, self._render_job(project, old.shot_id, old.seed, who.actor))

    def dismiss(self, who: Who, job_id: str) -> None:
        """The user does not want an interrupted job made again."""
        self.jobs.dismiss(who.actor, job_id)

    # -- export --------------------------------------------------------------------------
    def export(self, project: Project, fmt: str, warn: Callable[[str], None] | None = None,
               options: Mapping[str, Any] | None = None, progress: Progress | None = None) -> Path:
        """One export file in the project's exports folder (the export service names it);
        ``warn`` hears what the export adjusted (takes conformed, slates shown); ``options`` as
        export.options_from takes them (burn_ins, per_page, fit, watermark, include_audio...)."""
        from studio.services.export import export_board, options_from

        return Path(export_board(project, fmt, None, options_from(options), progress=progress, warn=warn))

    def farm_state(self, owner: str) -> dict[str, Any]:
        """The farm panel's data: each worker (its model, its job: named for ``owner``'s own jobs
        only), and how many jobs wait (the app's queue and the farm's) over every user."""
        queued = sum(1 for job in self.jobs.jobs() if job.status == QUEUED)
        if self.farm is None:
            return {"enabled": False, "address": "", "output": "", "workers": [], "queued": queued}
        state = self.farm.state()
        with self._lock:
            mine = {job_id for job_id, who in self._farm_owners.items() if who == owner or not self.access.shared}

        def shown_job(worker: Any) -> str:
            return worker.job if worker.job_id in mine or not worker.job else "another user's shot"
        return {"enabled": True, "address": state.address, "output": state.output, "queued": queued + state.waiting,
                "workers": [{"index": w.index, "host": w.host, "pid": w.pid, "state": w.state, "model": w.model,
                             "job": shown_job(w), "done": w.done, "total": w.total, "message": w.message,
                             "restarts": w.restarts} for w in state.workers]}

    def close(self) -> None:
        self.jobs.close()
        if self.farm is not None:
            self.farm.close()
        for cleanup in self._on_close:
            cleanup()
