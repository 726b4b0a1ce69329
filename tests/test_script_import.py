"""Screenplay import: Fountain and FDX samples at each granularity, the cap, malformed files,
merging into a board that already has shots, scene-based shot numbers, and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studio.board import Board, CastMember, Scene, Shot
from studio.board_codec import shot_to_dict
from studio.scenes import dialogue_lines, shot_numbers
from studio.screenplay import ScriptError, read_script
from studio.services import edits
from studio.services.fields import FieldError
from studio.services.script_import import ImportOptions, apply_plan, import_script, plan_import
from studio.storage import Project

SCRIPTS = Path(__file__).parent / "fixtures" / "script"
FOUNTAIN = (SCRIPTS / "sample.fountain").read_bytes()
FDX = (SCRIPTS / "sample.fdx").read_bytes()


def imported(data: bytes, name: str, **options: object) -> Board:
    return apply_plan(Board(), plan_import(Board(), read_script(data, name), ImportOptions(**options)))


def by_scene(board: Board) -> list[list[Shot]]:
    return [[shot for shot in board.shots if shot.scene_id == scene.id] for scene in board.scenes]


@pytest.mark.parametrize("data, name", [(FOUNTAIN, "sample.fountain"), (FDX, "sample.fdx")])
def test_scenes_and_cast_come_from_the_headings_and_speakers(data: bytes, name: str) -> None:
    board = imported(data, name)
    assert [(s.number, s.int_ext, s.location, s.time_of_day) for s in board.scenes] == [
        ("1", "INT", "LIGHTHOUSE", "NIGHT"), ("2", "EXT", "CLIFF PATH", "DAWN")]
    assert board.scenes[0].synopsis == "Ada finds a letter that should not exist."
    assert [member.name for member in board.cast] == ["ADA", "TOM"]
    assert all(shot.scene_id for shot in board.shots)


def test_fountain_one_card_per_scene_holds_all_its_dialogue_in_order() -> None:
    board = imported(FOUNTAIN, "sample.fountain", granularity="scene")
    first, second = (shots for shots in by_scene(board))
    assert len(first) == len(second) == 1
    assert dialogue_lines(first[0]) == (("ADA", "(whispering) Who left this here?"),
                                        ("TOM", "You did. Thirty years ago."), ("ADA", "That's impossible."))
    assert "Rain hammers" in first[0].action and "sealed envelope" in first[0].action
    assert first[0].prompt.startswith("lighthouse, night. Rain hammers")
    # dual dialogue: both speeches, marked as spoken together
    assert dialogue_lines(second[0])[1:] == (("TOM", "Do you?"), ("ADA", "Every word."))
    assert "(together)" in second[0].dialogue
    # boneyard never reaches the board; notes do, on the card they were written at
    assert not any("PUB" in shot.action.upper() or "drinks alone" in shot.action for shot in board.shots)
    assert first[0].notes == "Make the envelope glow a little."
    assert second[0].notes == "Shoot this wide, then push in."


def test_fountain_one_card_per_action_paragraph_carries_the_speeches_that_follow() -> None:
    board = imported(FOUNTAIN, "sample.fountain", granularity="action")
    first, second = by_scene(board)
    assert [s.action.split(".")[0] for s in first] == ["Rain hammers the lamp-room glass", "She sets the lantern down beside a sealed envelope"]
    assert first[0].dialogue == "" and first[0].characters == ("ADA",)  # mentioned in the action
    assert [who for who, _ in dialogue_lines(first[1])] == ["ADA", "TOM", "ADA"]
    assert first[1].notes == "Make the envelope glow a little."
    assert len(second) == 2 and [who for who, _ in dialogue_lines(second[0])] == ["ADA", "TOM", "ADA"]
    assert second[1].action == "A gull cries. She opens the letter." and second[1].dialogue == ""


@pytest.mark.parametrize("data, name", [(FOUNTAIN, "sample.fountain"), (FDX, "sample.fdx")])
def test_one_card_per_dialogue_exchange(data: bytes, name: str) -> None:
    board = imported(data, name, granularity="exchange")
    first, second = by_scene(board)
    assert [bool(s.dialogue) for s in first] == [False, False, True]
    assert first[2].speaker == "ADA" and set(first[2].characters) == {"ADA", "TOM"}
    assert "Who left this here?" in first[2].dialogue and "Thirty years ago." in first[2].dialogue
    assert [bool(s.dialogue) for s in second] == [False, True, False]
    assert dialogue_lines(second[1])[-2:] == (("TOM", "Do you?"), ("ADA", "Every word."))


@pytest.mark.parametrize("granularity, cap, counts", [
    ("exchange", 2, [2, 2]), ("exchange", 1, [1, 1]), ("action", 1, [1, 1]), ("scene", 5, [1, 1]),
])
def test_never_more_cards_than_the_cap_and_nothing_lost(granularity: str, cap: int, counts: list[int]) -> None:
    board = imported(FOUNTAIN, "sample.fountain", granularity=granularity, cap=cap)
    assert [len(shots) for shots in by_scene(board)] == counts
    spoken = [line for shot in board.shots for line in dialogue_lines(shot)]
    assert len(spoken) == 6
    assert "A gull cries." in "".join(shot.action for shot in board.shots)


def test_cards_last_long_enough_for_their_dialogue_and_transitions_carry_over() -> None:
    board = imported(FDX, "sample.fdx", granularity="exchange")
    talking = board.shots[2]   # 9 spoken words ("whispering" is a parenthetical) at 2.5/s = 3.6 s, + 0.5 s
    assert talking.duration == 87 + 12   # ceil(3.6 s x 24 fps) + 12 frames
    assert board.shots[0].duration == 48
    assert board.shots[3].transition.kind == "cross_dissolve"  # DISSOLVE TO: before scene 2


def test_scene_numbering_follows_the_scene_on_set() -> None:
    board = imported(FOUNTAIN, "sample.fountain", granularity="exchange")
    assert shot_numbers(board) == ("1", "2", "3", "4", "5", "6")
    scene = board.replace(shot_numbering="scene")
    assert shot_numbers(scene) == ("1", "1A", "1B", "2", "2A", "2B")
    many = Board(scenes=(Scene("s", "12"),), shots=tuple(Shot(f"x{i}", scene_id="s") for i in range(26)),
                 shot_numbering="scene")
    numbers = shot_numbers(many)
    assert numbers[:9] == ("12", "12A", "12B", "12C", "12D", "12E", "12F", "12G", "12H")
    assert numbers[9] == "12J" and "12O" not in numbers and numbers[-2:] == ("12Z", "12AA")


# --------------------------------------------------------------------------------------------
# Malformed files: the line is named and nothing changes


@pytest.mark.parametrize("data, name, message", [
    (b"INT. HALL - DAY\n\nShe waits. /* never closed\n\nMore.\n", "x.fountain", r"^line 3: .*never closed"),
    (b"INT. HALL - DAY\n\nShe waits.\n\n[[a note that never ends\n\nMore.\n", "x.fountain", r"^line 5: "),
    (b"INT. HALL - DAY\n\nShe waits \xff\xfe here.\n", "x.fountain", r"^line 3: byte 0xff is not UTF-8"),
    (b"INT. HALL - DAY\n\nbinary\x00\x01junk\n", "x.fountain", r"^line 3: control character"),
    (b"Just some notes\n\nabout a film.\n", "x.fountain", r"^line 1: no scene heading"),
    (b"<FinalDraft>\n<Content>\n<Paragraph Type=\"Action\">\n</FinalDraft>\n", "x.fdx", r"^line 4: not well-formed XML"),
    (b"<FinalDraft><Content>\n<Paragraph Type=\"Scene Heading\"><Text>INT. A - DAY</Text></Paragraph>\n"
     b"<Paragraph Type=\"Dialogue\"><Text>hi</Text></Paragraph>\n</Content></FinalDraft>", "x.fdx",
     r"^line 3: dialogue with no character before it"),
    (b"<html><body>hi</body></html>", "x.fdx", r"^line 1: not a Final Draft file"),
    (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><FinalDraft/>', "x.fdx", r"^line 1: refused"),
    (b"INT. HALL - DAY\n", "notes.docx", r"^line 1: 'notes.docx' is not a screenplay file"),
])
def test_malformed_files_name_the_line_and_change_nothing(tmp_path: Path, data: bytes, name: str, message: str) -> None:
    project = Project.create(tmp_path / "p", Board(shots=(Shot("keep", title="Existing"),)))
    before = (project.root / "board.json").read_bytes()
    with pytest.raises(ScriptError, match=message):
        import_script(project, data, name)
    assert (project.root / "board.json").read_bytes() == before
    assert project.load().revision == 0


@pytest.mark.parametrize("options, field", [({"granularity": "page"}, "granularity"), ({"cap": 0}, "cap"),
                                            ({"cap": "many"}, "cap"), ({"shots": 3}, "shots")])
def test_bad_options_are_refused_naming_the_option(options: dict, field: str) -> None:
    with pytest.raises(FieldError) as error:
        ImportOptions.parse(options)
    assert error.value.field == field


# --------------------------------------------------------------------------------------------
# Merge


def test_merge_appends_and_leaves_existing_shots_scenes_and_cast_untouched(tmp_path: Path) -> None:
    existing = Board(
        scenes=(Scene("old", "1", "EXT", "Harbour", "day"),),
        shots=(Shot("a", title="Harbour wide", scene_id="old", dialogue="ADA: Hello."), Shot("b", title="Loose")),
        cast=(CastMember("Ada", "en+f3"),),
    )
    project = Project.create(tmp_path / "p", existing)
    before = [shot_to_dict(shot) for shot in project.load().shots]
    result = import_script(project, FOUNTAIN, "sample.fountain", ImportOptions(granularity="action"), actor="me")
    board = project.load()
    assert [shot_to_dict(shot) for shot in board.shots[:2]] == before
    assert len(board.shots) == 2 + 4 and result.board == board
    assert board.scenes[0] == existing.scenes[0]
    assert [s.number for s in board.scenes] == ["1", "2", "3"]          # script scene 1 collided: renumbered
    assert any("scene 1 is numbered 2" in warning for warning in result.plan.warnings)
    assert [(m.name, m.voice) for m in board.cast] == [("Ada", "en+f3"), ("TOM", "")]  # ADA is Ada
    edits.undo(project, actor="me")
    undone = project.load()
    assert [shot_to_dict(shot) for shot in undone.shots] == before and undone.scenes == existing.scenes


def test_a_dry_run_previews_and_writes_nothing(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", Board())
    result = import_script(project, FDX, "sample.fdx", ImportOptions(granularity="exchange", cap=2), dry_run=True)
    assert result.board is None and project.load().shots == ()
    assert result.plan.rows() == [["1", "INT. LIGHTHOUSE - NIGHT", 2, "ADA, TOM", 4],
                                  ["2", "EXT. CLIFF PATH - DAWN", 2, "ADA, TOM", 36]]
    assert result.plan.to_json()["shots"] == 4


def studio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=300)


def test_cli_previews_imports_and_reports_a_bad_line(tmp_path: Path) -> None:
    folder = tmp_path / "film"
    Project.create(folder, Board())
    dry = studio("import-script", str(folder), str(SCRIPTS / "sample.fountain"), "--granularity", "scene", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 scene(s), 2 shot(s)" in dry.stdout and "nothing was written" in dry.stdout
    assert Project.open(folder).load().shots == ()
    done = studio("import-script", str(folder), str(SCRIPTS / "sample.fdx"), "--granularity", "exchange", "--cap", "2")
    assert done.returncode == 0, done.stderr
    assert len(Project.open(folder).load().shots) == 4
    bad = tmp_path / "bad.fountain"
    bad.write_bytes(b"INT. HALL - DAY\n\nShe waits. /* never closed\n")
    failed = studio("import-script", str(folder), str(bad))
    assert failed.returncode == 1 and "line 3:" in failed.stderr and "nothing was imported" in failed.stderr
    assert len(Project.open(folder).load().shots) == 4
