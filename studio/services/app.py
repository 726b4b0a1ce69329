"""Everything one running app shares between its sessions: queue, backends, workspace, copies.

One :class:`Studio` per app (made by server.py, never at module level), so two apps in one
process (tests) never share a queue or a loaded model. Sessions hold only a project path and a
session key; the project folder on disk is the truth, read through :meth:`Studio.board`.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from studio.backends import BackendCache
from studio.board import Board
from studio.services.jobs import JobQueue, JobView
from studio.storage import Project, ProjectError
from studio.ui.serving import MediaCache
from studio.services.workspace import Workspace

BOARD_CACHE_KEPT = 32
TEXT_TO_VIDEO_FREE = frozenset({"animatic"})
"""Backends that make a shot without a prompt (the animatic draws keyframes or a slate)."""


class Studio:
    """The app-wide services behind the UI and the HTTP API."""

    def __init__(self, workspace: Workspace, *, backend: str | None = None,
                 device: str | None = None, backends: BackendCache | None = None,
                 jobs: JobQueue | None = None) -> None:
        self.workspace = workspace
        self.backend_override = backend
        self.backends = backends or BackendCache(**({"device": device} if device else {}))
        self.jobs = jobs or JobQueue()
        self.media = MediaCache()
        self._boards: OrderedDict[Path, tuple[tuple[int, int], Board]] = OrderedDict()
        self._lock = threading.Lock()

    # -- projects ------------------------------------------------------------------------
    def project(self, root: str | Path) -> Project:
        """An existing project folder, or a ProjectError saying why not."""
        if not root:
            raise ProjectError("no project is open")
        return Project.open(Path(root))

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

    # -- generation ----------------------------------------------------------------------
    def check_renderable(self, board: Board, shot_id: str) -> None:
        """Refuse early what the backend would refuse after a wait in the queue."""
        shot = board.shot(shot_id)
        backend = self.backend_override or board.backend_for(shot)
        if backend not in TEXT_TO_VIDEO_FREE and not shot.keyframes and not shot.prompt.strip():
            from studio.services.fields import FieldError

            raise FieldError("prompt", f"the {backend} backend makes a shot from text: write a prompt "
                                       "or upload a first keyframe")

    def submit_render(self, session: str, project: Project, shot_id: str, *, seed: int | None = None,
                      group: str | None = None, label: str = "") -> JobView:
        """Queue one take of one shot on the shared lane."""
        self.check_renderable(self.board(project), shot_id)

        def run(progress, cancel):
            from studio.services.render import render_shot

            return render_shot(project, shot_id, backend=self.backend_override, seed=seed,
                               progress=progress, cancel=cancel, backends=self.backends)

        return self.jobs.submit(session, run, kind="render", label=label or shot_id,
                                shot_id=shot_id, project=str(project.root), group=group)

    def submit_board(self, session: str, project: Project, *, only_missing: bool = True) -> list[JobView]:
        """One job per shot, in board order, so other sessions' shots interleave fairly."""
        board = self.board(project)
        todo = [s for s in board.shots if not (only_missing and s.chosen_take)]
        for shot in todo:
            self.check_renderable(board, shot.id)
        group = f"board-{uuid.uuid4().hex[:8]}"
        return [self.submit_render(session, project, shot.id, group=group,
                                   label=f"shot {board.index_of(shot.id) + 1}: {shot.title or shot.id}")
                for shot in todo]

    # -- export --------------------------------------------------------------------------
    def export(self, project: Project, fmt: str, options: dict[str, Any] | None = None,
               warn: Callable[[str], None] | None = None) -> Path:
        """One export file in the project's exports folder (the export service names it);
        ``warn`` hears what the export adjusted (takes conformed, slates shown)."""
        from studio.services.export import ExportOptions, export_board

        return Path(export_board(project, fmt, None, ExportOptions(**(options or {})), warn=warn))

    def close(self) -> None:
        self.jobs.close()
        self.media.close()
