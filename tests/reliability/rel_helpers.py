"""Fault-injecting backends and small helpers for the reliability tests.

Not a conftest.py on purpose: tests/conftest.py is imported as the module ``conftest`` (tests do
``from conftest import small_board``), and a second conftest.py would shadow it.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studio.backends import BackendCache
from studio.backends.base import Clip, GenerationCancelled, ShotRequest
from studio.board import Board, CameraMove, Shot
from studio.storage import Project

StepHook = Callable[[int], None]


class StepBackend:
    """A backend that works in ``steps`` steps, like a diffusion pipeline.

    Each step allocates a buffer (kept until the clip is made, as a pipeline keeps latents), calls
    ``on_step(step)`` (tests use it to cancel or to raise at step k), checks ``cancel`` and
    reports progress. ``buffers`` holds weak references, so a test can tell whether the memory of
    a failed job was released.
    """

    name = "step"

    def __init__(self, steps: int = 6, buffer_bytes: int = 1 << 20) -> None:
        self.steps = steps
        self.buffer_bytes = buffer_bytes
        self.on_step: StepHook | None = None
        self.steps_run = 0
        self.calls = 0
        self.buffers: list[weakref.ref] = []
        self.lock = threading.Lock()

    def generate(self, request: ShotRequest, progress: Any, cancel: threading.Event) -> Clip:
        with self.lock:
            self.calls += 1
            self.steps_run = 0
        latents: list[np.ndarray] = []
        for step in range(self.steps):
            if cancel.is_set():
                raise GenerationCancelled(f"shot {request.shot_id}: cancelled at step {step}")
            buffer = np.ones(self.buffer_bytes, np.uint8)
            self.buffers.append(weakref.ref(buffer))
            latents.append(buffer)
            if self.on_step is not None:
                self.on_step(step)
            self.steps_run += 1
            progress(step + 1, self.steps, f"step {step + 1} of {self.steps}")
        value = (request.seed + len(latents)) % 256
        frames = np.full((request.num_frames, request.height, request.width, 3), value, np.uint8)
        return Clip(frames, request.fps, {"steps": self.steps})

    def live_buffers(self) -> int:
        return sum(1 for ref in self.buffers if ref() is not None)


class FixedCache(BackendCache):
    """A BackendCache that hands out one given backend for every name."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend

    def get(self, name: str, **settings: Any) -> Any:  # type: ignore[override]
        return self.backend


def tiny_board(shots: int = 1, frames: int = 4, size: int = 32) -> Board:
    """The smallest board worth rendering: ``shots`` shots of ``frames`` frames at size x size."""
    return Board(
        title="Tiny",
        width=size,
        height=size,
        shots=tuple(
            Shot(id=f"s{i + 1}", title=f"Shot {i + 1}", prompt=f"prompt {i + 1}", duration=frames,
                 camera=(CameraMove("pan_left", 0.5),), seed=10 + i)
            for i in range(shots)
        ),
    )


def project_files(project: Project) -> set[str]:
    """Every file in the project folder (relative), the lock file excluded."""
    return {p.relative_to(project.root).as_posix() for p in project.root.rglob("*")
            if p.is_file() and p.name != ".previz.lock"}


def partial_files(root: Path) -> list[Path]:
    """Temp files of interrupted writes (every writer names them *.partial*)."""
    return [p for p in root.rglob("*") if ".partial" in p.name]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
