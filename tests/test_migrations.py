"""Schema migrations: every version has a fixture that migrates to the next one exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.board import SCHEMA_VERSION
from studio.board_codec import board_from_dict
from studio.migrations import MIGRATIONS, MigrationError, migrate

FIXTURES = Path(__file__).parent / "fixtures"


def load(version: int) -> dict:
    return json.loads((FIXTURES / f"board_v{version}.json").read_text())


@pytest.mark.parametrize("version", sorted(MIGRATIONS))
def test_each_migration_step_matches_its_fixture(version: int) -> None:
    before, expected = load(version), load(version + 1)
    assert MIGRATIONS[version](before) == expected
    assert before == load(version), "migrations must not modify their input"


def test_every_version_up_to_current_has_a_fixture() -> None:
    for version in range(1, SCHEMA_VERSION + 1):
        assert (FIXTURES / f"board_v{version}.json").is_file()


def test_oldest_fixture_loads_as_a_current_board_keeping_unknown_fields() -> None:
    board = board_from_dict(migrate(load(1)))
    assert [s.duration for s in board.shots] == [60, 24]
    assert str(board.fps) == "24000/1001"
    assert board.extra["written_by"] == "a tool we do not know"
    assert board.shots[0].extra["custom_color_tag"] == "blue"
    assert board.shots[0].camera[0].move == "pan_left"


def test_future_version_is_refused_with_a_clear_message() -> None:
    with pytest.raises(MigrationError, match="newer Previz Studio"):
        migrate({"schema_version": SCHEMA_VERSION + 1})


@pytest.mark.parametrize("version", [None, "2", 0, True])
def test_missing_or_bad_version_is_refused(version: object) -> None:
    with pytest.raises(MigrationError, match="schema_version"):
        migrate({"schema_version": version} if version is not None else {})


@pytest.mark.parametrize("seconds", [float("inf"), float("nan"), "2"])
def test_non_finite_or_text_durations_give_a_migration_error(seconds: object) -> None:
    # regression: Infinity / NaN (which json.loads accepts) crashed the migration with OverflowError
    data = load(1)
    data["shots"][0]["duration_seconds"] = seconds
    with pytest.raises(MigrationError, match=r"shots\[0\].duration_seconds: must be a finite number"):
        migrate(data)
