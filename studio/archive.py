"""A project as one .zip file, to send to someone or keep: pack, and a safe unpack.

An archive comes from someone else, so unpacking trusts nothing in it: every entry must be a
plain file or folder whose name stays inside the target folder (no absolute names, no ``..``,
no backslashes or drive letters, no symlinks), the archive may hold at most MAX_ENTRIES entries
and MAX_UNPACKED_BYTES once unpacked (sizes are checked as bytes arrive, not trusted from the
header: a zip bomb stops at the cap), and the result must load as a project. Anything refused
leaves no folder behind.

Only the project itself travels: board.json and the keyframes/, audio/, takes/ and exports/
folders. Backups, the edit history, locks, caches, half-written files and any other hidden entry
are never packed and never unpacked (an archive must not be able to plant a "backup" that
``studio recover`` would later restore over the user's work); unpack says what it skipped.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

from studio.storage import BOARD_FILE, Project, ProjectError
from studio.common import atomic_write, shown

MAX_ENTRIES = 20_000
MAX_UNPACKED_BYTES = 20 * 1024**3
CHUNK = 1024 * 1024
PROJECT_FOLDERS: tuple[str, ...] = ("keyframes", "audio", "takes", "exports")
"""The folders an archive carries, besides board.json; everything else stays with its machine."""
SKIPPED_SHOWN = 5


class ArchiveError(ProjectError):
    """An archive cannot be packed or unpacked; the message names the entry and the problem."""


def pack(project: Project, archive: Path, include_exports: bool = False) -> Path:
    """Write the project (board, keyframes, takes, audio) to ``archive`` atomically."""
    archive = Path(archive)
    try:
        with (atomic_write(archive) as partial, project.locked(),
              zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle):
            for path in sorted(project.root.rglob("*")):
                relative = path.relative_to(project.root)
                if (not is_project_entry(relative.as_posix()) or not path.is_file()
                        or (relative.parts[0] == "exports" and not include_exports)
                        or any(project.root.joinpath(*relative.parts[:depth]).is_symlink()
                               for depth in range(1, len(relative.parts) + 1))):
                    continue  # a link could point anywhere: never packed, folder or file
                if path.suffix == ".mp4":  # already compressed: store, do not deflate again
                    bundle.write(path, relative.as_posix(), compress_type=zipfile.ZIP_STORED)
                else:
                    bundle.write(path, relative.as_posix())
    except OSError as error:
        raise ArchiveError(f"{archive}: cannot write the archive ({error.strerror or error})") from None
    return archive


def unpack(archive: Path, target: Path, warn: Callable[[str], None] | None = None) -> Project:
    """Unpack an archive made by :func:`pack` (or by hand) into the new folder ``target``.

    Entries that are not part of a project (see :func:`is_project_entry`) are skipped, and
    ``warn`` hears which; entries that would leave the folder refuse the whole archive.
    """
    archive, target = Path(archive), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(f"{target}: already exists and is not an empty folder")
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise ArchiveError(f"{archive.name}: not a zip archive ({error})") from None
    created = not target.exists()
    try:
        with bundle:
            members = bundle.infolist()
            if len(members) > MAX_ENTRIES:
                raise ArchiveError(f"{archive.name}: {len(members)} entries is more than the {MAX_ENTRIES} a project may have")
            names = [_safe_name(archive, member) for member in members]
            skipped = [name for name in names if not is_project_entry(name)]
            if BOARD_FILE not in names:
                raise ArchiveError(f"{archive.name}: no board.json at the top of the archive; not a Previz Studio project")
            target.mkdir(parents=True, exist_ok=True)
            budget = MAX_UNPACKED_BYTES
            for member, name in zip(members, names):
                if not is_project_entry(name):
                    continue
                destination = target.joinpath(*PurePosixPath(name).parts)
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(destination, "xb") as sink:
                    while chunk := source.read(CHUNK):
                        budget -= len(chunk)
                        if budget < 0:
                            raise ArchiveError(
                                f"{archive.name}: unpacks to more than {MAX_UNPACKED_BYTES // 1024**3} GB; refused")
                        sink.write(chunk)
        project = Project.open(target)
        project.load()  # the board must be whole and every path in it inside the folder
        if skipped and warn is not None:
            shown = ", ".join(skipped[:SKIPPED_SHOWN]) + (f" and {len(skipped) - SKIPPED_SHOWN} more"
                                                          if len(skipped) > SKIPPED_SHOWN else "")
            warn(f"skipped {len(skipped)} entries that are not part of a project: {shown}")
        return project
    except (ArchiveError, ProjectError):
        _remove(target, created)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
        _remove(target, created)
        raise ArchiveError(f"{archive.name}: damaged archive ({error})") from None


def _safe_name(archive: Path, member: zipfile.ZipInfo) -> str:
    """The entry's name if it is a plain file or folder that stays inside the target."""
    name = member.filename
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ArchiveError(f"{archive.name}: entry {shown(name)} is a symbolic link; refused")
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{archive.name}: entry {shown(name)} has an absolute or foreign path; refused")
    parts = PurePosixPath(name).parts
    if not parts or any(part in ("..", ".") for part in parts):
        raise ArchiveError(f"{archive.name}: entry {shown(name)} would leave the project folder; refused")
    return PurePosixPath(*parts).as_posix()


def _remove(target: Path, created: bool) -> None:
    """Undo a refused unpack: nothing of it stays behind."""
    if created:
        shutil.rmtree(target, ignore_errors=True)
    elif target.is_dir():
        for child in target.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def is_project_entry(name: str) -> bool:
    """Whether an archive entry (a relative POSIX name) is part of a project: board.json at the
    top, or something inside keyframes/, audio/, takes/ or exports/ with no hidden part (backups,
    history, locks, caches and ``*.partial*`` temp files are all hidden or outside those)."""
    parts = PurePosixPath(name).parts
    if not parts or any(part.startswith(".") or ".partial" in part for part in parts):
        return False
    if parts == (BOARD_FILE,):
        return True
    return parts[0] in PROJECT_FOLDERS
