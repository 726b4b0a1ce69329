"""The cast and locations on paper and in the edit: a PDF page of names, descriptions and reference
pictures (read back with pypdf), OTIO metadata with the cast, locations and each clip's tags."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.board import Board, Lora, Shot
from studio.services import edits
from studio.services.cast import looks, remove_look, set_look
from studio.services.export import export_board
from studio.services.fields import FieldError
from studio.storage import Project


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "film", Board(title="Keeper", width=96, height=64, shots=(
        Shot("s1", title="Ada reads", prompt="a letter", characters=("ADA",), location="Lighthouse",
             loras=(Lora("ink/style", 0.5),)),
        Shot("s2", title="Cliff", prompt="the path"),
    )))
    set_look(project, "cast", "ADA", description="a keeper in a yellow oilskin", add_reference=png(1), actor="me")
    set_look(project, "location", "Lighthouse", description="a white tower on black rocks", add_reference=png(2),
             actor="me")
    return project


def test_cast_edits_are_undoable_and_refuse_bad_input(project: Project) -> None:
    board = project.load()
    assert looks(board)["cast"][0]["description"] == "a keeper in a yellow oilskin"
    assert len(board.cast[0].references) == 1 and project.resolve(board.cast[0].references[0]).is_file()
    edits.undo(project, "me")
    assert project.load().locations == ()
    with pytest.raises(FieldError, match="Reference: image: not a recognised image"):
        set_look(project, "cast", "ADA", add_reference=b"not an image")
    with pytest.raises(FieldError, match="must be one of cast, location"):
        set_look(project, "prop", "Lamp")
    remove_look(project, "cast", "ada")
    assert project.load().cast == ()


def test_pdf_has_a_cast_page_and_otio_carries_the_cast(project: Project) -> None:
    import opentimelineio as otio
    from pypdf import PdfReader

    reader = PdfReader(export_board(project, "pdf"))
    last = reader.pages[-1]
    text = last.extract_text()
    assert "cast and locations" in text and "ADA" in text and "yellow oilskin" in text and "white tower" in text
    assert len(last.images) == 2
    timeline = otio.adapters.read_from_file(str(export_board(project, "otio")))
    previz = timeline.metadata["previz"]
    assert previz["cast"][0]["name"] == "ADA" and previz["locations"][0]["description"] == "a white tower on black rocks"
    clip = next(iter(timeline.find_clips()))
    assert list(clip.metadata["previz"]["characters"]) == ["ADA"] and clip.metadata["previz"]["location"] == "Lighthouse"
    assert [dict(lora) for lora in clip.metadata["previz"]["loras"]] == [{"source": "ink/style", "weight": 0.5}]
