"""One render-farm worker: a long-lived process that keeps its model loaded between jobs.

The farm (``services/farm.py``) runs one of these per GPU, or a configured number on CPU-only
machines, as a Ray actor. It is a plain class so that this module imports without Ray: the farm
wraps it with ``ray.remote`` when it starts one. Several of its methods are called at once (Ray
runs the actor with a few threads): :meth:`render` runs a job while :meth:`info` reports its
progress and :meth:`cancel` stops it at the backend's next step.

A worker never touches the board: it turns a :class:`FarmTask` (a resolved ``ShotRequest`` and
the backend settings) into an encoded clip, either written to the staging name the head gave it
on the shared project folder, or returned as bytes for the head to write. The head alone moves
a clip into the project (see farm.py: exactly once).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.backends import BackendCache
from studio.backends.base import (
    GenerationCancelled,
    GenerationError,
    OutOfMemory,
    ShotRequest,
)
from studio.media import MediaError

SHARED, BYTES = "shared", "bytes"
OUTPUT_MODES = (SHARED, BYTES)
"""How a finished clip reaches the project: written by the worker to a staging name on a
filesystem every node mounts (the head then renames it in), or returned to the head as bytes."""

DONE, CANCELLED, OOM, FAILED = "done", "cancelled", "oom", "failed"


@dataclass(frozen=True)
class FarmTask:
    """One attempt at one take, as sent to a worker (everything resolved, nothing to read)."""

    job_id: str
    attempt: int
    label: str
    request: ShotRequest
    backend: str
    settings: dict[str, Any]
    """What builds the backend (model, memory profile, device...)."""
    output: str = SHARED
    staging: str | None = None
    """Shared mode: the absolute path (on the shared filesystem) the worker writes the clip to."""


@dataclass(frozen=True)
class TaskResult:
    """What a worker says about one attempt; failures are values, not exceptions, so the head
    can tell "retry with a lighter profile" from "this will never work"."""

    status: str
    worker: int
    pid: int
    metadata: dict[str, Any] = field(default_factory=dict)
    sound: dict[str, Any] | None = None
    """The take's own sound, as the sidecar records it (None: silent)."""
    data: bytes | None = None
    error: str = ""
    elapsed: float = 0.0


def model_key(backend: str, settings: dict[str, Any]) -> str:
    """The name of the model a job needs a worker to hold: the backend and its model (memory
    profile and device change how it is held, not which one)."""
    model = settings.get("model")
    return f"{backend}:{model}" if model else backend


class FarmWorker:
    """A render worker (a Ray actor when the farm runs it; an ordinary object in-process)."""

    def __init__(self, index: int, device: str | None = None) -> None:
        self.index = index
        self.device = device
        self._backends = BackendCache(**({"device": device} if device else {}))
        self._lock = threading.Lock()
        self._held = ""
        self._current: dict[str, Any] | None = None
        self._cancels: dict[str, threading.Event] = {}
        self._jobs_done = 0

    def info(self) -> dict[str, Any]:
        """Who this worker is and what it does now (the farm panel and the CLI show it)."""
        with self._lock:
            return {
                "index": self.index, "pid": os.getpid(), "host": socket.gethostname(),
                "model": self._held, "accelerator": _has_accelerator(self.device),
                "job": dict(self._current) if self._current else None, "jobs_done": self._jobs_done,
            }

    def cancel(self, job_id: str) -> bool:
        """Stop ``job_id`` at the backend's next step; False when it is not running here."""
        with self._lock:
            event = self._cancels.get(job_id)
            if event is None:
                return False
            if self._current is not None and self._current["id"] == job_id:
                self._current["cancel_at"] = self._current["done"]
            event.set()
        return True

    def render(self, task: FarmTask) -> TaskResult:
        """Make one clip; every outcome comes back as a :class:`TaskResult`."""
        cancel = threading.Event()
        key = model_key(task.backend, task.settings)
        with self._lock:
            self._cancels[task.job_id] = cancel
            self._current = {"id": task.job_id, "label": task.label, "attempt": task.attempt,
                             "done": 0, "total": 0, "message": "loading the model" if key != self._held else "starting",
                             "memory_profile": task.settings.get("memory_profile", "none")}
        started = time.perf_counter()
        result = {"worker": self.index, "pid": os.getpid()}
        try:
            metadata, sound, data = self._make(task, cancel, key)
            return TaskResult(DONE, metadata=metadata, sound=sound, data=data,
                              elapsed=time.perf_counter() - started, **result)
        except GenerationCancelled as error:
            return TaskResult(CANCELLED, error=self._stopped(error), **result)
        except (OutOfMemory, MemoryError) as error:
            return TaskResult(OOM, error=str(error) or "out of memory", **result)
        except (GenerationError, MediaError) as error:
            if cancel.is_set():
                return TaskResult(CANCELLED, error=self._stopped(error), **result)
            return TaskResult(FAILED, error=str(error), **result)
        except Exception as error:  # noqa: BLE001 - the worker outlives any job; the head reports it
            if type(error).__name__ == "OutOfMemoryError":  # torch's, raised outside a backend's guard
                return TaskResult(OOM, error=str(error).splitlines()[0] if str(error) else "out of memory", **result)
            return TaskResult(FAILED, error=f"{type(error).__name__}: {error}", **result)
        finally:
            with self._lock:
                self._cancels.pop(task.job_id, None)
                self._current = None
                self._jobs_done += 1

    def _stopped(self, error: Exception) -> str:
        """What a cancelled job says: the step it stopped at and the one the cancel arrived at."""
        with self._lock:
            current = self._current or {}
            done, total, arrived = current.get("done", 0), current.get("total", 0), current.get("cancel_at")
        if arrived is None:
            return str(error) or "cancelled"
        return f"stopped after step {done} of {total}; the cancel arrived after step {arrived}"

    def _make(self, task: FarmTask, cancel: threading.Event,
              key: str) -> tuple[dict[str, Any], dict[str, Any] | None, bytes | None]:
        """Generate and encode exactly as the in-process render does (render.encode_take: same
        encoder, same frames, same sound)."""
        def progress(done: int, total: int, message: str = "") -> None:
            with self._lock:
                if self._current is not None and self._current["id"] == task.job_id:
                    self._current.update(done=int(done), total=int(total), message=message or self._current["message"])

        generator = self._backends.get(task.backend, **task.settings)
        with self._lock:
            self._held = key
        if task.output == SHARED:
            if not task.staging:
                raise GenerationError("shared output needs a staging path")
            metadata, sound = _encode(generator, task, Path(task.staging), progress, cancel)
            return metadata, sound, None
        with tempfile.TemporaryDirectory(prefix="previz-farm-") as folder:
            target = Path(folder) / "take.mp4"
            metadata, sound = _encode(generator, task, target, progress, cancel)
            return metadata, sound, target.read_bytes()


def _encode(generator: Any, task: FarmTask, target: Path, progress: Any,
            cancel: threading.Event) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The clip into ``target``; nothing left there when it fails or is cancelled."""
    from studio.services.render import encode_take

    try:
        metadata, sound = encode_take(generator, task.backend, task.request, target, progress, cancel)
        if cancel.is_set():
            raise GenerationCancelled("cancelled; nothing was kept")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return dict(metadata), sound


def _has_accelerator(device: str | None) -> bool:
    """True when this worker's backends run on a GPU (offload memory profiles need one)."""
    if device is not None:
        return not device.startswith("cpu")
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
