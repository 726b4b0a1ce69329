"""Who may open which project: project ids, owners, shares and recent lists, in one place.

Why: a server a team shares must never let a client name a folder on the server. Here every
project in the workspace has an id the server gave it (``p`` and 16 hex digits); clients name
projects only by id, each project has an owner, and the owner shares it with other users as a
**viewer** (sees the board, its pictures and takes) or an **editor** (also edits, renders,
exports, undoes). The UI and the HTTP API call :meth:`Access.resolve` for every action, with
the right they need; nothing else decides.

Two modes, chosen by the server:

- **shared** (a login is configured, which listening beyond loopback requires): folder paths
  from clients are refused; a user lists and opens only their own and shared projects; another
  user's project id is answered exactly like an id that never existed, so ids cannot be probed.
- **local** (one person on 127.0.0.1, no login): that person owns the whole workspace and may
  still open any folder they choose; a folder opened by path is registered and gets an id.

Identity (:class:`Who`): rights follow the login; jobs, undo history follow the login too, and
the browser session only when there is no login (:func:`studio.services.jobs.job_owner`).

The registry is ``<workspace>/workspace.json`` (written atomically; one server per workspace,
which the job queue's state lock in the same folder guarantees): project id -> folder, owner,
shares, and each user's recent projects.
"""

from __future__ import annotations

import collections
import copy
import json
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from studio.board import Board
from studio.common import shown, write_atomic
from studio.services.jobs import job_owner
from studio.services.workspace import Workspace, slug
from studio.storage import Project, ProjectError

REGISTRY_FILE = "workspace.json"
REGISTRY_VERSION = 1
LOCAL_USER = "local"
"""Who owns projects when there is no login: the person running the app on their computer."""
VIEWER, EDITOR, OWNER = "viewer", "editor", "owner"
SHARE_ROLES = (VIEWER, EDITOR)
NO_ACCESS = "none"
"""The role that takes a share away."""
RANK = {VIEWER: 1, EDITOR: 2, OWNER: 3}
PROJECT_ID = re.compile(r"p[0-9a-f]{16}")
RECENT_KEPT = 12
PROJECTS_KEPT = 64
"""Project objects kept open for reuse (each holds at most one parsed board)."""
MAX_USER_CHARS = 200


class AccessDenied(ProjectError):
    """This user may not do that with that project (or no such project is theirs to see)."""


@dataclass(frozen=True)
class Who:
    """Who is asking: ``user`` for rights and recent lists, ``actor`` for jobs and undo."""

    user: str
    actor: str

    @property
    def name(self) -> str:
        """The login as people read it ("local" without one)."""
        return display(self.user)


def display(user: str) -> str:
    return user.removeprefix("user:")


@dataclass(frozen=True)
class Opened:
    """A project this user may use, with the id clients name it by and this user's role."""

    id: str
    project: Project
    role: str

    @property
    def can_edit(self) -> bool:
        return RANK[self.role] >= RANK[EDITOR]


@dataclass(frozen=True)
class ProjectInfo:
    """One row of a user's project list: what the picker and ``/list_projects`` show."""

    id: str
    title: str
    owner: str
    role: str
    shares: tuple[tuple[str, str], ...]
    """(user, role) pairs; shown to the owner only (empty for others)."""
    recent: bool

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "owner": self.owner, "role": self.role,
                "shared_with": {user: role for user, role in self.shares}}


class Access:
    """The rights of every user over every project of one workspace."""

    def __init__(self, workspace: Workspace, *, shared: bool = False, users: Iterable[str] = ()) -> None:
        self.workspace = workspace
        self.shared = shared
        self.users = frozenset(users)
        """The logins this server knows (sharing names one of them)."""
        self._lock = threading.RLock()
        self._swept: set[Path] = set()
        self._opened: collections.OrderedDict[Path, Project] = collections.OrderedDict()
        """One Project object per folder, reused across requests: a board a request just saved
        is then read back from memory by the next one instead of parsed again."""
        self._data = self._read()

    @property
    def registry_path(self) -> Path:
        return self.workspace.home / REGISTRY_FILE

    # -- identity --------------------------------------------------------------------------
    def who(self, login: str | None, session: str | None) -> Who:
        """The identity of a request: its login, else (local app only) its session."""
        if self.shared and not login:
            raise AccessDenied("this server needs a login: sign in first")
        return Who(user=f"user:{login}" if login else LOCAL_USER, actor=job_owner(login, session))

    # -- resolving a client's project reference --------------------------------------------
    def resolve(self, ref: Any, who: Who, need: str = VIEWER) -> Opened:
        """The project ``ref`` names, if ``who`` has at least the ``need`` right on it.

        Shared server: ``ref`` must be a project id. Local app: a folder path is accepted too
        (and registered). Refusals name the problem but never tell another user's project from
        one that does not exist.
        """
        if not isinstance(ref, str) or not ref.strip():
            raise AccessDenied("project: no project is open (send a project id from list_projects)")
        ref = ref.strip()
        if PROJECT_ID.fullmatch(ref):
            with self._lock:
                entry = self._data["projects"].get(ref)
            role = self._role(entry, who) if entry is not None else None
            if entry is None or role is None:
                raise AccessDenied(f"project: no project {shown(ref)} that you can open")
            project = self._project(ref, entry)
        elif self.shared:
            raise AccessDenied(f"project: {shown(ref)} is not a project id; this server names projects by "
                               "id (see list_projects), never by a folder path")
        else:
            project = self._open(Path(ref).expanduser())
            ref, role = self.adopt(project, LOCAL_USER), OWNER
        if RANK[role] < RANK[need]:
            entry = self._data["projects"][ref]
            raise AccessDenied(f"project {self._title(project)!r} is shared with you as a viewer by "
                               f"{display(entry['owner'])}: you cannot change it; ask them for editor rights")
        self._sweep_once(project)
        return Opened(ref, project, role)

    def open(self, ref: Any, who: Who, need: str = VIEWER) -> Opened:
        """:meth:`resolve`, loading the board once (a broken board is refused here, not
        half-opened) and putting the project first in the user's recent list."""
        opened = self.resolve(ref, who, need)
        opened.project.load()
        self.remember(who, opened.id)
        return opened

    def can(self, folder: Path | str, who: Who, need: str = VIEWER) -> bool:
        """Whether ``who`` has ``need`` on the registered project in ``folder``."""
        project_id = self.id_of(folder)
        if project_id is None:
            return not self.shared
        entry = self._data["projects"].get(project_id)
        role = self._role(entry, who) if entry is not None else None
        return role is not None and RANK[role] >= RANK[need]

    def id_of(self, folder: Path | str) -> str | None:
        """The id of the registered project in ``folder`` (None when it is not registered)."""
        wanted = _key(Path(folder))
        with self._lock:
            return next((pid for pid, entry in self._data["projects"].items() if entry["folder"] == wanted), None)

    def folder(self, project_id: str) -> Path | None:
        """Where a registered project lives (for the person running the server: tests, the CLI)."""
        with self._lock:
            entry = self._data["projects"].get(project_id)
        return Path(entry["folder"]) if entry is not None else None

    # -- listing and remembering -----------------------------------------------------------
    def projects(self, who: Who) -> list[ProjectInfo]:
        """The user's own and shared projects: recent ones first, then the rest by title."""
        with self._lock:
            entries = copy.deepcopy(self._data["projects"])
            recent = list(self._data["recent"].get(who.user, []))
        rows = []
        for project_id, entry in entries.items():
            role = self._role(entry, who)
            if role is None or not (Path(entry["folder"]) / "board.json").is_file():
                continue
            shares = tuple(sorted((display(u), r) for u, r in entry["shares"].items())) if role == OWNER else ()
            rows.append(ProjectInfo(project_id, self._title(Project(Path(entry["folder"]))), display(entry["owner"]),
                                    role, shares, project_id in recent))
        order = {project_id: index for index, project_id in enumerate(recent)}
        return sorted(rows, key=lambda row: (order.get(row.id, len(order)), row.title.lower(), row.id))

    def recent(self, who: Who) -> list[str]:
        """Ids of the projects this user opened last (only those they may still open)."""
        return [row.id for row in self.projects(who) if row.recent]

    def remember(self, who: Who, project_id: str) -> None:
        with self._lock:
            items = [project_id] + [p for p in self._data["recent"].get(who.user, []) if p != project_id]
            self._data["recent"][who.user] = items[:RECENT_KEPT]
            self._save()

    # -- making projects -------------------------------------------------------------------
    def create(self, who: Who, name: str, board: Board | None = None) -> Opened:
        """A new project owned by ``who`` in the workspace's projects folder.

        A title the user already has is refused (not silently made "name-2" with the same title);
        other users' titles do not matter and are never told."""
        title = name.strip() or "Untitled board"
        if any(row.title.lower() == title.lower() and row.role == OWNER for row in self.projects(who)):
            raise ProjectError(f"a project named {shown(title)} already exists in your projects; choose "
                               "another name, or open it from Recent projects")
        if not self.shared and (self.workspace.projects_dir / slug(title)).exists():
            raise ProjectError(f"a project named {shown(title)} already exists ({slug(title)}); choose "
                               "another name, or open it from Recent projects")
        project = Project.create(self.workspace.free_folder(slug(title)), board or Board(title=title))
        return self._own(project, who)

    def copy(self, who: Who, ref: Any, name: str) -> Opened:
        """Save-as: a whole copy of a project this user may view, owned by them."""
        source = self.resolve(ref, who, VIEWER)
        copied = source.project.save_as(self.workspace.free_folder(slug(name or "copy")))
        if name.strip():
            copied.update(lambda board: board.replace(title=name.strip()))
        return self._own(copied, who)

    def first_project(self, who: Who) -> Opened:
        """The user's own copy of the sample board (a blank board when there is no sample)."""
        sample = self.workspace.sample
        if sample is not None and (sample / "board.json").is_file():
            project = Project.open(sample).save_as(self.workspace.free_folder(sample.name), template=True)
            return self._own(project, who)
        return self.create(who, f"{who.name}'s first board" if self.shared else "My first board")

    def start(self, who: Who, remembered: Any = None, fallback: Project | None = None) -> Opened:
        """What a new tab opens: the project it had open (if still allowed), else the user's most
        recent one, else (local app) the start project, else their own copy of the sample."""
        candidates = [remembered] if isinstance(remembered, str) and PROJECT_ID.fullmatch(remembered) else []
        candidates += self.recent(who)
        if fallback is not None and not self.shared:
            candidates.append(self.adopt(fallback, LOCAL_USER))
        candidates += [row.id for row in self.projects(who)]
        for ref in candidates:
            try:
                return self.open(ref, who)
            except ProjectError:
                continue
        return self.first_project(who)

    def adopt(self, project: Project, owner: str) -> str:
        """Register a folder chosen by the person running the server; its id (existing or new)."""
        existing = self.id_of(project.root)
        if existing is not None:
            return existing
        with self._lock:
            project_id = self._new_id()
            self._data["projects"][project_id] = {"folder": _key(project.root), "owner": owner, "shares": {}}
            self._save()
            return project_id

    # -- sharing ---------------------------------------------------------------------------
    def share(self, who: Who, ref: Any, user: Any, role: Any) -> ProjectInfo:
        """The owner gives ``user`` the ``role`` (viewer, editor) on a project, or "none" to take
        it away. Only the owner may; only users this server knows can be named."""
        opened = self.resolve(ref, who, VIEWER)
        if opened.role != OWNER:
            raise AccessDenied(f"project {self._title(opened.project)!r}: only its owner can share it")
        if role not in (*SHARE_ROLES, NO_ACCESS):
            raise AccessDenied(f"role: must be one of {', '.join((*SHARE_ROLES, NO_ACCESS))}, got {shown(role)}")
        if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_CHARS:
            raise AccessDenied(f"user: name one of this server's logins, got {shown(user)}")
        name = user.strip()
        if not self.shared:
            raise AccessDenied("sharing needs logins: start the server with --auth or --auth-file")
        if name not in self.users:
            raise AccessDenied(f"user: there is no login {shown(name)} on this server")
        target = f"user:{name}"
        with self._lock:
            entry = self._data["projects"][opened.id]
            if target == entry["owner"]:
                raise AccessDenied(f"user: {shown(name)} owns this project already")
            if role == NO_ACCESS:
                entry["shares"].pop(target, None)
            else:
                entry["shares"][target] = role
            self._save()
        return next(row for row in self.projects(who) if row.id == opened.id)

    # -- internals -------------------------------------------------------------------------
    def _role(self, entry: dict[str, Any], who: Who) -> str | None:
        if not self.shared or entry["owner"] == who.user:
            return OWNER
        return entry["shares"].get(who.user)

    def _own(self, project: Project, who: Who) -> Opened:
        with self._lock:
            project_id = self._new_id()
            self._data["projects"][project_id] = {"folder": _key(project.root), "owner": who.user, "shares": {}}
            self._save()
        self.remember(who, project_id)
        return Opened(project_id, project, OWNER)

    def _project(self, project_id: str, entry: dict[str, Any]) -> Project:
        try:
            return self._open(Path(entry["folder"]))
        except ProjectError:
            raise ProjectError(f"project {project_id}: its folder is no longer on the server "
                               "(moved or deleted)") from None

    def _open(self, folder: Path) -> Project:
        """``Project.open(folder)``, the same object while the folder is still a project."""
        key = folder.absolute()
        with self._lock:
            project = self._opened.get(key)
            if project is not None and project.board_path.is_file():
                self._opened.move_to_end(key)
                return project
        project = Project.open(key)
        with self._lock:
            self._opened[key] = project
            while len(self._opened) > PROJECTS_KEPT:
                self._opened.popitem(last=False)
        return project

    def _sweep_once(self, project: Project) -> None:
        """Half-written files a killed server left are removed the first time a project is used."""
        with self._lock:
            if project.root in self._swept:
                return
            self._swept.add(project.root)
        project.sweep_partials()

    @staticmethod
    def _title(project: Project) -> str:
        try:
            title = json.loads(project.board_path.read_text(encoding="utf-8")).get("title")
        except (OSError, ValueError, AttributeError):
            title = None
        return title.strip() if isinstance(title, str) and title.strip() else project.root.name

    def _new_id(self) -> str:
        while True:
            project_id = f"p{secrets.token_hex(8)}"
            if project_id not in self._data["projects"]:
                return project_id

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.registry_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as error:
            raise ProjectError(f"{self.registry_path}: the workspace's project list is unreadable "
                               f"({error}); fix or remove it") from None
        if not isinstance(data, dict):
            data = {}
        projects = {pid: {"folder": str(e["folder"]), "owner": str(e["owner"]),
                          "shares": {str(u): r for u, r in dict(e.get("shares") or {}).items() if r in SHARE_ROLES}}
                    for pid, e in dict(data.get("projects") or {}).items()
                    if PROJECT_ID.fullmatch(str(pid)) and isinstance(e, dict) and "folder" in e and "owner" in e}
        recent = {str(u): [p for p in items if p in projects]
                  for u, items in dict(data.get("recent") or {}).items() if isinstance(items, list)}
        return {"version": REGISTRY_VERSION, "projects": projects, "recent": recent}

    def _save(self) -> None:
        self.workspace.home.mkdir(parents=True, exist_ok=True)
        write_atomic(self.registry_path, json.dumps(self._data, indent=1, sort_keys=True).encode())


def _key(folder: Path) -> str:
    """How a folder is stored and compared: absolute, symlinks resolved."""
    return str(Path(folder).expanduser().resolve())
