"""Dialogue against shot lengths: which cards cannot fit their lines, and "fit duration to dialogue".

The estimate is studio.scenes.dialogue_timing (words at the board's words per second, without
parentheticals); this module turns it into the warnings the wall, the inspector and the API show,
and into an edit through studio.services.edits (one undoable step, with the usual revision check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.board import Board
from studio.scenes import dialogue_timing, fitted_duration, shot_numbers
from studio.services import edits
from studio.services.fields import FieldError
from studio.storage import Project


@dataclass(frozen=True)
class ShotTiming:
    shot_id: str
    number: str
    words: int
    needed: int
    available: int
    warning: str

    def to_json(self) -> dict[str, Any]:
        return {"shot_id": self.shot_id, "number": self.number, "words": self.words, "needed_frames": self.needed,
                "available_frames": self.available, "fits": not self.warning, "warning": self.warning}


def board_timing(board: Board) -> list[ShotTiming]:
    """Every shot's dialogue timing, in board order."""
    result = []
    for shot, number in zip(board.shots, shot_numbers(board)):
        timing = dialogue_timing(board, shot)
        result.append(ShotTiming(shot.id, number, timing.words, timing.needed, timing.available, timing.warning(board)))
    return result


def fit_to_dialogue(project: Project, shot_id: str, base_revision: int | None = None, actor: str = "") -> Board:
    """Set the shot's duration so its dialogue just fits (trims kept); refused when it has none."""
    board = project.load()
    shot = board.shot(shot_id)
    if not dialogue_timing(board, shot).words:
        raise FieldError("dialogue", f"shot {shot_id} has no dialogue to fit its duration to")
    return edits.patch_shot(project, shot_id, {"duration": fitted_duration(board, shot)}, base_revision, actor)
