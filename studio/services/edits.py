"""The one edit service: every change a person makes to a board, from the UI, the CLI or the API.

Rules it owns:
- an edit is a patch of named fields sent with the ``base_revision`` it was based on; it is
  refused with :class:`EditConflict` when one of those fields changed since, and merged when
  only other fields or other shots did (the history log says which fields each revision touched);
- every edit is one undoable step of the ``actor`` who made it (the login, or the browser
  session when there is no login); undo and redo apply the inverse of that step's delta and are
  refused, naming the field, when another edit changed the same field since;
- a deleted take keeps its files, so deleting it can be undone.

Everything runs inside :meth:`Project.update` (the project lock), so a check and the save it
guards are one step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from studio import history
from studio.board import KEYFRAME_ROLES, AudioTrack, Board, BoardError, Keyframe, fit_dissolves
from studio.board_codec import board_from_dict, board_to_dict, shot_to_dict
from studio.services.fields import (
    STORED_AS,
    FieldError,
    apply_board_settings,
    apply_shot_changes,
    duplicate_shot,
    new_shot,
)
from studio.storage import Project

if TYPE_CHECKING:  # images imports OpenCV: only when an image arrives
    from studio.images import DecodeLimiter


class EditConflict(ValueError):
    """The edit's fields were changed since its base revision; ``current`` holds their values now."""

    def __init__(self, fields: list[str], message: str, current: Mapping[str, Any] | None = None,
                 revision: int = 0) -> None:
        self.fields = fields
        self.current = dict(current or {})
        self.revision = revision
        super().__init__(message)


class NothingToUndo(ValueError):
    """The actor has no step left to undo (or redo)."""


@dataclass(frozen=True)
class UndoState:
    """What the undo and redo buttons say for one actor."""

    undo: str | None
    redo: str | None


# --------------------------------------------------------------------------------------------
# Conflicts


def changed_keys_since(project: Project, board: Board, base_revision: int) -> set[str] | None:
    """The keys (see :func:`history.delta_keys`) changed after ``base_revision``; None when the
    log no longer covers every revision since then (the caller must treat all as changed)."""
    if base_revision >= board.revision:
        return set()
    events = [event for event in project.history.events() if event.revision > base_revision]
    if {event.revision for event in events} != set(range(base_revision + 1, board.revision + 1)):
        return None
    keys: set[str] = set()
    for event in events:
        keys |= event.keys()
    return keys


def _check_base(project: Project, board: Board, base_revision: int | None, wanted: dict[str, str],
                current: Callable[[], dict[str, Any]]) -> None:
    """Refuse when a key in ``wanted`` (patch field -> history key) changed since the base."""
    if base_revision is None:
        return
    if isinstance(base_revision, bool) or not isinstance(base_revision, int) or base_revision < 0:
        raise FieldError("base_revision", f"must be a revision number (a whole number), got {base_revision!r}")
    if base_revision > board.revision:
        raise FieldError("base_revision", f"revision {base_revision} is newer than the board's ({board.revision})")
    changed = changed_keys_since(project, board, base_revision)
    hits = sorted(field for field, key in wanted.items()
                  if changed is None or key in changed or key.split(".")[0] + ".*" in changed)
    if hits:
        why = ("the board's history does not reach back that far" if changed is None
               else "someone else changed them")
        raise EditConflict(hits, f"not saved: {', '.join(hits)} changed since revision {base_revision} ({why}); "
                                 "the current values are shown — make your change again on top of them",
                           current(), board.revision)


def _edit(project: Project, fn: Callable[[Board], Board], actor: str, label: str, **kwargs: Any) -> Board:
    """project.update with BoardError turned into FieldError (a message that names the field)."""
    def guarded(board: Board) -> Board:
        try:
            return fn(board)
        except BoardError as error:
            raise FieldError(error.field.split(".")[-1].split("[")[0] or "board", str(error)) from None

    return project.update(guarded, actor=actor, label=label, **kwargs)


def apply_change(project: Project, change: Callable[[Board], Board], actor: str = "", label: str = "edit") -> Board:
    """A change another service computed (a script import, fit to dialogue) as one undoable step
    of ``actor``; BoardError becomes FieldError like every other edit."""
    return _edit(project, change, actor, label)


# --------------------------------------------------------------------------------------------
# Shots


def patch_shot(project: Project, shot_id: str, changes: Mapping[str, Any], base_revision: int | None = None,
               actor: str = "") -> Board:
    """Apply ``changes`` (see fields.SHOT_FIELDS) to one shot; returns the saved board."""
    if not isinstance(changes, Mapping) or not changes:
        raise FieldError("changes", "must name at least one field to change")

    def edit(board: Board) -> Board:
        wanted = {field: f"{shot_id}.{STORED_AS.get(field, field)}" for field in changes}

        def current() -> dict[str, Any]:
            stored = shot_to_dict(board.shot(shot_id))
            return {field: stored.get(STORED_AS.get(field, field)) for field in changes}

        _check_base(project, board, base_revision, wanted, current)
        return apply_shot_changes(board, shot_id, changes)

    names = ", ".join(sorted(changes))
    return _edit(project, edit, actor, f"edit {names}")


def add_shot(project: Project, *, after: str | None = None, fields: Mapping[str, Any] | None = None,
             actor: str = "") -> tuple[Board, str]:
    """A new shot after ``after`` (None: at the end); returns the board and the new shot's id."""
    made: list[str] = []

    def edit(board: Board) -> Board:
        shot = new_shot(board, **dict(fields or {}))
        made.append(shot.id)
        index = len(board.shots) if after is None else board.index_of(after) + 1
        return board.add_shot(shot, index)

    board = _edit(project, edit, actor, "add shot")
    return board, made[-1]


def duplicate_shots(project: Project, shot_ids: Iterable[str], actor: str = "") -> tuple[Board, list[str]]:
    """Copies (no takes) right after the last of ``shot_ids``, in board order."""
    ids = list(dict.fromkeys(shot_ids))
    made: list[str] = []

    def edit(board: Board) -> Board:
        made.clear()
        ordered = sorted((board.shot(sid) for sid in ids), key=lambda shot: board.index_of(shot.id))
        if not ordered:
            raise FieldError("shots", "select at least one shot to duplicate")
        index = board.index_of(ordered[-1].id) + 1
        for offset, shot in enumerate(ordered):
            copy = duplicate_shot(shot)
            made.append(copy.id)
            board = board.add_shot(copy, index + offset)
        return board

    board = _edit(project, edit, actor, f"duplicate {len(ids)} shot(s)")
    return board, made


def delete_shots(project: Project, shot_ids: Iterable[str], actor: str = "") -> Board:
    """Remove shots (their take files stay, so the delete can be undone)."""
    ids = list(dict.fromkeys(shot_ids))

    def edit(board: Board) -> Board:
        if not ids:
            raise FieldError("shots", "select at least one shot to delete")
        for sid in ids:
            board = board.remove_shot(sid)
        return board

    return _edit(project, edit, actor, f"delete {len(ids)} shot(s)")


def move_shots(project: Project, shot_ids: Iterable[str], to_index: int, actor: str = "") -> Board:
    """Move shots (kept in their board order, as one block) so the first lands at ``to_index``
    of the board without them; dissolves that no longer fit are shortened by the model."""
    ids = list(dict.fromkeys(shot_ids))
    if isinstance(to_index, bool) or not isinstance(to_index, int):
        raise FieldError("to_index", f"must be a whole number, got {to_index!r}")

    def edit(board: Board) -> Board:
        moving = sorted((board.shot(sid) for sid in ids), key=lambda shot: board.index_of(shot.id))
        if not moving:
            raise FieldError("shots", "select at least one shot to move")
        rest = [shot for shot in board.shots if shot.id not in ids]
        index = max(0, min(to_index, len(rest)))
        shots = tuple(rest[:index] + moving + rest[index:])
        return board.replace(shots=fit_dissolves(shots))

    return _edit(project, edit, actor, f"move {len(ids)} shot(s)")


def choose_take(project: Project, shot_id: str, take_id: str, actor: str = "") -> Board:
    return patch_shot(project, shot_id, {"chosen_take": take_id}, None, actor)


def delete_take(project: Project, shot_id: str, take_id: str, actor: str = "") -> Board:
    """Remove a take from its shot (the choice moves to the newest remaining take). Its files
    stay on disk so that undo brings it back."""
    return _edit(project, lambda board: board.with_shot(board.shot(shot_id).without_take(take_id)),
                 actor, "delete take")


def set_keyframe(project: Project, shot_id: str, image: bytes | Path, role: str = "first", frame: int = 0,
                 actor: str = "", limiter: DecodeLimiter | None = None) -> Board:
    """Store an uploaded image (decoded and re-encoded; bombs and non-images refused) as one of
    the shot's keyframes, replacing the one of the same role (or a mid keyframe at that frame).
    ``limiter`` is the server's bound on decodes at once (each upload's memory is bounded too)."""
    if role not in KEYFRAME_ROLES:
        raise FieldError("role", f"must be one of {', '.join(KEYFRAME_ROLES)}, got {role!r}")
    from studio.images import MAX_BYTES, ImageError

    try:
        if isinstance(image, Path):
            size = image.stat().st_size  # checked before reading the file whole
            if size > MAX_BYTES:
                raise ImageError(f"{image.name}: {size / 1e6:.1f} MB is more than the {MAX_BYTES / 1e6:.0f} MB upload limit")
            image = image.read_bytes()
        relative = project.import_keyframe(image, limiter=limiter)
    except ImageError as error:
        raise FieldError("keyframe", str(error)) from None

    def edit(board: Board) -> Board:
        shot = board.shot(shot_id)
        at = {"first": 0, "last": shot.duration - 1}.get(role, frame)
        return board.with_shot(shot.with_keyframe(Keyframe(role=role, path=relative, frame=at)))

    return _edit(project, edit, actor, f"{role} keyframe")


def remove_keyframes(project: Project, shot_id: str, actor: str = "", role: str | None = None) -> Board:
    """Remove the shot's keyframes (only those of ``role`` when given); the files stay for undo."""
    def edit(board: Board) -> Board:
        shot = board.shot(shot_id)
        return board.with_shot(shot.replace(keyframes=tuple(k for k in shot.keyframes if role and k.role != role)))

    return _edit(project, edit, actor, "remove keyframes")


# --------------------------------------------------------------------------------------------
# Board


def patch_board(project: Project, changes: Mapping[str, Any], base_revision: int | None = None,
                actor: str = "", keep: str = "seconds") -> Board:
    """Board settings (fields.BOARD_FIELDS). A frame-rate change keeps seconds unless
    ``keep="frames"``."""
    if not isinstance(changes, Mapping) or not changes:
        raise FieldError("changes", "must name at least one setting to change")

    def edit(board: Board) -> Board:
        stored = board_to_dict(board)
        wanted = {field: f"board.{field}" for field in changes}
        _check_base(project, board, base_revision, wanted, lambda: {f: stored.get(f) for f in changes})
        return apply_board_settings(board, changes, keep=keep)

    return _edit(project, edit, actor, f"board {', '.join(sorted(changes))}")


def set_audio(project: Project, source: Path | None, actor: str = "", offset: int = 0) -> Board:
    """Lay a scratch track under the cut from frame ``offset`` (None removes it)."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise FieldError("offset", f"must be a whole number of frames of at least 0, got {offset!r}")
    relative = project.import_audio(Path(source)) if source is not None else None
    track = AudioTrack(path=relative, offset=offset) if relative else None
    return _edit(project, lambda board: board.replace(audio=track), actor, "scratch audio")


AUDIO_FIELDS = ("offset", "level", "muted", "fade_out")


def patch_audio(project: Project, changes: Mapping[str, Any], base_revision: int | None = None,
                actor: str = "") -> Board:
    """Change the scratch track's offset (frames), level (dB), muted or fade_out, based on
    ``base_revision`` like any patch (refused when the track changed since)."""
    if not isinstance(changes, Mapping) or not changes:
        raise FieldError("changes", f"must name at least one of {', '.join(AUDIO_FIELDS)}")
    unknown = sorted(set(changes) - set(AUDIO_FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"is not a scratch track setting; use {', '.join(AUDIO_FIELDS)}")

    def edit(board: Board) -> Board:
        if board.audio is None:
            raise FieldError("audio", "the board has no scratch track; add one first")
        _check_base(project, board, base_revision, {name: "board.audio" for name in changes},
                    lambda: {name: getattr(board.audio, name) for name in changes})
        return board.replace(audio=dataclasses.replace(board.audio, **dict(changes)))

    return _edit(project, edit, actor, f"scratch audio {', '.join(sorted(changes))}")


# --------------------------------------------------------------------------------------------
# Undo and redo


def undo_state(project: Project, actor: str = "") -> UndoState:
    events = project.history.events()
    stacks = history.stacks(events, actor)
    labels = {event.revision: event.label for event in events}
    return UndoState(undo=labels.get(stacks.undo[-1]) if stacks.undo else None,
                     redo=labels.get(stacks.redo[-1]) if stacks.redo else None)


def undo(project: Project, actor: str = "") -> Board:
    """Undo the actor's newest step (refused, naming the field, if someone changed it since)."""
    return _step(project, actor, "undo")


def redo(project: Project, actor: str = "") -> Board:
    """Redo the actor's newest undone step."""
    return _step(project, actor, "redo")


def _step(project: Project, actor: str, kind: str) -> Board:
    events = project.history.events()
    stacks = history.stacks(events, actor)
    stack = stacks.undo if kind == "undo" else stacks.redo
    if not stack:
        raise NothingToUndo(f"nothing to {kind}")
    target = next(event for event in events if event.revision == stack[-1])

    def edit(board: Board) -> Board:
        now = history.stacks(project.history.events(), actor)
        if (now.undo if kind == "undo" else now.redo)[-1:] != [target.revision]:
            raise EditConflict([], f"{kind}: the history changed meanwhile; try again")
        delta = history.invert(target.delta) if kind == "undo" else target.delta
        try:
            data = history.apply(board_to_dict(board), delta, f"{kind} of '{target.label}'")
        except history.HistoryConflict as error:
            raise EditConflict(error.fields, str(error), revision=board.revision) from None
        return board_from_dict(data).replace(revision=board.revision)

    return _edit(project, edit, actor, f"{kind} {target.label}", kind=kind, target=target.revision,
                 undoable=False)
