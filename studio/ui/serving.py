"""Copies of project files that the browser may fetch, and nothing else.

Why copies: Gradio serves a file only if it sits in its cache, the temp folder or an
``allowed_paths`` folder, and ``allowed_paths`` serves a whole folder inline by URL. Adding
project folders there would expose board.json backups and any stray file to whoever guesses a
path. Instead the UI hands Gradio a copy of exactly the file it shows (a take, a keyframe, an
export), made here in a private temp folder; Gradio then moves it into its own cache under a
hashed name and serves it with its usual rules (HTML/SVG never inline).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import tempfile
import threading
import weakref
from collections import OrderedDict
from pathlib import Path

from studio.common import atomic_write

SERVED_KEPT = 2000
"""Copies kept; older ones are deleted (Gradio keeps its own cached copy while it needs one)."""
POSTER_WIDTH = 320
"""Width in pixels of the JPEG posters on panels and take strips."""


FOLDER_PREFIX = "previz-served-"
"""Served-copies folders are named ``previz-served-<pid>-<random>`` in the temp folder."""


def remove_orphans(temp: Path) -> list[Path]:
    """Remove the served-copies folders of servers that were killed (kill -9 runs no cleanup):
    those whose process id, part of the name, no longer runs. Returns what was removed."""
    removed = []
    for folder in temp.glob(f"{FOLDER_PREFIX}*"):
        pid = folder.name[len(FOLDER_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or folder.is_symlink():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except (PermissionError, OverflowError):
            continue
    return removed


class MediaCache:
    """Per-app folder of served copies, keyed by the source file's path, size and mtime."""

    def __init__(self, kept: int = SERVED_KEPT) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        remove_orphans(self.root.parent)
        self.public = self.root / "public"
        """Fetched by URL (an allowed path): only posters re-encoded from pixels and take videos."""
        self.public.mkdir()
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.root), True)
        """Removes the folder on close(), when the cache is collected, or at interpreter exit."""
        self._kept = kept
        self._salt = secrets.token_hex(16)
        """Part of every copy's folder name: a copy's URL cannot be worked out from the source's
        path, size and time, so only a client the UI handed it to (after checking its rights on
        the project) can fetch it."""
        self._entries: OrderedDict[str, Path] = OrderedDict()
        self._lock = threading.Lock()

    def publish(self, source: Path, name: str | None = None, public: bool = False) -> str:
        """A servable copy of ``source`` (an existing regular file inside a project)."""
        source = Path(source)
        stat = source.stat()
        key = hashlib.sha256(f"{self._salt}|{public}|{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]
        with self._lock:
            if key in self._entries and self._entries[key].exists():
                self._entries.move_to_end(key)
                return str(self._entries[key])
            folder = (self.public if public else self.root) / key
            folder.mkdir(exist_ok=True)
            target = folder / (name or source.name)
            with atomic_write(target) as partial:
                shutil.copyfile(source, partial)
            self._entries[key] = target
            self._evict()
            return str(target)

    def public_video(self, source: Path) -> str:
        """A take video the page may fetch by URL (the compare view); nothing but .mp4 files."""
        source = Path(source)
        if source.suffix.lower() != ".mp4":
            raise ValueError(f"{source.name}: only take videos are served by URL")
        return self.publish(source, public=True)

    def poster(self, source: Path, width: int = POSTER_WIDTH) -> str | None:
        """A small JPEG of an image, or of a video's first frame, for panels and take strips
        (None when it cannot be read). Cached by the source's path, size and mtime."""
        from PIL import Image

        source = Path(source)
        try:
            stat = source.stat()
        except OSError:
            return None
        key = hashlib.sha256(f"{self._salt}|poster{width}|{os.path.abspath(source)}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached.exists():
                self._entries.move_to_end(key)
                return str(cached)
        try:
            if source.suffix.lower() in (".mp4", ".mov", ".webm", ".mkv"):
                from studio.media import MediaError, read_video

                try:
                    picture = Image.fromarray(read_video(source, max_frames=1)[0])
                except MediaError:
                    return None
            else:
                with Image.open(source) as opened:
                    opened.draft("RGB", (width, width))
                    picture = opened.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        picture.thumbnail((width, width * 4))
        folder = self.public / key
        folder.mkdir(exist_ok=True)
        target = folder / f"{source.stem}.jpg"
        with atomic_write(target) as partial:
            picture.save(partial, format="JPEG", quality=85)
        with self._lock:
            self._entries[key] = target
            self._evict()
        return str(target)

    def _evict(self) -> None:
        """Drop the oldest copies past the limit (called with the lock held)."""
        while len(self._entries) > self._kept:
            _, old = self._entries.popitem(last=False)
            shutil.rmtree(old.parent, ignore_errors=True)

    def close(self) -> None:
        self._remove()


def stop_on_sigterm() -> None:
    """Make SIGTERM a normal stop: KeyboardInterrupt in the main thread, as Ctrl-C is.

    Why: SIGTERM's default action ends the process at once, so no ``finally`` and no exit
    handler runs and the served-copies folder stays in the temp folder for good (every
    ``systemctl stop`` or ``docker stop`` left one). Gradio's ``block_thread`` already turns
    KeyboardInterrupt into a clean server close. Call it from the main thread, before serving.
    """
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
