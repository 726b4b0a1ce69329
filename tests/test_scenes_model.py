"""Schema 4: scenes, a shot's scene, cast, numbering and dialogue settings in the model and codec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.board import Board, BoardError, CastMember, Scene, Shot
from studio.board_codec import board_from_dict, board_to_dict
from studio.migrations import migrate

FIXTURES = Path(__file__).parent / "fixtures"


def scripted_board() -> Board:
    scenes = (Scene("sc1", "1", "INT", "Lighthouse", "night", "Ada reads the letter."),
              Scene("sc2", "2", "EXT", "Cliff", "dawn"))
    shots = (Shot("a", scene_id="sc1", dialogue="Who sent this?", speaker="ADA"),
             Shot("b", scene_id="sc2"), Shot("c"))
    return Board(scenes=scenes, shots=shots, shot_numbering="scene", words_per_second=3.0,
                 cast=(CastMember("ADA", "en+f3"), CastMember("TOM")), scratch_dialogue=True)


def test_scenes_cast_and_settings_survive_a_round_trip() -> None:
    board = scripted_board()
    data = json.loads(json.dumps(board_to_dict(board)))
    assert data["scenes"][0] == {"id": "sc1", "number": "1", "int_ext": "INT", "location": "Lighthouse",
                                 "time_of_day": "night", "synopsis": "Ada reads the letter."}
    assert [s["scene_id"] for s in data["shots"]] == ["sc1", "sc2", None]
    assert board_from_dict(data) == board
    assert board.scene("sc1").heading() == "INT. LIGHTHOUSE - NIGHT"


def test_a_v3_board_opens_with_no_scenes_and_default_settings() -> None:
    board = board_from_dict(migrate(json.loads((FIXTURES / "board_v3.json").read_text())))
    assert board.scenes == () and board.cast == ()
    assert [s.scene_id for s in board.shots] == [None, None]
    assert (board.shot_numbering, board.words_per_second, board.scratch_dialogue) == ("sequential", 2.5, False)
    assert board.extra["written_by"] == "a tool we do not know"


@pytest.mark.parametrize("change, message", [
    ({"shots": (Shot("a", scene_id="nowhere"),)}, r"shots\[0\].scene_id: must be the id of one of the board's scenes"),
    ({"scenes": (Scene("s1", "4"), Scene("s2", "4"))}, r"scenes: must be unique, got '4'"),
    ({"cast": (CastMember("Ada"), CastMember("ADA"))}, r"cast: must be unique"),
    ({"words_per_second": 0}, r"words_per_second: must be a number from 0.5 to 10"),
    ({"shot_numbering": "roman"}, r"shot_numbering: must be one of sequential, scene"),
])
def test_bad_script_fields_are_refused_naming_the_field(change: dict, message: str) -> None:
    with pytest.raises(BoardError, match=message):
        Board(**change)


@pytest.mark.parametrize("voice", ["-w/tmp/x", "en us", "a" * 65, "../x"])
def test_a_voice_that_could_be_an_option_or_path_is_refused(voice: str) -> None:
    with pytest.raises(BoardError, match="voice"):
        CastMember("ADA", voice)


def test_a_bad_scene_in_board_json_names_its_path() -> None:
    data = board_to_dict(scripted_board())
    data["scenes"][1]["int_ext"] = "OUTSIDE"
    with pytest.raises(BoardError, match=r"scenes\[1\].int_ext: must be one of"):
        board_from_dict(data)
