"""A board's cast and locations as pictures see them: who and where a shot shows, in prompt words
and reference pictures, and the LoRAs that apply to it.

A shot tags its cast with ``characters`` (names) and its place with ``location`` (a name); each
matches a board cast member or location by name, ignoring case. Their descriptions are woven
into every prompt made for the shot (keyframes and takes alike), and their reference pictures go
to the models that take references (an image-edit model for keyframes, Wan VACE
``reference_images`` for takes), so the same face and place come back shot after shot.

Editing the cast and locations (description, reference pictures) goes through the edit service:
one undoable step each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.board import MAX_REFERENCES, Board, BoardError, CastMember, Location, Shot
from studio.common import shown
from studio.services.edits import apply_change
from studio.services.fields import FieldError
from studio.storage import Project

KINDS: tuple[str, ...] = ("cast", "location")


def tagged_cast(board: Board, shot: Shot) -> list[CastMember]:
    """The board's cast members the shot names in ``characters`` (board order)."""
    names = {name.strip().casefold() for name in shot.characters}
    return [member for member in board.cast if member.name.strip().casefold() in names]


def tagged_location(board: Board, shot: Shot) -> Location | None:
    wanted = shot.location.strip().casefold()
    return next((place for place in board.locations if wanted and place.name.strip().casefold() == wanted), None)


def cast_phrase(board: Board, shot: Shot) -> str:
    """Who and where, in prompt words: "ANNA: a woman in a red coat. LIGHTHOUSE: a white tower"."""
    parts = [f"{member.name}: {member.description.strip()}" for member in tagged_cast(board, shot)
             if member.description.strip()]
    place = tagged_location(board, shot)
    if place is not None and place.description.strip():
        parts.append(f"{place.name}: {place.description.strip()}")
    return ". ".join(part.rstrip(".") for part in parts)


def woven_prompt(board: Board, shot: Shot) -> str:
    """The card's prompt with its cast's and location's descriptions after it."""
    phrase = cast_phrase(board, shot)
    return ". ".join(part.strip().rstrip(".") for part in (shot.prompt, phrase) if part.strip())


def shot_references(project: Project, board: Board, shot: Shot) -> tuple[tuple[str, ...], tuple[np.ndarray, ...]]:
    """The reference pictures of the shot's cast, then its location (paths and RGB pixels), at
    most MAX_REFERENCES; a missing or broken picture is refused naming its owner."""
    from studio.images import ImageError, load_rgb

    owners: list[tuple[str, str]] = [(member.name, path) for member in tagged_cast(board, shot)
                                     for path in member.references]
    place = tagged_location(board, shot)
    if place is not None:
        owners.extend((place.name, path) for path in place.references)
    paths, images = [], []
    for owner, path in owners[:MAX_REFERENCES]:
        try:
            images.append(load_rgb(project.resolve(path, "references")))
        except (ImageError, OSError, ValueError) as error:
            raise FieldError("references", f"{owner}'s reference picture {path}: {error}") from None
        paths.append(path)
    return tuple(paths), tuple(images)


def shot_loras(board: Board, shot: Shot) -> tuple[Any, ...]:
    """The board's LoRAs, then the shot's (a shot's LoRA of the same source wins its weight)."""
    from studio.backends.loras import LoraRequest

    merged: dict[str, float] = {}
    for lora in (*board.loras, *shot.loras):
        merged[lora.source] = lora.weight
    return tuple(LoraRequest(source, weight) for source, weight in merged.items())


# --------------------------------------------------------------------------------------------
# Edits


def set_look(project: Project, kind: str, name: str, *, description: str | None = None,
             add_reference: bytes | None = None, remove_reference: str | None = None, actor: str = "") -> Board:
    """Create or change a cast member or location: its description, a reference picture added
    (decoded and stored like a keyframe) or removed (the file stays, for undo). One undoable step."""
    if kind not in KINDS:
        raise FieldError("kind", f"must be one of {', '.join(KINDS)}, got {shown(kind)}")
    if not isinstance(name, str) or not name.strip():
        raise FieldError("name", f"a {kind} needs a name, got {shown(name)}")
    stored = None
    if add_reference is not None:
        from studio.images import ImageError

        try:
            stored = project.import_keyframe(add_reference)
        except ImageError as error:
            raise FieldError("reference", str(error)) from None

    def edit(board: Board) -> Board:
        items = list(board.cast if kind == "cast" else board.locations)
        key = name.strip().casefold()
        index = next((i for i, item in enumerate(items) if item.name.strip().casefold() == key), None)
        item = items[index] if index is not None else (CastMember(name.strip()) if kind == "cast"
                                                       else Location(name.strip()))
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = description
        references = list(item.references)
        if stored is not None and stored not in references:
            references.append(stored)
        if remove_reference is not None:
            if remove_reference not in references:
                raise BoardError("references", remove_reference, f"{item.name} has no such reference picture")
            references.remove(remove_reference)
        changes["references"] = tuple(references)
        import dataclasses

        item = dataclasses.replace(item, **changes)
        if index is None:
            items.append(item)
        else:
            items[index] = item
        return board.replace(**{"cast" if kind == "cast" else "locations": tuple(items)})

    return apply_change(project, edit, actor, f"{kind} {name.strip()}")


def remove_look(project: Project, kind: str, name: str, actor: str = "") -> Board:
    """Remove a cast member or location from the board (shots keep their tags as plain words)."""
    if kind not in KINDS:
        raise FieldError("kind", f"must be one of {', '.join(KINDS)}, got {shown(kind)}")

    def edit(board: Board) -> Board:
        items = board.cast if kind == "cast" else board.locations
        kept = tuple(item for item in items if item.name.strip().casefold() != name.strip().casefold())
        if len(kept) == len(items):
            raise BoardError(kind, name, f"the board has no such {kind}")
        return board.replace(**{"cast" if kind == "cast" else "locations": kept})

    return apply_change(project, edit, actor, f"remove {kind} {name}")


def looks(board: Board) -> dict[str, list[dict[str, Any]]]:
    """The cast and locations as plain data (names, descriptions, reference paths)."""
    return {"cast": [{"name": m.name, "voice": m.voice, "description": m.description,
                      "references": list(m.references)} for m in board.cast],
            "locations": [{"name": p.name, "description": p.description, "references": list(p.references)}
                          for p in board.locations]}
