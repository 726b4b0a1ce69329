"""What a board's scenes and dialogue imply: shot numbers, scene runs, dialogue lines and timing.

Pure functions of a :class:`~studio.board.Board` (no files, no pixels), so the wall, the
inspector, every exporter and the scratch-dialogue track agree:

- :func:`shot_numbers` is the one place a shot's number is made. "sequential" numbers the board
  1, 2, 3...; "scene" numbers as on set: a scene's first shot carries the scene number, the next
  ones a letter (12, 12A, 12B... skipping I and O, which read as 1 and 0; after Z comes AA).
  A shot outside any scene continues the letters of the scene before it (a pickup where it sits);
  shots before the first scene count as scene "0".
- :func:`dialogue_lines` splits a card's dialogue into (speaker, text): a line "NAME: text" starts
  a speech by NAME; other lines continue the current one; the card's speaker speaks the rest.
- :func:`dialogue_timing` says how many frames the dialogue needs at the board's words per second
  (parentheticals are not spoken) and whether it fits the shot as edited.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from studio.board import Board, Scene, Shot

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
"""Suffix letters for scene-numbered shots: no I or O (they read as 1 and 0 on a slate)."""
_SPEECH = re.compile(r"^\s*([A-Z0-9][A-Z0-9 .'\-]{0,40}?)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_PARENTHETICAL = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _letters(count: int) -> str:
    """1 -> A, 2 -> B ... 24 -> Z, 25 -> AA (bijective base 24 over _LETTERS)."""
    text = ""
    while count > 0:
        count, rest = divmod(count - 1, len(_LETTERS))
        text = _LETTERS[rest] + text
    return text


def shot_numbers(board: Board) -> tuple[str, ...]:
    """Every shot's number, in board order, as every export and view shows it."""
    if board.shot_numbering != "scene":
        return tuple(str(index + 1) for index in range(len(board.shots)))
    numbers = {scene.id: scene.number or str(position + 1) for position, scene in enumerate(board.scenes)}
    used: dict[str, int] = {}
    current = "0"
    result = []
    for shot in board.shots:
        if shot.scene_id is not None:
            current = numbers[shot.scene_id]
        count = used.get(current, 0)
        used[current] = count + 1
        result.append(current + _letters(count))
    return tuple(result)


@dataclass(frozen=True)
class SceneRun:
    """Consecutive shots of one scene on the board (None: shots outside any scene)."""

    scene: Scene | None
    shot_ids: tuple[str, ...]


def scene_runs(board: Board) -> tuple[SceneRun, ...]:
    """The board as runs of consecutive shots sharing a scene: what the wall puts under a header."""
    runs: list[SceneRun] = []
    for shot in board.shots:
        if runs and (runs[-1].scene.id if runs[-1].scene else None) == shot.scene_id:
            runs[-1] = SceneRun(runs[-1].scene, runs[-1].shot_ids + (shot.id,))
        else:
            runs.append(SceneRun(board.scene(shot.scene_id) if shot.scene_id else None, (shot.id,)))
    return tuple(runs)


def scene_label(board: Board, scene: Scene) -> str:
    """e.g. "12  INT. LIGHTHOUSE - NIGHT" (the number the board would give it, and its heading)."""
    number = scene.number or str(board.scenes.index(scene) + 1)
    return f"{number}  {scene.heading() or '(no heading)'}"


# --------------------------------------------------------------------------------------------
# Dialogue


def dialogue_lines(shot: Shot) -> tuple[tuple[str, str], ...]:
    """(speaker, text) for each speech in the card's dialogue, parentheticals kept in the text."""
    speeches: list[list[str]] = []
    speaker = shot.speaker.strip()
    for raw in shot.dialogue.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _SPEECH.match(line)
        if match and match.group(2).strip():
            speeches.append([match.group(1).strip(), match.group(2).strip()])
        elif speeches:
            speeches[-1][1] += " " + line
        else:
            speeches.append([speaker, line])
    return tuple((who, text) for who, text in speeches)


def spoken_text(text: str) -> str:
    """What is said aloud: the text without parentheticals ("(whispering)")."""
    return " ".join(_PARENTHETICAL.sub(" ", text).split())


def word_count(text: str) -> int:
    return len(_WORD.findall(spoken_text(text)))


@dataclass(frozen=True)
class DialogueTiming:
    """How long a card's dialogue takes to say, against the shot as edited."""

    words: int
    needed: int
    """Frames the dialogue needs at the board's words per second (0 with no dialogue)."""
    available: int
    """The shot's edit duration (after trims)."""

    @property
    def fits(self) -> bool:
        return self.needed <= self.available

    def warning(self, board: Board) -> str:
        """"" when it fits; else what a person needs to read on the panel and in the inspector."""
        if self.fits:
            return ""
        fps = board.fps
        return (f"dialogue needs {fps.frames_to_seconds(self.needed):.1f} s ({self.words} words at "
                f"{board.words_per_second:g}/s), the shot is {fps.frames_to_seconds(self.available):.1f} s")


def dialogue_timing(board: Board, shot: Shot) -> DialogueTiming:
    words = sum(word_count(text) for _, text in dialogue_lines(shot))
    seconds = Fraction(words) / Fraction(board.words_per_second).limit_denominator(1000)
    needed = math.ceil(seconds * board.fps.fraction) if words else 0
    return DialogueTiming(words=words, needed=needed, available=shot.edit_duration)


def fitted_duration(board: Board, shot: Shot) -> int:
    """The duration (before trims) at which the shot's dialogue just fits; at least one frame."""
    timing = dialogue_timing(board, shot)
    return max(1, timing.needed) + shot.trim_in + shot.trim_out
