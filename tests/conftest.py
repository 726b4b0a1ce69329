"""Shared fixtures: temporary projects, the sample board, and a clean app home per test."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from studio.board import Board, CameraMove, Shot, Transition
from studio.storage import Project

REPO = Path(__file__).resolve().parent.parent
SAMPLE_BOARD = REPO / "assets" / "sample-board"


def free_port() -> int:
    """A port nothing listens on right now, on the loopback interface tests bind to."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real per-user app folder."""
    home = tmp_path_factory.mktemp("previz-home")
    monkeypatch.setenv("PREVIZ_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture
def sample_project(tmp_path: Path) -> Project:
    """A private copy of the sample board (the one in assets/ is never modified)."""
    target = tmp_path / "sample"
    shutil.copytree(SAMPLE_BOARD, target)
    return Project.open(target)


def small_board(shots: int = 3, duration: int = 12, width: int = 96, height: int = 64) -> Board:
    """A tiny board for fast renders: a few short shots with different moves."""
    moves = ("pan_left", "zoom_in", "static", "truck_right", "tilt_up")
    return Board(
        title="Test board",
        width=width,
        height=height,
        shots=tuple(
            Shot(
                id=f"s{index + 1}",
                title=f"Shot {index + 1}",
                prompt=f"test prompt {index + 1}",
                duration=duration,
                camera=(CameraMove(moves[index % len(moves)], 0.5),),
                seed=100 + index,
                transition=Transition("cross_dissolve", 4) if index == 2 else Transition(),
            )
            for index in range(shots)
        ),
    )


@pytest.fixture
def small_project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "small", small_board())
