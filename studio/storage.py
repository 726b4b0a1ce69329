"""The project folder on disk: what users back up and share.

```
my-film/
  board.json      the board (schema_version; unknown fields survive load/save)
  keyframes/      uploaded images, renamed by content hash
  audio/          uploaded scratch tracks, renamed by content hash
  takes/          <shot id>/<take id>.mp4 + .json sidecar
  exports/        animatic.mp4, board.otio, board.edl, ...
  .backups/       the last BACKUPS_KEPT saved versions of board.json (for recover())
```

Guarantees: a save is atomic (temp file in the same folder, fsync, ``os.replace``), so a crash at
any instant leaves either the old or the new board.json, never a torn one; every path stored in
the board resolves inside the folder (no ``..``, absolute paths, URLs, or symlinks out); a bad
board.json raises a :class:`ProjectError` and nothing is half-loaded or overwritten.
Edits from several threads or processes go through :meth:`Project.update`, which holds an
advisory file lock for the whole load-modify-save, so concurrent jobs never drop each other's edits.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from studio import history
from studio.board import Board, BoardError, check_relative_path
from studio.common import atomic_write, shown, write_atomic
from studio.board_codec import board_from_dict, board_to_dict
from studio.migrations import MigrationError, migrate

if TYPE_CHECKING:
    from studio.images import DecodeLimiter

BOARD_FILE = "board.json"
BACKUP_DIR = ".backups"
LOCK_FILE = ".previz.lock"
STATE_DIR = ".previz"
"""The project's own bookkeeping (edit history); never copied into another project."""
BACKUPS_KEPT = 10
MAX_BOARD_BYTES = 20 * 1024 * 1024
"""A board of a thousand shots is well under 5 MB; anything past this is not a board."""
MAX_JSON_DEPTH = 64
MAX_BACKUP_BYTES = 3 * MAX_BOARD_BYTES
"""All backups together; the newest is always kept, older ones go when the total would pass this."""
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg")
MAX_AUDIO_BYTES = 200 * 1024 * 1024


class ProjectError(Exception):
    """The project folder or its board.json cannot be used; the message names the problem."""


class CorruptBoardError(ProjectError):
    """board.json is unreadable, not JSON, too large or not a board. See Project.recover()."""


class FutureSchemaError(ProjectError):
    """board.json was written by a newer version of the app."""


class InvalidBoardError(ProjectError):
    """board.json parses but a value is invalid; ``field`` names it."""

    def __init__(self, error: BoardError) -> None:
        super().__init__(f"board.json: {error}")
        self.field = error.field


class UnsafePathError(ProjectError):
    """A path in the project would leave the project folder."""


class Project:
    """One project folder. Holds no board in memory: the file on disk is the truth."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._loaded: tuple[tuple[int, int, int], Board] | None = None
        """The last board read, keyed by board.json's inode, mtime and size (boards are immutable)."""

    # -- creating and opening ------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, board: Board | None = None) -> "Project":
        """Make a new project folder (which must not exist yet, or be empty)."""
        root = Path(root)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(f"{root}: already exists and is not an empty folder")
        project = cls(root)
        for folder in (project.root, project.keyframes_dir, project.takes_dir, project.exports_dir,
                       project.audio_dir, project.backups_dir):
            folder.mkdir(parents=True, exist_ok=True)
        project.save(board or Board())
        return project

    @classmethod
    def open(cls, root: Path) -> "Project":
        """Open an existing project folder (checks it is one; load() reads the board)."""
        project = cls(root)
        if not project.board_path.is_file():
            raise ProjectError(f"{root}: not a Previz Studio project (no {BOARD_FILE})")
        return project

    def save_as(self, target: Path, include_exports: bool = False, template: bool = False) -> "Project":
        """Copy the whole project (board, keyframes, takes, audio) to a new folder and return it.

        Backups, locks, half-written files and symlinks are never copied (a link could point
        anywhere); exports only when asked, since they can be made again. A ``template`` (the
        bundled sample board) is copied without taking its lock, so nothing is ever written
        into it, and it may sit on a read-only disk.
        """
        target = Path(target)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise ProjectError(f"{target}: already exists and is not an empty folder")
        skipped = {BACKUP_DIR, LOCK_FILE, STATE_DIR} | (set() if include_exports else {"exports"})

        def ignore(folder: str, entries: list[str]) -> set[str]:
            return {entry for entry in entries
                    if entry in skipped or ".partial" in entry or os.path.islink(os.path.join(folder, entry))}

        with contextlib.nullcontext() if template else self.locked():
            shutil.copytree(self.root, target, ignore=ignore, dirs_exist_ok=True)
        copy = Project(target)
        for folder in (copy.keyframes_dir, copy.takes_dir, copy.exports_dir, copy.audio_dir):
            folder.mkdir(exist_ok=True)
        copy.load()  # the copy must load on its own (paths inside its folder)
        copy._backup(copy.board_path.read_bytes())  # its history starts with this version
        return copy

    # -- layout --------------------------------------------------------------------------
    @property
    def board_path(self) -> Path:
        return self.root / BOARD_FILE

    @property
    def keyframes_dir(self) -> Path:
        return self.root / "keyframes"

    @property
    def takes_dir(self) -> Path:
        return self.root / "takes"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def audio_dir(self) -> Path:
        return self.root / "audio"

    @property
    def backups_dir(self) -> Path:
        return self.root / BACKUP_DIR

    # -- reading -------------------------------------------------------------------------
    def load(self) -> Board:
        """Read, migrate and validate board.json; raises a ProjectError subclass if it can't."""
        return self._load_file(self.board_path)

    def _load_file(self, path: Path) -> Board:
        if path != self.board_path:
            return self._parse_file(path)
        try:
            info = path.stat()
        except OSError:
            return self._parse_file(path)  # which names the problem
        key = (info.st_ino, info.st_mtime_ns, info.st_size)  # os.replace gives a new inode
        cached = self._loaded
        if cached is not None and cached[0] == key:
            return cached[1]
        board = self._parse_file(path)
        self._loaded = (key, board)
        return board

    def _parse_file(self, path: Path) -> Board:
        data = read_board_json(path)
        try:
            board = board_from_dict(migrate(data))
        except MigrationError as error:
            if "newer Previz Studio" in str(error):
                raise FutureSchemaError(f"{path.name}: {error}") from None
            raise CorruptBoardError(f"{path.name}: {error}") from None
        except BoardError as error:
            raise InvalidBoardError(error) from None
        self.check_paths(board)
        return board

    def check_paths(self, board: Board) -> None:
        """Every file the board names must resolve inside the folder (symlinks included)."""
        for index, shot in enumerate(board.shots):
            for keyframe in shot.keyframes:
                self.resolve(keyframe.path, f"shots[{index}].keyframes")
            for panel in shot.panels:
                for path in (panel.flat, *(layer.path for layer in panel.layers)):
                    self.resolve(path, f"shots[{index}].panels")
            for take in shot.takes:
                self.resolve(take.path, f"shots[{index}].takes")
        if board.audio is not None:
            self.resolve(board.audio.path, "audio.path")
        for what, items in (("cast", board.cast), ("locations", board.locations)):
            for index, item in enumerate(items):
                for path in item.references:
                    self.resolve(path, f"{what}[{index}].references")

    def resolve(self, relative: str, field_path: str = "path") -> Path:
        """Absolute path of a project-relative path, refused if it would leave the folder."""
        try:
            check_relative_path(field_path, relative)
        except BoardError as error:
            raise UnsafePathError(str(error)) from None
        candidate = self.root / relative
        if self._plain_below_root(relative):
            return candidate
        if not candidate.resolve().is_relative_to(self.root.resolve()):
            raise UnsafePathError(f"{field_path}: {shown(relative)} resolves outside the project folder")
        return candidate

    def _plain_below_root(self, relative: str) -> bool:
        """Whether no part of ``relative`` (already free of '..') is a symlink, so the path is
        inside the folder without resolving it: one lstat per part below the root instead of
        a full realpath from /, which the wall pays for every take on every refresh."""
        path = str(self.root)
        for part in relative.split("/"):
            path = f"{path}/{part}"
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                return True  # nothing below a missing part exists, so nothing there can link out
            except OSError:
                return False  # let the full resolve decide and name the problem
            if stat.S_ISLNK(mode):
                return False
        return True

    def relative(self, path: Path) -> str:
        """The project-relative form of an absolute path inside the folder."""
        try:
            return Path(path).absolute().relative_to(self.root).as_posix()
        except ValueError:
            raise UnsafePathError(f"{path} is not inside the project folder {self.root}") from None

    # -- writing -------------------------------------------------------------------------
    def save(self, board: Board) -> None:
        """Atomically replace board.json; the last BACKUPS_KEPT saved versions stay in .backups/."""
        payload = encode_board(board_to_dict(board))  # refused here if the loader would refuse it
        self.check_paths(board)
        if self.board_path.exists() and self.board_path.read_bytes() == payload:
            return
        self._backup(payload)  # first: if the backup cannot be written, board.json is untouched
        with atomic_write(self.board_path, durable=True) as partial:
            partial.write_bytes(payload)
            info = partial.stat()  # the file's own key (a rename keeps inode and mtime)
        self._loaded = ((info.st_ino, info.st_mtime_ns, info.st_size), board)  # what load() would parse

    def update(self, edit: Callable[[Board], Board], *, actor: str = "", label: str = "",
               undoable: bool = True, kind: str = "edit", target: int | None = None) -> Board:
        """Load, apply ``edit``, save, under the project lock; returns the saved board.

        Use for every change, so two jobs finishing at once both land. A change bumps the
        board's revision and is logged in the project's history (what changed, by ``actor``),
        which the edit service reads for conflicts and undo; ``undoable`` is False for changes
        that are results rather than edits (a take landing).
        """
        with self.locked():
            board = self.load()
            changed = edit(board)
            if changed == board:
                return board
            changed = changed.replace(revision=board.revision + 1)
            delta = history.diff(board_to_dict(board), board_to_dict(changed))
            self.save(changed)
            dropped = self.history.append(history.Event(revision=changed.revision, actor=actor, label=label,
                                                        kind=kind, target=target, undoable=undoable, delta=delta))
            if dropped:
                self._purge_unreachable_takes(dropped, changed)
            return changed

    def _purge_unreachable_takes(self, dropped: list[history.Event], board: Board) -> None:
        """Delete the files of takes that only compacted-away events mention: a deleted take's
        files are kept while undo can bring it back, and not a moment longer."""
        reachable = {take.path for shot in board.shots for take in shot.takes}
        for event in self.history.events():
            reachable |= history.take_paths(event.delta)
        gone = set().union(*(history.take_paths(event.delta) for event in dropped)) - reachable
        for relative in gone:
            stem, _, _ = relative.rpartition(".")
            for path in (relative, f"{stem or relative}.json"):
                try:
                    self.resolve(path).unlink(missing_ok=True)
                except (ProjectError, OSError):
                    continue

    @functools.cached_property
    def history(self) -> history.HistoryLog:
        """The edit log kept with the project (not copied by save_as, pack or unpack)."""
        return history.HistoryLog(self.root / STATE_DIR)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive advisory lock on the project (between threads and processes alike)."""
        with open(self.root / LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _backup(self, content: bytes) -> None:
        self.backups_dir.mkdir(exist_ok=True)
        now = time.time_ns()  # one reading: a stamp and a fraction from two readings can straddle a second
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
        name = f"board-{stamp}-{now % 10**9:09d}.json"
        write_atomic(self.backups_dir / name, content)
        for old in backups_to_drop(self.backups()):
            old.unlink(missing_ok=True)

    def backups(self) -> list[Path]:
        """Backup files, newest first."""
        if not self.backups_dir.is_dir():
            return []
        return sorted(self.backups_dir.glob("board-*.json"), key=lambda p: p.name, reverse=True)

    def recover(self) -> tuple[Board, Path]:
        """Restore the newest backup that loads; the bad board.json is kept beside it.

        Returns the recovered board and the backup it came from.
        """
        with self.locked():
            for backup in self.backups():
                try:
                    board = self._load_file(backup)
                except ProjectError:
                    continue
                if self.board_path.exists():
                    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
                    os.replace(self.board_path, self.root / f"{BOARD_FILE}.broken-{stamp}")
                # revisions never go backwards: edits based on a later revision must not pass
                newest = max([board.revision, *(event.revision for event in self.history.events()[-1:])])
                board = board.replace(revision=newest + 1)
                self.save(board)
                return board, backup
        raise ProjectError(f"{self.root}: no backup of {BOARD_FILE} could be loaded")

    def import_keyframe(self, data: bytes, suffix_hint: str = "", limiter: DecodeLimiter | None = None) -> str:
        """Validate an uploaded image and store it as keyframes/<hash>.png; returns that path.

        The image is decoded (bombs, truncated and non-image files refused) and re-encoded as
        PNG, so nothing but pixels from the upload ever lands in the project. An image larger
        than images.MAX_SIDE is reduced while decoding (its memory stays bounded).
        """
        from studio.images import load_rgb  # local: keeps Pillow out of plain board loading
        from PIL import Image

        pixels = load_rgb(data, limiter=limiter)  # the server's bound on decodes at once
        digest = hashlib.sha256(data).hexdigest()[:32]
        self.keyframes_dir.mkdir(exist_ok=True)
        target = self.resolve(f"keyframes/{digest}.png", "keyframe")  # keyframes/ may be a symlink out
        if not target.exists():
            with atomic_write(target) as partial:
                Image.fromarray(pixels).save(partial, format="PNG")
        return self.relative(target)

    def import_audio(self, source: Path) -> str:
        """Validate a scratch track and store it as audio/<hash><suffix>; returns that path.

        Refused: unknown suffixes, empty or oversized files, anything PyAV cannot decode as audio.
        """
        from studio.media import MediaError, probe_audio  # local: PyAV only when audio arrives

        source = Path(source)
        suffix = source.suffix.lower()
        if suffix not in AUDIO_SUFFIXES:
            raise ProjectError(f"{source.name}: not an audio file; use {', '.join(AUDIO_SUFFIXES)}")
        size = source.stat().st_size
        if not 0 < size <= MAX_AUDIO_BYTES:
            raise ProjectError(f"{source.name}: {size} bytes; audio must be 1 byte to {MAX_AUDIO_BYTES // 2**20} MB")
        try:
            probe_audio(source)
        except MediaError as error:
            raise ProjectError(str(error)) from None
        data = source.read_bytes()
        target = self.resolve(f"audio/{hashlib.sha256(data).hexdigest()[:32]}{suffix}", "audio")
        if not target.exists():
            self.audio_dir.mkdir(exist_ok=True)
            write_atomic(target, data)
        return self.relative(target)


    def sweep_partials(self) -> list[Path]:
        """Delete the half-written files (``*.partial*``) that a killed process left behind.

        The server calls this when it opens a project: without it every crash during a render or
        an export leaves its temp file for good. A file whose writer is still alive (its process
        id is part of every temp name) is kept, so a render running elsewhere is never broken.
        Returns the files removed; symlinks are never followed.
        """
        removed: list[Path] = []
        for folder in (self.root, self.takes_dir, self.exports_dir, self.keyframes_dir, self.audio_dir,
                       self.backups_dir, self.root / STATE_DIR):
            if folder.is_symlink() or not folder.is_dir():
                continue
            walk = os.walk(folder) if folder != self.root else [(str(folder), [], os.listdir(folder))]
            for where, _, names in walk:
                for name in names:
                    path = Path(where) / name
                    if ".partial" in name and not path.is_symlink() and path.is_file() \
                            and not _partial_writer_alive(name):
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
                            removed.append(path)
        return removed


def read_board_json(path: Path) -> dict[str, Any]:
    """Parse a board file defensively: size cap, UTF-8, JSON object, bounded nesting."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise CorruptBoardError(f"{path.name}: cannot be read ({error.strerror})") from None
    if size > MAX_BOARD_BYTES:
        raise CorruptBoardError(
            f"{path.name}: {size / 2**20:.0f} MB is larger than the {MAX_BOARD_BYTES // 2**20} MB "
            "a board may be; it is not a board file"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptBoardError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorruptBoardError(f"{path.name}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise CorruptBoardError(f"{path.name}: nested too deeply to be a board") from None
    except ValueError as error:  # e.g. a number of more than 4300 digits (int parsing limit)
        raise CorruptBoardError(f"{path.name}: not a usable JSON value ({str(error)[:120]})") from None
    if not isinstance(data, dict):
        raise CorruptBoardError(f"{path.name}: must hold a JSON object, got {type(data).__name__}")
    if _depth(data) > MAX_JSON_DEPTH:
        raise CorruptBoardError(f"{path.name}: nested more than {MAX_JSON_DEPTH} levels deep")
    return data


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar inside a top-level object is at depth 2),
    iteratively so a hostile file cannot blow the stack; only containers are visited."""
    deepest, stack = 1, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            deepest = max(deepest, depth + 1)
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return deepest


class BoardTooLarge(ProjectError):
    """A save would write a board.json the loader refuses; nothing was written. ``limit`` names
    the limit (MAX_BOARD_BYTES or MAX_JSON_DEPTH), checked with the loader's own number."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class UnsavableTextError(ProjectError):
    """A text holds a character UTF-8 cannot store (a lone surrogate from a broken paste);
    ``field`` names where, e.g. ``shots[2].prompt``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def board_json(data: dict[str, Any]) -> str:
    """board.json's text: one line per board setting and one per shot, so a version-control diff
    shows which shot changed, written by the C JSON encoder (an indented dump of a large board
    is several times slower, and every edit writes the file)."""
    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    lines = []
    for key, value in data.items():
        if key == "shots" and isinstance(value, list) and value:
            shots = ",\n".join(f"    {compact(shot)}" for shot in value)
            lines.append(f'  {compact(key)}: [\n{shots}\n  ]')
        else:
            lines.append(f"  {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def encode_board(data: dict[str, Any]) -> bytes:
    """board.json's bytes, refused before anything is written when the loader would refuse them
    (so a valid edit can never make a project unloadable)."""
    text = board_json(data)
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError as error:
        field = _surrogate_field(data)
        raise UnsavableTextError(field, (
            f"{field}: contains a character that cannot be saved (U+{ord(error.object[error.start]):04X}, "
            "half of a UTF-16 pair, usually from a broken copy and paste); retype or remove it")) from None
    if len(payload) > MAX_BOARD_BYTES:
        raise BoardTooLarge(
            f"board.json would be {len(payload) / 2**20:.1f} MB, more than the {MAX_BOARD_BYTES // 2**20} MB "
            "a board may be (MAX_BOARD_BYTES); the change was not saved. Shorten notes or prompts, or "
            "split the board into several projects", "MAX_BOARD_BYTES")
    if _depth(data) > MAX_JSON_DEPTH:
        raise BoardTooLarge(f"board.json would be nested more than {MAX_JSON_DEPTH} levels deep "
                            "(MAX_JSON_DEPTH); the change was not saved", "MAX_JSON_DEPTH")
    return payload


def _surrogate_field(data: Any) -> str:
    """Where the first unencodable string is, as a field path (``shots[2].prompt``)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
                return where or "board"
        elif isinstance(value, dict):
            for key, child in reversed(list(value.items())):
                name = f"{where}.{key}" if where else str(key)
                if any(0xD800 <= ord(char) <= 0xDFFF for char in str(key)):
                    return f"{where or 'board'} (a field name)"
                stack.append((child, name))
        elif isinstance(value, list):
            stack.extend((child, f"{where}[{index}]") for index, child in reversed(list(enumerate(value))))
    return "a text field"


def backups_to_drop(backups: list[Path]) -> list[Path]:
    """Of the backups (newest first), those beyond BACKUPS_KEPT or MAX_BACKUP_BYTES in total;
    the newest is always kept, whatever its size."""
    total, drop = 0, []
    for index, backup in enumerate(backups):
        try:
            size = backup.stat().st_size
        except OSError:
            continue
        total += size
        if index > 0 and (index >= BACKUPS_KEPT or total > MAX_BACKUP_BYTES):
            drop.append(backup)
    return drop


def _partial_writer_alive(name: str) -> bool:
    """Whether a temp file's writer still runs: any number in its name that could be a process
    id (every writer puts os.getpid() there) naming a live process. Unknown names count as dead."""
    for part in name.split(".partial")[0].split("."):
        if part.isdigit() and 0 < int(part) < 2**22:
            try:
                os.kill(int(part), 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                return True  # alive, owned by someone else
            except OverflowError:
                continue
            return True
    return False
