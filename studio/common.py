"""Small things every layer shares: whole-file writes, the progress callback type, fit modes.

Nothing heavy is imported here (standard library only), so the model, storage, media, the
exporters and the CLI can all use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Callable, Iterator

FIT_MODES: tuple[str, ...] = ("cover", "letterbox")
"""How a picture of another shape fills a frame: scale to cover and crop, or fit and pad black."""

Progress = Callable[[int, int, str], None]
"""``progress(done, total, message)``: called as work advances (frames, steps, bytes, shots)."""


def no_progress(done: int, total: int, message: str) -> None:
    """The progress sink for callers that do not display progress."""


def partial_path(target: Path) -> Path:
    """A temp name beside ``target``, unique per process, thread and call, that keeps its suffix
    (ffmpeg picks the container by it) and says ``.partial`` (cleanups and copies skip those)."""
    unique = f"{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}"
    return target.with_name(f".{target.stem}.{unique}.partial{target.suffix}")


@contextlib.contextmanager
def atomic_write(target: Path, *, durable: bool = False) -> Iterator[Path]:
    """Write a file whole or not at all: yields a temp path beside ``target``; when the block
    ends without an exception the temp file is renamed over ``target`` (``os.replace``), and in
    every case it is gone afterwards. Two writers of one target each write a whole file and the
    last rename wins.

    ``durable``: fsync the file before the rename and the folder after it, so a power cut leaves
    the old file or the new one (board.json, backups, the history log).
    """
    partial = partial_path(target)
    try:
        yield partial
        if durable:
            with open(partial, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    if durable:
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` whole and durably (:func:`atomic_write`): a crash leaves the old file or
    the new, never half (board.json, backups, the history log, registries)."""
    with atomic_write(path, durable=True) as partial:
        partial.write_bytes(content)


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON whole and durably (:func:`atomic_write`): sidecars, caches, the job state."""
    with atomic_write(path, durable=True) as partial, open(partial, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")


SHOWN_CHARS = 80
"""How much of a bad value an error message quotes: enough to recognise it, never a megabyte."""


def shown(value: object, limit: int = SHOWN_CHARS, *, plain: bool = False) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters with the full length said.

    Why: errors travel back to the client (API, browser); one that quotes a 1 MB value in full
    costs a megabyte per failed request and buries the message. Every error that quotes input
    uses this, as BoardError does. ``plain`` quotes ``str(value)`` (for lists already joined).
    """
    text = str(value) if plain else repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, (str, bytes, list, tuple, dict)) else ""
    return f"{text[:limit - 3]}...{size}"


def check_fit(value: object, error: type[Exception], name: str = "fit") -> str:
    """``value`` if it is one of FIT_MODES, else ``error`` naming ``name`` (each layer raises its
    own error type; the rule and the message are the same everywhere)."""
    if value not in FIT_MODES:
        raise error(f"{name} must be one of {', '.join(FIT_MODES)}, got {shown(value)}")
    return str(value)
