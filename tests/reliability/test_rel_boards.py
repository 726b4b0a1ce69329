"""Hostile board.json files: malformed, future, deeply nested, self-contradicting ids, huge.

Every one must give a typed ProjectError, change nothing on disk, and leave nothing half-loaded:
``Project.update`` refuses to run the edit, so a broken file is never overwritten by a guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from studio.board import SCHEMA_VERSION
from studio.board_codec import board_to_dict
from studio.storage import (
    MAX_BOARD_BYTES,
    CorruptBoardError,
    FutureSchemaError,
    InvalidBoardError,
    Project,
    ProjectError,
)

from rel_helpers import tiny_board


def valid_dict() -> dict[str, Any]:
    board = tiny_board(shots=2)
    shot = board.shots[0]
    from studio.board import Take

    take = Take(id="t1", path="takes/s1/t1.mp4", seed=1, backend="animatic", model=None, frames=4, created="")
    board = board.with_shot(shot.with_take(take))
    return board_to_dict(board)


def edited(change: Callable[[dict[str, Any]], None]) -> bytes:
    data = valid_dict()
    change(data)
    return json.dumps(data).encode()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return change


HOSTILE: dict[str, tuple[bytes, type[ProjectError]]] = {
    "empty": (b"", CorruptBoardError),
    "binary": (bytes(range(256)) * 4, CorruptBoardError),
    "truncated": (json.dumps(valid_dict()).encode()[:200], CorruptBoardError),
    "utf8-bom": (b"\xef\xbb\xbf" + json.dumps(valid_dict()).encode(), CorruptBoardError),
    "latin1": ('{"title": "caf\xe9"}'.encode("latin-1"), CorruptBoardError),
    "array": (b"[1, 2, 3]", CorruptBoardError),
    "null": (b"null", CorruptBoardError),
    "future-version": (edited(_set("schema_version", SCHEMA_VERSION + 7)), FutureSchemaError),
    "version-as-text": (edited(_set("schema_version", "2")), CorruptBoardError),
    "deeply-nested-list": (b'{"schema_version": 2, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", CorruptBoardError),
    "deeply-nested-object": (b'{"schema_version": 2, "x": ' + b'{"a":' * 200 + b"1" + b"}" * 200 + b"}", CorruptBoardError),
    "5000-digit-number": (edited(_set("width", 0)).replace(b'"width": 0', b'"width": ' + b"9" * 5000), CorruptBoardError),
    "nan-size": (edited(_set("width", 0)).replace(b'"width": 0', b'"width": NaN'), InvalidBoardError),
    "infinite-duration": (edited(_set("shots.0.duration", 0)).replace(b'"duration": 0', b'"duration": 1e999'), InvalidBoardError),
    "duplicate-shot-ids": (edited(_set("shots.1.id", "s1")), InvalidBoardError),
    "chosen-take-of-another-shot": (edited(_set("shots.1.chosen_take", "t1")), InvalidBoardError),
    "chosen-take-missing": (edited(_set("shots.0.chosen_take", "t-nowhere")), InvalidBoardError),
    "duplicate-take-ids": (edited(lambda d: d["shots"][0]["takes"].append(dict(d["shots"][0]["takes"][0]))), InvalidBoardError),
    "shot-is-a-list": (edited(_set("shots.0", [1, 2])), InvalidBoardError),
    "shots-is-an-object": (edited(_set("shots", {"s1": {}})), InvalidBoardError),
    "huge-prompt": (edited(_set("shots.0.prompt", "x" * 2_000_000)), InvalidBoardError),
    "100k-shots-without-ids": (edited(_set("shots", [{}] * 100_000)), InvalidBoardError),
    "over-the-size-cap": (b'{"schema_version": 2, "pad": "' + b"x" * MAX_BOARD_BYTES + b'"}', CorruptBoardError),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_board_gives_a_typed_error_and_changes_nothing(tmp_path: Path, name: str) -> None:
    content, expected = HOSTILE[name]
    project = Project.create(tmp_path / "film", tiny_board())
    project.board_path.write_bytes(content)
    backups = project.backups()

    with pytest.raises(expected) as caught:
        project.load()
    assert str(caught.value), "the error must say what is wrong"
    assert len(str(caught.value)) < 2000, "the message must not dump the file"

    edits: list[int] = []
    with pytest.raises(expected):
        project.update(lambda board: edits.append(1) or board)
    assert edits == [], "an edit must never run on a board that did not load"
    assert project.board_path.read_bytes() == content
    assert project.backups() == backups


def test_a_broken_board_is_refused_when_opened_and_not_remembered(tmp_path: Path) -> None:
    from studio.services.workspace import Workspace

    workspace = Workspace(home=tmp_path / "home", sample=None)
    project = Project.create(tmp_path / "film", tiny_board())
    project.board_path.write_bytes(HOSTILE["truncated"][0])
    with pytest.raises(CorruptBoardError):
        workspace.open(project.root)
    assert str(project.root) not in workspace.recent()


def test_recover_restores_the_last_good_board_after_any_hostile_write(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "film", tiny_board(shots=2))
    good = project.load()
    for content, _ in HOSTILE.values():
        if len(content) > MAX_BOARD_BYTES // 2:
            continue
        project.board_path.write_bytes(content)
        board, _ = project.recover()
        # the same board, at a newer revision (revisions never go backwards, so stale edits fail)
        assert board.replace(revision=good.revision) == good and project.load() == board
        assert board.revision > good.revision
