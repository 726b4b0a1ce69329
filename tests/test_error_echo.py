"""Errors name the bad field and quote at most a short piece of the bad value (issue 13, item 8).

Before: five errors echoed a 1 MB value back in full, and unknown backend names were accepted
when set, failing only when the render started. (The lone-surrogate case is in
test_storage_limits.py; job ids in test_jobs.py.)
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from studio.archive import ArchiveError, unpack
from studio.backends import BACKENDS, BackendCache, check_backend_name, create_backend
from studio.backends.animatic import AnimaticBackend
from studio.backends.base import GenerationError
from studio.board import BoardError
from studio.common import shown
from studio.images import ImageError, fit_image
from studio.models import ModelError, resolve_model
from studio.services.export import ExportError, ExportOptions, export_board
from studio.services.render import choose_seed, render_board
from studio.storage import Project, UnsafePathError

from conftest import small_board

HUGE = "x" * 1_000_000
LONGEST = 1000
"""No message about a bad value may be longer than this (lists of choices included)."""


def short(error: BaseException) -> str:
    """The message, checked to quote at most a short piece of the (repetitive) bad value."""
    message = str(error)
    assert len(message) < LONGEST, f"{type(error).__name__} echoed {len(message)} characters"
    assert not re.search(r"(.)\1{99}", message), f"{type(error).__name__} quoted 100+ characters of the value"
    return message


def test_shown_cuts_and_says_how_long():
    assert shown("abc") == "'abc'"
    cut = shown(HUGE)
    assert len(cut) < 120 and "1000000 characters" in cut


def test_unknown_backend_names_are_refused_where_they_are_set():
    assert check_backend_name("animatic") == "animatic"
    assert check_backend_name(None, "shots[0].backend", allow_none=True) is None
    for bad in ("animatc", None, 3, HUGE):
        with pytest.raises(BoardError) as error:
            check_backend_name(bad, "shots[0].backend")
        assert error.value.field == "shots[0].backend"
        message = short(error.value)
        assert message.startswith("shots[0].backend: is not a backend") and all(name in message for name in BACKENDS)


@pytest.mark.parametrize("call", [
    lambda: create_backend(HUGE),
    lambda: BackendCache().get(HUGE),
    lambda: AnimaticBackend(fit=HUGE),
    lambda: AnimaticBackend(workers=HUGE),
    lambda: choose_seed(small_board().shots[0], HUGE),
])
def test_generation_errors_quote_a_short_value(call):
    with pytest.raises(GenerationError) as error:
        call()
    short(error.value)


def test_render_board_unknown_shot_ids_are_quoted_short(tmp_path: Path):
    project = Project.create(tmp_path / "p", small_board())
    with pytest.raises(GenerationError) as error:
        render_board(project, shot_ids=[HUGE, "y" * 500_000])
    assert "no such shot id" in short(error.value)


@pytest.mark.parametrize("options", [{"fit": HUGE}, {"per_page": HUGE}, {"preview_width": HUGE},
                                     {"burn_ins": {HUGE}}])
def test_export_option_errors_quote_a_short_value(options):
    with pytest.raises(ExportError) as error:
        ExportOptions(**options)
    short(error.value)


def test_unknown_export_format_is_quoted_short(tmp_path: Path):
    project = Project.create(tmp_path / "p", small_board())
    with pytest.raises(ExportError) as error:
        export_board(project, HUGE)
    assert "unknown export format" in short(error.value)


def test_a_path_resolving_outside_is_quoted_short(tmp_path: Path):
    project = Project.create(tmp_path / "p", small_board())
    outside = tmp_path / "outside"
    outside.mkdir()
    project.keyframes_dir.rmdir()
    project.keyframes_dir.symlink_to(outside)
    with pytest.raises(UnsafePathError) as error:
        project.resolve("keyframes/" + "a" * 200 + ".png", "shots[0].keyframes")
    assert short(error.value).startswith("shots[0].keyframes: ")


def test_an_archive_entry_is_quoted_short(tmp_path: Path):
    bundle = tmp_path / "evil.zip"
    with zipfile.ZipFile(bundle, "w") as handle:
        handle.writestr("board.json", Project.create(tmp_path / "src", small_board()).board_path.read_bytes())
        handle.writestr("../" + "x" * 60_000, b"x")
    with pytest.raises(ArchiveError) as error:
        unpack(bundle, tmp_path / "target")
    assert "would leave the project folder" in short(error.value)


def test_model_and_image_errors_quote_a_short_value():
    with pytest.raises(ModelError) as error:
        resolve_model("y" * 100_000)
    short(error.value)
    with pytest.raises(ImageError) as error:
        fit_image(np.zeros((20, 20, 3), np.uint8), 10, 10, mode=HUGE)
    short(error.value)
