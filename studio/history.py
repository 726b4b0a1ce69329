"""What each saved edit changed: the project's edit log, for merging, conflicts and undo.

Every save through :meth:`studio.storage.Project.update` bumps the board's ``revision`` and
appends one event to ``.previz/history.jsonl`` holding a :data:`Delta` between the two board
dicts, at the grain users edit at: a board setting, one field of one shot, a shot added or
removed, the order of the shots. The takes of a shot are a set (a take landing and a take
deleted elsewhere never collide).

Why a delta and not a copy of the board: two people editing different fields of one shot must
both land, and undoing one person's edit must not undo the other's. Applying a delta checks
that each field still holds the value the edit left there, and refuses with
:class:`HistoryConflict` naming it otherwise.

The log is append-only JSON lines (a torn last line after a crash is ignored) and is compacted to
the newest :data:`EVENTS_KEPT` events. Pure functions here, plus :class:`HistoryLog` for the file.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from studio.common import write_atomic

Delta = dict[str, Any]
"""``{"board": {name: [old, new]}, "shots": {id: {name: [old, new]}},
"takes": {id: {"added": [take], "removed": [take]}}, "added": {id: {"index", "shot"}},
"removed": {id: {"index", "shot"}}, "order": [old ids, new ids]}`` (empty parts left out)."""

EVENTS_KEPT = 400
MAX_LOG_BYTES = 8 * 1024 * 1024
"""Compacted past this size too: a log of huge pasted prompts must not grow without bound."""
HISTORY_FILE = "history.jsonl"


class HistoryConflict(ValueError):
    """A delta cannot be applied: ``fields`` were changed since by another edit."""

    def __init__(self, fields: list[str], message: str) -> None:
        self.fields = fields
        super().__init__(message)


@dataclass(frozen=True)
class Event:
    """One saved edit: the revision it produced, who made it, and what it changed."""

    revision: int
    actor: str
    label: str
    kind: str = "edit"
    """"edit", or "undo"/"redo" of the event whose revision is ``target``."""
    target: int | None = None
    undoable: bool = True
    delta: Delta = field(default_factory=dict)

    def keys(self) -> set[str]:
        return delta_keys(self.delta)

    def to_json(self) -> str:
        return json.dumps({"revision": self.revision, "actor": self.actor, "label": self.label,
                           "kind": self.kind, "target": self.target, "undoable": self.undoable,
                           "delta": self.delta}, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------------------------
# Deltas between two board dicts (board_codec.board_to_dict output)


def diff(before: dict[str, Any], after: dict[str, Any]) -> Delta:
    """What changed from ``before`` to ``after``; {} when nothing did (the revision aside)."""
    delta: Delta = {}
    names = (set(before) | set(after)) - {"shots", "revision"}
    board = {name: [before.get(name), after.get(name)] for name in sorted(names)
             if before.get(name) != after.get(name)}
    if board:
        delta["board"] = board
    old_shots = {shot["id"]: (index, shot) for index, shot in enumerate(before.get("shots", []))}
    new_shots = {shot["id"]: (index, shot) for index, shot in enumerate(after.get("shots", []))}
    added = {sid: {"index": index, "shot": shot} for sid, (index, shot) in new_shots.items() if sid not in old_shots}
    removed = {sid: {"index": index, "shot": shot} for sid, (index, shot) in old_shots.items() if sid not in new_shots}
    if added:
        delta["added"] = added
    if removed:
        delta["removed"] = removed
    shots: dict[str, dict[str, list[Any]]] = {}
    takes: dict[str, dict[str, list[Any]]] = {}
    for sid, (_, new) in new_shots.items():
        if sid not in old_shots:
            continue
        old = old_shots[sid][1]
        changed = {name: [old.get(name), new.get(name)] for name in sorted((set(old) | set(new)) - {"takes"})
                   if old.get(name) != new.get(name)}
        if changed:
            shots[sid] = changed
        old_takes, new_takes = old.get("takes", []), new.get("takes", [])
        if old_takes != new_takes:
            takes[sid] = {"added": [t for t in new_takes if t not in old_takes],
                          "removed": [t for t in old_takes if t not in new_takes]}
    if shots:
        delta["shots"] = shots
    if takes:
        delta["takes"] = takes
    common_old = [sid for sid in old_shots if sid in new_shots]
    common_new = [sid for sid in new_shots if sid in old_shots]
    if common_old != common_new:
        delta["order"] = [common_old, common_new]
    return delta


def delta_keys(delta: Delta) -> set[str]:
    """The names two edits collide on: "board.<setting>", "<shot id>.<field>", "<shot id>.*"
    for a shot added or removed, "<shot id>.takes", and "order"."""
    keys = {f"board.{name}" for name in delta.get("board", {})}
    for sid, fields in delta.get("shots", {}).items():
        keys |= {f"{sid}.{name}" for name in fields}
    keys |= {f"{sid}.takes" for sid in delta.get("takes", {})}
    keys |= {f"{sid}.*" for sid in (*delta.get("added", {}), *delta.get("removed", {}))}
    if "order" in delta:
        keys.add("order")
    return keys


def invert(delta: Delta) -> Delta:
    """The delta that undoes ``delta``."""
    inverse: Delta = {}
    if "board" in delta:
        inverse["board"] = {name: [new, old] for name, (old, new) in delta["board"].items()}
    if "shots" in delta:
        inverse["shots"] = {sid: {name: [new, old] for name, (old, new) in fields.items()}
                            for sid, fields in delta["shots"].items()}
    if "takes" in delta:
        inverse["takes"] = {sid: {"added": change["removed"], "removed": change["added"]}
                            for sid, change in delta["takes"].items()}
    if "added" in delta:
        inverse["removed"] = delta["added"]
    if "removed" in delta:
        inverse["added"] = delta["removed"]
    if "order" in delta:
        inverse["order"] = [delta["order"][1], delta["order"][0]]
    return inverse


def apply(board: dict[str, Any], delta: Delta, what: str = "this edit") -> dict[str, Any]:
    """``board`` with ``delta`` applied; HistoryConflict when a field no longer holds the value
    the delta starts from (another edit changed it since)."""
    result = copy.deepcopy(board)
    shots: list[dict[str, Any]] = result.setdefault("shots", [])
    by_id = {shot["id"]: shot for shot in shots}
    conflicts: list[str] = []
    for name, (old, new) in delta.get("board", {}).items():
        if result.get(name) != old:
            conflicts.append(f"board.{name}")
        result[name] = new
    for sid, entry in delta.get("removed", {}).items():
        if sid not in by_id:
            conflicts.append(f"{sid}.*")
            continue
        shots.remove(by_id.pop(sid))
    for sid, fields in delta.get("shots", {}).items():
        shot = by_id.get(sid)
        if shot is None:
            conflicts.append(f"{sid}.*")
            continue
        for name, (old, new) in fields.items():
            if shot.get(name) != old:
                conflicts.append(f"{sid}.{name}")
            shot[name] = new
    for sid, change in delta.get("takes", {}).items():
        shot = by_id.get(sid)
        if shot is None:
            conflicts.append(f"{sid}.*")
            continue
        current = [t for t in shot.get("takes", []) if t not in change["removed"]]
        shot["takes"] = current + [t for t in change["added"] if t not in current]
    if "order" in delta:
        shots[:] = _reordered(shots, delta["order"][1])
    for sid, entry in sorted(delta.get("added", {}).items(), key=lambda item: item[1]["index"]):
        if sid in by_id:
            conflicts.append(f"{sid}.*")
            continue
        shot = copy.deepcopy(entry["shot"])
        shots.insert(min(entry["index"], len(shots)), shot)
        by_id[sid] = shot
    if conflicts:
        raise HistoryConflict(sorted(set(conflicts)), f"cannot apply {what}: changed since by another edit: "
                                                      f"{', '.join(sorted(set(conflicts)))}")
    return result


def _reordered(shots: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """``shots`` in ``order``; shots the order does not name keep their place after the shot
    that precedes them now."""
    rank = {sid: index for index, sid in enumerate(order)}
    known = sorted((s for s in shots if s["id"] in rank), key=lambda s: rank[s["id"]])
    result: list[dict[str, Any]] = []
    pending = iter(known)
    for shot in shots:
        result.append(shot if shot["id"] not in rank else next(pending))
    return result


# --------------------------------------------------------------------------------------------
# Undo stacks, rebuilt from the log


@dataclass
class Stacks:
    """One actor's undo and redo stacks, as revisions of their "edit" events."""

    undo: list[int] = field(default_factory=list)
    redo: list[int] = field(default_factory=list)


def stacks(events: Iterable[Event], actor: str) -> Stacks:
    """Replay ``actor``'s events: an edit pushes, an undo moves the top to redo, a redo back;
    a new edit clears redo (as in every editor)."""
    result = Stacks()
    for event in events:
        if event.actor != actor:
            continue
        if event.kind == "edit" and event.undoable:
            result.undo.append(event.revision)
            result.redo.clear()
        elif event.kind == "undo" and event.target in result.undo:
            result.undo.remove(event.target)
            result.redo.append(event.target)
        elif event.kind == "redo" and event.target in result.redo:
            result.redo.remove(event.target)
            result.undo.append(event.target)
    return result


# --------------------------------------------------------------------------------------------
# The log file


def take_paths(delta: Delta) -> set[str]:
    """The video paths of every take ``delta`` mentions (added, removed, or inside a shot that
    was added or removed): the files an undo of it could bring back."""
    takes = [take for change in delta.get("takes", {}).values() for part in ("added", "removed")
             for take in change.get(part, [])]
    for part in ("added", "removed"):
        takes += [take for entry in delta.get(part, {}).values() for take in entry["shot"].get("takes", [])]
    return {str(take["path"]) for take in takes if isinstance(take, dict) and take.get("path")}


class HistoryLog:
    """``<project>/.previz/history.jsonl``: appended once per saved edit, under the project lock.

    The parsed events are cached against the file's size and modification time: the UI asks for
    the undo labels on every poll, and the log may hold megabytes.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / HISTORY_FILE
        self._cached: tuple[tuple[int, int], list[Event]] | None = None

    def events(self) -> list[Event]:
        """Every readable event, oldest first (a torn or foreign line is skipped)."""
        try:
            stat = self.path.stat()
            if self._cached is not None and self._cached[0] == (stat.st_size, stat.st_mtime_ns):
                return list(self._cached[1])
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return []
        events = self._parse(text)
        self._cached = ((stat.st_size, stat.st_mtime_ns), events)
        return list(events)

    @staticmethod
    def _parse(text: str) -> list[Event]:
        events = []
        for line in text.splitlines():
            try:
                data = json.loads(line)
                events.append(Event(revision=int(data["revision"]), actor=str(data["actor"]),
                                    label=str(data.get("label", "")), kind=str(data.get("kind", "edit")),
                                    target=data.get("target"), undoable=bool(data.get("undoable", True)),
                                    delta=dict(data.get("delta") or {})))
            except (ValueError, KeyError, TypeError):
                continue
        return events

    def append(self, event: Event) -> list[Event]:
        """Append one event (fsynced); compact when the log has grown past its bounds. Returns
        the events compacted away (no longer undoable), usually none."""
        self.path.parent.mkdir(exist_ok=True)
        line = (event.to_json() + "\n").encode()
        self._cached = None
        with open(self.path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        if size > MAX_LOG_BYTES or event.revision % EVENTS_KEPT == 0:
            events = self.events()
            kept, total = [], 0
            for old in reversed(events[-EVENTS_KEPT:]):
                encoded = (old.to_json() + "\n").encode()
                if total + len(encoded) > MAX_LOG_BYTES // 2:
                    break
                kept.append(encoded)
                total += len(encoded)
            write_atomic(self.path, b"".join(reversed(kept)))
            self._cached = None
            return events[:len(events) - len(kept)]
        return []
