"""The user's own folder: where new projects go and which ones were opened last.

Why not the current directory: the sample board ships inside the repository and must never be
modified by the app, so on first start it is *copied* into ``<home>/projects/`` and the copy is
opened. ``<home>`` is ``$PREVIZ_HOME`` when set (tests point it at a temp folder), else
``$XDG_DATA_HOME/previz-studio`` or ``~/.local/share/previz-studio``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from studio.board import Board
from studio.common import write_atomic
from studio.storage import Project, ProjectError

RECENT_FILE = "recent.json"
RECENT_KEPT = 12
SAMPLE_BOARD = Path(__file__).resolve().parents[2] / "assets" / "sample-board"
_SLUG = re.compile(r"[^a-z0-9]+")


def default_home() -> Path:
    if os.environ.get("PREVIZ_HOME"):
        return Path(os.environ["PREVIZ_HOME"]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "previz-studio"


def slug(name: str) -> str:
    """A folder name from a project name: "My Film!" -> "my-film"."""
    text = _SLUG.sub("-", name.strip().lower()).strip("-")[:48]
    return text or "untitled"


class Workspace:
    """Projects folder plus the recent-projects list (a small JSON file, written atomically)."""

    def __init__(self, home: Path | None = None, sample: Path | None = SAMPLE_BOARD) -> None:
        self.home = Path(home or default_home()).absolute()
        self.sample = sample
        self._lock = threading.Lock()

    @property
    def projects_dir(self) -> Path:
        return self.home / "projects"

    # -- recent projects -----------------------------------------------------------------
    def recent(self) -> list[str]:
        """Project folders opened most recently first (only those that still exist)."""
        try:
            data = json.loads((self.home / RECENT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        items = data.get("recent", []) if isinstance(data, dict) else []
        return [p for p in items if isinstance(p, str) and (Path(p) / "board.json").is_file()]

    def remember(self, project: Project) -> None:
        with self._lock:
            root = str(project.root)
            items = [root] + [p for p in self.recent() if p != root]
            self.home.mkdir(parents=True, exist_ok=True)
            payload = json.dumps({"recent": items[:RECENT_KEPT]}, indent=2).encode()
            write_atomic(self.home / RECENT_FILE, payload)

    def label(self, folder: str) -> str:
        """How a recent project is listed: its board title and folder name, not a bare path."""
        try:
            title = json.loads((Path(folder) / "board.json").read_text(encoding="utf-8")).get("title")
        except (OSError, ValueError, AttributeError):
            title = None
        name = Path(folder).name
        return f"{title} ({name})" if isinstance(title, str) and title.strip() else name

    # -- opening and creating ------------------------------------------------------------
    def open(self, folder: str | Path) -> Project:
        """Open an existing project and put it first in the recent list.

        Loads the board once, so a folder whose board.json is broken is refused here rather
        than half-opened.
        """
        project = Project.open(Path(folder).expanduser())
        project.load()
        self.remember(project)
        return project

    def startup_project(self, requested: str | Path | None = None) -> Project:
        """``--project`` if given (created when missing), else the last project, else the sample."""
        if requested is not None:
            folder = Path(requested).expanduser()
            if not (folder / "board.json").exists():
                project = Project.create(folder)
                self.remember(project)
                return project
            return self.open(folder)
        for folder in self.recent():
            try:
                return self.open(folder)
            except ProjectError:
                continue
        return self.first_project()

    def first_project(self) -> Project:
        """A copy of the sample board (or a blank board when the sample is absent)."""
        if self.sample is not None and (self.sample / "board.json").is_file():
            copy = Project.open(self.sample).save_as(self.free_folder(self.sample.name), template=True)
            return self.open(copy.root)
        return self.new("My first board")

    def new(self, name: str, board: Board | None = None) -> Project:
        """A new project folder under the projects folder, named after ``name``.

        A name already taken is refused (not silently made "name-2" with the same title)."""
        folder = self.projects_dir / slug(name)
        if folder.exists():
            raise ProjectError(f"a project named {name.strip()!r} already exists ({folder.name}); "
                               "choose another name, or open it from Recent projects")
        board = board or Board(title=name.strip() or "Untitled board")
        project = Project.create(self.free_folder(slug(name)), board)
        self.remember(project)
        return project

    def save_as(self, project: Project, name: str) -> Project:
        """Copy a whole project (takes and keyframes included) to a new folder and open it."""
        copy = project.save_as(self.free_folder(slug(name)))
        if name.strip():
            copy.update(lambda board: board.replace(title=name.strip()))
        self.remember(copy)
        return copy

    def free_folder(self, name: str) -> Path:
        """A folder under the projects folder named ``name``, or ``name-2``, ``name-3``... if taken."""
        self.projects_dir.mkdir(parents=True, exist_ok=True)
        candidate, number = self.projects_dir / name, 2
        while candidate.exists():
            candidate, number = self.projects_dir / f"{name}-{number}", number + 1
        return candidate
