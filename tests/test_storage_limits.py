"""A save never writes what the loader refuses; backups bounded in bytes; crash leftovers swept.

Issue 13, items 4, 7 (partials) and 8 (a lone surrogate). The limits are module constants read
at call time by both the saver and the loader, so a test may shrink them and still test the real
rule: what one refuses, the other refuses too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import studio.storage as storage
from studio.board import Board, Shot
from studio.storage import BoardTooLarge, CorruptBoardError, Project, UnsavableTextError


def board_of(notes: int, shots: int = 3) -> Board:
    return Board(title="t", shots=tuple(Shot(id=f"s{i}", prompt="p", notes="n" * notes) for i in range(shots)))


def test_a_save_past_the_load_limit_is_refused_and_the_project_still_loads(tmp_path, monkeypatch):
    project = Project.create(tmp_path / "p", board_of(10))
    size = project.board_path.stat().st_size
    monkeypatch.setattr(storage, "MAX_BOARD_BYTES", size + 2_000)
    project.save(board_of(200))  # still under the limit
    before, backups = project.board_path.read_bytes(), project.backups()
    with pytest.raises(BoardTooLarge, match=r"MAX_BOARD_BYTES") as error:
        project.update(lambda board: board.with_shot(board.shots[0].replace(notes="n" * 5_000)))
    assert error.value.limit == "MAX_BOARD_BYTES"
    assert project.board_path.read_bytes() == before and project.backups() == backups
    assert project.load().shots[0].notes == "n" * 200


def test_saver_and_loader_draw_the_line_at_the_same_byte(tmp_path, monkeypatch):
    project = Project.create(tmp_path / "p", board_of(10))
    payload = storage.encode_board(storage.board_to_dict(board_of(100)))
    monkeypatch.setattr(storage, "MAX_BOARD_BYTES", len(payload))
    project.save(board_of(100))  # exactly at the limit: saved, and loads
    assert project.load().shots[0].notes == "n" * 100
    monkeypatch.setattr(storage, "MAX_BOARD_BYTES", len(payload) - 1)
    with pytest.raises(BoardTooLarge):
        project.save(board_of(101))
    with pytest.raises(CorruptBoardError):  # the loader (a fresh open: loads are cached) refuses the same size
        Project.open(project.root).load()


def test_the_real_limit_is_named_in_megabytes():
    with pytest.raises(BoardTooLarge, match=rf"more than the {storage.MAX_BOARD_BYTES // 2**20} MB"):
        storage.encode_board({"notes": "n" * (storage.MAX_BOARD_BYTES + 1)})


def test_nesting_past_the_loader_depth_is_refused_before_writing():
    deep: dict = {}
    for _ in range(storage.MAX_JSON_DEPTH + 1):
        deep = {"x": deep}
    with pytest.raises(BoardTooLarge, match="MAX_JSON_DEPTH"):
        storage.encode_board(deep)


def test_backups_are_bounded_in_bytes_as_well_as_count(tmp_path, monkeypatch):
    project = Project.create(tmp_path / "p", board_of(10))
    one = len(storage.encode_board(storage.board_to_dict(board_of(5_000))))
    monkeypatch.setattr(storage, "MAX_BACKUP_BYTES", 3 * one + one // 2)
    for n in range(8):
        project.save(board_of(5_000 + n))
    sizes = [path.stat().st_size for path in project.backups()]
    assert sum(sizes) <= storage.MAX_BACKUP_BYTES and len(sizes) == 3
    assert project._load_file(project.backups()[0]).shots[0].notes == "n" * 5_007  # newest kept
    monkeypatch.setattr(storage, "MAX_BACKUP_BYTES", 1)
    project.save(board_of(9_000))
    assert len(project.backups()) == 1  # the newest stays, whatever its size


@pytest.mark.parametrize("where, field", [("title", "title"), ("prompt", "shots[1].prompt"),
                                          ("notes", "shots[1].notes")])
def test_a_lone_surrogate_is_refused_naming_the_field(tmp_path, where, field):
    project = Project.create(tmp_path / "p", board_of(1))
    before = project.board_path.read_bytes()

    def edit(board: Board) -> Board:
        if where == "title":
            return board.replace(title="bad \ud83d paste")
        return board.with_shot(board.shots[1].replace(**{where: "bad \udc00 paste"}))

    with pytest.raises(UnsavableTextError) as error:
        project.update(edit)
    assert error.value.field == field and str(error.value).startswith(f"{field}: ")
    assert "codec" not in str(error.value) and "U+D" in str(error.value)
    assert project.board_path.read_bytes() == before


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_sweep_partials_removes_dead_writers_leftovers_only(tmp_path):
    project = Project.create(tmp_path / "p", board_of(1))
    dead, alive = dead_pid(), os.getpid()
    (project.takes_dir / "s1").mkdir()
    leftovers = [
        project.takes_dir / "s1" / f".tk_1.{dead}.140000000000001.abcdef12.partial.mp4",
        project.exports_dir / f".animatic.{dead}.140000000000002.abcdef12.partial.mp4",
        project.root / f".board.json.{dead}.1700000000000000000.partial",
        project.keyframes_dir / f".abc.png.{dead}.140000000000003.partial",
    ]
    running = project.exports_dir / f".board.{alive}.140000000000004.abcdef12.partial.otio"
    whole = project.takes_dir / "s1" / "tk_1.mp4"
    for path in [*leftovers, running, whole]:
        path.write_bytes(b"x" * 1000)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / f".x.{dead}.140000000000005.partial").write_bytes(b"keep")
    (project.audio_dir).rmdir()
    project.audio_dir.symlink_to(outside)  # a link out is never followed

    removed = project.sweep_partials()
    assert sorted(removed) == sorted(leftovers)
    assert running.exists() and whole.exists() and (outside / f".x.{dead}.140000000000005.partial").exists()
    assert project.sweep_partials() == []
    project.load()
