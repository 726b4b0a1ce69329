"""Regression tests for bugs the reliability suite found in the project folder code."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from studio.storage import CorruptBoardError, Project

from rel_helpers import tiny_board


def test_backups_stay_newest_first_when_a_save_straddles_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: the backup name took its seconds and its nanoseconds from two clock readings, so a
    save at 99.999999 s could be named 99.000001 and sort as the oldest: recover() then restored
    a stale board and rotation deleted the newest backup."""
    for offset in range(0, 40_000, 1_000):
        clock = SimpleNamespace(now=100 * 10**9 - offset)

        def time_ns() -> int:
            clock.now += 1_500
            return clock.now

        def gmtime(seconds: float | None = None) -> time.struct_time:
            if seconds is None:
                clock.now += 1_500
                seconds = clock.now // 10**9
            return time.gmtime(seconds)

        fake = SimpleNamespace(time_ns=time_ns, gmtime=gmtime, strftime=time.strftime, time=time.time)
        monkeypatch.setattr("studio.storage.time", fake)
        project = Project.create(tmp_path / f"film-{offset}", tiny_board())
        for index in range(3):
            project.update(lambda board, index=index: board.replace(title=f"v{index}"))
        titles = [json.loads(path.read_text())["title"] for path in project.backups()]
        assert titles == ["v2", "v1", "v0", "Tiny"], f"clock offset {offset} ns"


def test_a_number_too_long_to_parse_is_a_corrupt_board_not_a_crash(tmp_path: Path) -> None:
    """Bug: json.loads raises a bare ValueError for integers over 4300 digits, which escaped
    read_board_json untyped (the UI and CLI show ProjectError messages, not tracebacks)."""
    project = Project.create(tmp_path / "film", tiny_board())
    content = project.board_path.read_text().replace('"width": 32', '"width": ' + "7" * 4301)
    project.board_path.write_text(content)
    with pytest.raises(CorruptBoardError, match="board.json"):
        project.load()
