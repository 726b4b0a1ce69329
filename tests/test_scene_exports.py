"""Export back: shot list by scene (CSV, PDF) and a Fountain breakdown that a Fountain parser reads
back; scene-based shot numbers in the burn-in, the PDF storyboard, the CSV and the EDL/XML clips."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from studio.board import Board
from studio.screenplay import read_script
from studio.services.export import export_board
from studio.services.script_import import import_script, ImportOptions
from studio.storage import Project

SAMPLE = Path(__file__).parent / "fixtures" / "script" / "sample.fountain"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "film", Board(title="Keeper", width=96, height=64, shot_numbering="scene"))
    import_script(project, SAMPLE.read_bytes(), SAMPLE.name, ImportOptions(granularity="exchange"))
    return project


def test_scene_csv_lists_shots_under_their_scene(project: Project) -> None:
    rows = list(csv.DictReader(export_board(project, "scenes_csv").open(encoding="utf-8")))
    assert [(r["scene"], r["shot"]) for r in rows] == [("1", "1"), ("1", "1A"), ("1", "1B"), ("2", "2"), ("2", "2A"), ("2", "2B")]
    assert rows[0]["scene_heading"] == "INT. LIGHTHOUSE - NIGHT"
    assert rows[0]["synopsis"] == "Ada finds a letter that should not exist."
    assert "Who left this here?" in rows[2]["dialogue"] and rows[2]["dialogue_words"] == "11"


def test_scene_pdf_has_each_heading_and_shot_number(project: Project) -> None:
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(export_board(project, "scenes_pdf")).pages)
    for expected in ("1 INT. LIGHTHOUSE - NIGHT", "2 EXT. CLIFF PATH - DAWN", "1A", "2B", "Who left this here?"):
        assert expected in text


def test_fountain_breakdown_reads_back_with_the_same_scenes_dialogue_and_shot_notes(project: Project) -> None:
    out = export_board(project, "fountain")
    script = read_script(out.read_bytes(), out.name)
    assert [(s.number, s.heading) for s in script.scenes] == [("1", "INT. LIGHTHOUSE - NIGHT"), ("2", "EXT. CLIFF PATH - DAWN")]
    assert script.scenes[0].synopsis == "Ada finds a letter that should not exist."
    speeches = [(s.character, s.text) for p in script.scenes[0].paragraphs for s in p.speeches]
    assert speeches == [("ADA", "(whispering) Who left this here?"), ("TOM", "You did. Thirty years ago."),
                        ("ADA", "That's impossible.")]
    notes = [n for p in script.scenes[0].paragraphs for n in p.notes] + list(script.scenes[0].notes)
    assert any(n.startswith("SHOT 1A ·") and "Make the envelope glow a little." in n for n in notes)
    assert script.characters == ("ADA", "TOM")


def test_scene_numbers_reach_the_storyboard_shot_list_and_edit_clips(project: Project) -> None:
    import opentimelineio as otio
    from pypdf import PdfReader

    rows = list(csv.DictReader(export_board(project, "csv").open(encoding="utf-8")))
    assert [r["shot"] for r in rows] == ["1", "1A", "1B", "2", "2A", "2B"]
    text = "".join(page.extract_text() for page in PdfReader(export_board(project, "pdf")).pages)
    assert "SHOT 1B" in text and "SHOT 2A" in text
    timeline = otio.adapters.read_from_file(str(export_board(project, "otio")))
    names = [clip.name for clip in timeline.find_clips()]
    assert [name.split()[0] for name in names] == ["SHOT001", "SHOT001A", "SHOT001B", "SHOT002", "SHOT002A", "SHOT002B"]
    edl = export_board(project, "edl").read_text()
    assert "SHOT001A" in edl


def test_the_burn_in_and_slate_show_the_scene_number(project: Project) -> None:
    from studio.compositor import Compositor
    from studio.services.export import load_timeline
    from studio.slate import number_sprite, paste
    from studio.timeline import Style, frame_recipes

    timeline = load_timeline(project)
    recipes = frame_recipes(timeline, Style(burn_ins=frozenset({"shot"})))
    second = timeline.segments[1]
    texts = dict(recipes[second.body[0] + 1].texts)
    assert texts["shot"].startswith("Shot 1A - ")
    with Compositor(timeline) as compositor:  # a slate (no take) carries "SHOT 1A"
        drawn = compositor.source(1, 0)
    from studio.compositor import slate_card

    expected = slate_card(timeline, second)
    paste(expected, *number_sprite("1A", timeline.width, timeline.height))
    assert (drawn == expected).all()
