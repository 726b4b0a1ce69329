"""Import a screenplay into the board: scenes, cast and shot cards, previewed before anything is written.

Rules it owns:
- granularity: ``scene`` (one card per scene), ``action`` (one per action paragraph; the speeches
  that follow a paragraph go on its card) or ``exchange`` (one per action paragraph and one per
  run of speeches with no action between them: a back-and-forth, or a dual-dialogue block);
  never more than ``cap`` cards per scene: neighbouring cards are merged, evenly, to fit;
- a card gets the action as its action and the first lines of its prompt (with the scene's place
  and time), the dialogue as "NAME: text" lines (one speaker: the text, with the speaker set),
  the speakers as its characters, notes written in the script, and a duration that fits its
  dialogue at the board's words per second (at least ``min_seconds``);
- a scene's transition ("DISSOLVE TO:", "FADE TO BLACK.") becomes the transition into the next
  scene's first card;
- merge: new scenes, their cards and new cast names are appended; existing shots, scenes and
  cast are never changed. A script scene number the board already uses is renumbered after the
  board's highest, and the preview says so;
- the whole import is one undoable edit (studio.services.edits); a file that cannot be read
  raises :class:`~studio.screenplay.ScriptError` naming the line, and nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from studio.board import Board, CastMember, Scene, Shot, Transition, fit_dissolves, new_id, random_seed
from studio.scenes import dialogue_timing
from studio.screenplay import Paragraph, Script, ScriptScene, read_script
from studio.services.fields import FieldError
from studio.storage import Project

GRANULARITIES: tuple[str, ...] = ("scene", "action", "exchange")
MAX_CAP = 200
PROMPT_CHARS = 400
_TRANSITIONS = (("DISSOLVE", "cross_dissolve"), ("FADE TO BLACK", "dip_to_black"), ("FADE OUT", "dip_to_black"),
                ("FADE TO WHITE", "dip_to_white"))


@dataclass(frozen=True)
class ImportOptions:
    granularity: str = "action"
    cap: int = 12
    """At most this many cards per scene."""
    min_seconds: float = 2.0
    """A card without dialogue lasts this long; one with dialogue at least this long."""

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise FieldError("granularity", f"must be one of {', '.join(GRANULARITIES)}, got {self.granularity!r}")
        if isinstance(self.cap, bool) or not isinstance(self.cap, int) or not 1 <= self.cap <= MAX_CAP:
            raise FieldError("cap", f"must be a whole number of cards per scene from 1 to {MAX_CAP}, got {self.cap!r}")
        if isinstance(self.min_seconds, bool) or not isinstance(self.min_seconds, (int, float)) \
                or not 0.1 <= self.min_seconds <= 60:
            raise FieldError("min_seconds", f"must be from 0.1 to 60 seconds, got {self.min_seconds!r}")

    @classmethod
    def parse(cls, values: dict[str, Any] | None) -> "ImportOptions":
        """From a JSON client or the UI's widgets ("12" and 12.0 are fine)."""
        values = dict(values or {})
        unknown = sorted(set(values) - {"granularity", "cap", "min_seconds"})
        if unknown:
            raise FieldError(unknown[0], "is not an import option; options are granularity, cap, min_seconds")
        cap = values.get("cap", 12)
        try:
            if isinstance(cap, str) or (isinstance(cap, float) and cap == int(cap)):
                cap = int(float(cap))
            minimum = float(values.get("min_seconds", 2.0))
        except (TypeError, ValueError):
            raise FieldError("cap", f"must be a whole number, got {cap!r}") from None
        return cls(granularity=str(values.get("granularity", "action")), cap=cap, min_seconds=minimum)


@dataclass(frozen=True)
class PlannedScene:
    scene: Scene
    shots: tuple[Shot, ...]
    source_line: int
    renumbered_from: str = ""


@dataclass(frozen=True)
class ImportPlan:
    """What an import will add: shown as the preview, then applied as it is."""

    title: str
    format: str
    options: ImportOptions
    scenes: tuple[PlannedScene, ...]
    new_cast: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def shot_count(self) -> int:
        return sum(len(planned.shots) for planned in self.scenes)

    def rows(self) -> list[list[Any]]:
        """The preview table: scene, heading, shots, characters, first line of the scene."""
        return [[planned.scene.number, planned.scene.heading(), len(planned.shots),
                 ", ".join(dict.fromkeys(name for shot in planned.shots for name in shot.characters)),
                 planned.source_line]
                for planned in self.scenes]

    def summary(self) -> str:
        cast = f"; new cast: {', '.join(self.new_cast)}" if self.new_cast else ""
        return (f"{len(self.scenes)} scene(s), {self.shot_count} shot(s) at '{self.options.granularity}' "
                f"granularity (at most {self.options.cap} per scene){cast}")

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title, "format": self.format, "summary": self.summary(),
            "granularity": self.options.granularity, "cap": self.options.cap,
            "scenes": [{"number": p.scene.number, "heading": p.scene.heading(), "synopsis": p.scene.synopsis,
                        "line": p.source_line, "renumbered_from": p.renumbered_from,
                        "shots": [{"title": s.title, "action": s.action, "speaker": s.speaker, "dialogue": s.dialogue,
                                   "characters": list(s.characters), "duration": s.duration} for s in p.shots]}
                       for p in self.scenes],
            "new_cast": list(self.new_cast), "warnings": list(self.warnings), "shots": self.shot_count,
        }


# --------------------------------------------------------------------------------------------
# Cards from paragraphs


def _units(scene: ScriptScene, granularity: str) -> list[list[Paragraph]]:
    """The scene's paragraphs grouped, one group per card (before the cap)."""
    if granularity == "scene":
        return [list(scene.paragraphs)] if scene.paragraphs else [[]]
    units: list[list[Paragraph]] = []
    for paragraph in scene.paragraphs:
        if paragraph.kind == "action":
            units.append([paragraph])
        elif granularity == "action" and units:
            units[-1].append(paragraph)
        elif granularity == "exchange" and units and units[-1][-1].kind == "dialogue":
            units[-1].append(paragraph)
        else:
            units.append([paragraph])
    return units or [[]]


def _capped(units: list[list[Paragraph]], cap: int) -> list[list[Paragraph]]:
    """At most ``cap`` groups: neighbours merged so the groups are as even as they can be."""
    if len(units) <= cap:
        return units
    merged: list[list[Paragraph]] = []
    for group in range(cap):
        start, stop = len(units) * group // cap, len(units) * (group + 1) // cap
        merged.append([paragraph for unit in units[start:stop] for paragraph in unit])
    return merged


def _dialogue(paragraphs: list[Paragraph]) -> tuple[str, str]:
    """(dialogue text, speaker): "NAME: text" lines, or the bare text when one character speaks."""
    speeches = [speech for paragraph in paragraphs for speech in paragraph.speeches]
    speakers = list(dict.fromkeys(speech.character for speech in speeches))
    if len(speakers) == 1 and not any(paragraph.dual for paragraph in paragraphs):
        return "\n".join(speech.text for speech in speeches), speakers[0]
    lines = []
    for paragraph in paragraphs:
        for speech in paragraph.speeches:
            together = " (together)" if paragraph.dual else ""
            lines.append(f"{speech.character}{together}: {speech.text}")
    return "\n".join(lines), speakers[0] if speakers else ""


def _title(action: str, speaker: str, fallback: str) -> str:
    text = " ".join((action or "").split())
    if not text:
        return f"{speaker.title()} speaks" if speaker else fallback
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first if len(first) <= 60 else first[:57].rstrip() + "..."


def _mentioned(names: list[str], text: str) -> list[str]:
    return [name for name in names if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)]


def _scene_shots(board: Board, script_scene: ScriptScene, scene: Scene, options: ImportOptions,
                 cast_names: list[str]) -> tuple[Shot, ...]:
    groups = _capped(_units(script_scene, options.granularity), options.cap)
    place = ", ".join(part for part in (scene.location.lower(), scene.time_of_day.lower()) if part)
    minimum = max(1, board.fps.seconds_to_frames(options.min_seconds))
    pad = board.fps.seconds_to_frames(0.5)
    shots = []
    for index, group in enumerate(groups):
        action = "\n\n".join(p.text for p in group if p.kind == "action")
        dialogue, speaker = _dialogue(group)
        notes = [note for p in group for note in p.notes]
        if index == 0:
            notes = list(script_scene.notes) + notes
        speakers = list(dict.fromkeys(s.character for p in group for s in p.speeches))
        characters = tuple(dict.fromkeys(speakers + _mentioned(cast_names, action)))
        prompt = " ".join(f"{place}. {action}".split()) if place else " ".join(action.split())
        shot = Shot(
            id=new_id("shot"), title=_title(action, speaker, scene.heading().title() or "Shot"),
            prompt=prompt[:PROMPT_CHARS], action=action, dialogue=dialogue, speaker=speaker,
            characters=characters, notes="\n".join(notes), location=scene.location.title()[:200],
            int_ext=scene.int_ext, scene_id=scene.id, seed=random_seed(), seed_locked=False, duration=minimum,
        )
        needed = dialogue_timing(board, shot).needed
        shots.append(shot.replace(duration=max(minimum, needed + pad if needed else 0)))
    return tuple(shots)


def _transition(text: str, board: Board) -> Transition:
    upper = text.upper()
    for word, kind in _TRANSITIONS:
        if word in upper:
            return Transition(kind, max(1, board.fps.seconds_to_frames(0.5)))
    return Transition()


# --------------------------------------------------------------------------------------------
# Plan and apply


def plan_import(board: Board, script: Script, options: ImportOptions | None = None) -> ImportPlan:
    """What importing ``script`` into ``board`` adds (pure: nothing is written)."""
    options = options or ImportOptions()
    taken = {scene.number for scene in board.scenes if scene.number}
    numeric = [int(n) for n in taken if n.isdigit()]
    next_number = max(numeric, default=0) + 1
    known = {member.name.casefold() for member in board.cast}
    new_cast = [name for name in script.characters if name.casefold() not in known]
    cast_names = [member.name for member in board.cast] + new_cast
    warnings = list(script.warnings)
    planned: list[PlannedScene] = []
    for position, script_scene in enumerate(script.scenes):
        wanted = script_scene.number or str(len(board.scenes) + position + 1)
        number, renumbered = wanted, ""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,15}", number) or number in taken:
            while str(next_number) in taken:
                next_number += 1
            number, renumbered = str(next_number), wanted
            warnings.append(f"line {script_scene.line}: scene {wanted} is numbered {number} "
                            f"({'the board already has a scene ' + wanted if wanted in taken else 'not a scene number'})")
        taken.add(number)
        if number.isdigit():
            next_number = max(next_number, int(number) + 1)
        scene = Scene(id=new_id("scene"), number=number, int_ext=script_scene.int_ext,
                      location=script_scene.location[:200], time_of_day=script_scene.time_of_day[:200],
                      synopsis=script_scene.synopsis)
        planned.append(PlannedScene(scene, _scene_shots(board, script_scene, scene, options, cast_names),
                                    script_scene.line, renumbered))
    for previous, (index, current) in zip(script.scenes, enumerate(planned[1:], start=1)):
        transition = _transition(previous.transition_out, board)
        if transition.kind != "cut" and current.shots:
            first = current.shots[0].replace(transition=transition)
            planned[index] = PlannedScene(current.scene, (first,) + current.shots[1:], current.source_line,
                                          current.renumbered_from)
    return ImportPlan(title=script.title, format=script.format, options=options, scenes=tuple(planned),
                      new_cast=tuple(new_cast), warnings=tuple(warnings))


def apply_plan(board: Board, plan: ImportPlan) -> Board:
    """The board with the plan's scenes, cards and cast appended; nothing already there changes."""
    shots = board.shots + tuple(shot for planned in plan.scenes for shot in planned.shots)
    return board.replace(
        scenes=board.scenes + tuple(planned.scene for planned in plan.scenes),
        cast=board.cast + tuple(CastMember(name) for name in plan.new_cast),
        shots=board.shots + fit_dissolves(shots)[len(board.shots):],
    )


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    board: Board | None
    """The saved board; None for a dry run."""


def import_script(project: Project, data: bytes, name: str, options: ImportOptions | None = None,
                  actor: str = "", dry_run: bool = False) -> ImportResult:
    """Read ``data`` (a file called ``name``), plan the import against the board, and unless
    ``dry_run`` apply it as one undoable edit. ScriptError (naming the line) leaves the board as it was."""
    from studio.services import edits

    script = read_script(data, name)
    plan = plan_import(project.load(), script, options)
    if dry_run:
        return ImportResult(plan, None)

    applied: list[ImportPlan] = []

    def change(board: Board) -> Board:  # planned again on the board as it is under the lock
        applied[:] = [plan_import(board, script, plan.options)]
        return apply_plan(board, applied[0])

    saved = edits.apply_change(project, change, actor=actor, label=f"import script {name[:60]}")
    return ImportResult(applied[0], saved)
