"""The board model: validation, edits, exact time, JSON round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.board import (
    EASINGS,
    MOVES,
    SEED_MAX,
    Board,
    BoardError,
    CameraMove,
    FrameRate,
    Keyframe,
    Shot,
    Take,
    Transition,
)
from studio.board_codec import board_from_dict, board_to_dict

from conftest import small_board


def test_round_trip_through_json_text_is_equal() -> None:
    board = small_board()
    shot = board.shots[0].replace(
        keyframes=(Keyframe("first", "keyframes/a.png"), Keyframe("mid", "keyframes/b.png", 5)),
        notes="n", dialogue="d", trim_in=1, trim_out=2, seed_locked=False, continuity=True,
    ).with_take(Take("tk_1", "takes/s1/tk_1.mp4", seed=5, backend="animatic", frames=12))
    board = board.with_shot(shot).replace(fps=FrameRate(30000, 1001), fade_in=3, extra={"x": [1, 2]})
    text = json.dumps(board_to_dict(board))
    assert board_from_dict(json.loads(text)) == board


def test_unknown_fields_are_kept_on_board_and_shot() -> None:
    data = board_to_dict(small_board())
    data["future_board_field"] = {"a": 1}
    data["shots"][1]["future_shot_field"] = "kept"
    again = board_to_dict(board_from_dict(data))
    assert again["future_board_field"] == {"a": 1}
    assert again["shots"][1]["future_shot_field"] == "kept"


def test_running_time_is_exact_and_counts_dissolve_overlap() -> None:
    board = small_board(shots=3, duration=12)          # third shot dissolves in over 4 frames
    assert board.total_frames == 12 * 3 - 4
    assert board.shot_start_frames() == [0, 12, 20]
    trimmed = board.with_shot(board.shots[0].replace(trim_in=2, trim_out=1))
    assert trimmed.total_frames == 9 + 12 + 12 - 4


def test_frame_rate_is_rational() -> None:
    assert FrameRate.parse("30000/1001") == FrameRate(30000, 1001)
    assert FrameRate.parse(29.97) == FrameRate(30000, 1001)
    assert FrameRate.parse("25") == FrameRate(25)
    assert FrameRate(48, 2) == FrameRate(24)
    assert FrameRate(24).seconds_to_frames(2.5) == 60
    assert FrameRate(24).timecode(24 * 61 + 5) == "00:01:01:05"


def test_edits_return_new_objects() -> None:
    board = small_board()
    moved = board.move_shot("s3", -2)
    assert [s.id for s in moved.shots] == ["s3", "s1", "s2"]
    assert [s.id for s in board.shots] == ["s1", "s2", "s3"]
    # a dissolve cannot open the film: moving the dissolving shot first turns it into a cut
    assert moved.shots[0].transition == Transition()
    removed = board.remove_shot("s2")
    assert [s.id for s in removed.shots] == ["s1", "s3"] and len(board.shots) == 3


def test_take_edits_keep_a_valid_choice() -> None:
    shot = Shot(id="a").with_take(Take("t1", "takes/a/t1.mp4", 1, "animatic"))
    shot = shot.with_take(Take("t2", "takes/a/t2.mp4", 2, "animatic"), choose=False)
    assert shot.chosen_take == "t1"
    assert shot.without_take("t1").chosen_take == "t2"
    with pytest.raises(BoardError, match="no such take"):
        shot.without_take("nope")


@pytest.mark.parametrize(
    "build, field, fragment",
    [
        (lambda: Shot(id="a", duration=0), "duration", "at least 1"),
        (lambda: Shot(id="a", duration=-5), "duration", "at least 1"),
        (lambda: Shot(id="a", seed=-1), "seed", "at least 0"),
        (lambda: Shot(id="a", seed=SEED_MAX + 1), "seed", "at most"),
        (lambda: Shot(id="a", seed=1.5), "seed", "whole number"),
        (lambda: Shot(id="a/b"), "id", "letters, digits"),
        (lambda: CameraMove("zoom"), "move", "pan_left"),
        (lambda: CameraMove("pan_left", 1.5), "intensity", "from 0 to 1"),
        (lambda: CameraMove("pan_left", 0.5, "bounce"), "easing", "ease_in_out"),
        (lambda: Keyframe("first", "../outside.png"), "path", "inside the project"),
        (lambda: Keyframe("first", "/etc/passwd"), "path", "not absolute"),
        (lambda: Keyframe("first", "https://example.com/a.png"), "path", "not a URL"),
        (lambda: Keyframe("first", "C:/x.png"), "path", "not a URL or drive"),
        (lambda: Transition("cross_dissolve", 0), "length", "at least 1 frame"),
        (lambda: FrameRate(0), "fps", "positive"),
        (lambda: FrameRate.parse("abc"), "fps", "frame rate"),
        (lambda: Board(width=101), "width", "even"),
        (lambda: Board(shots=(Shot(id="a"), Shot(id="a"))), "shots", "duplicate shot id"),
        (lambda: Board(shots=(Shot(id="a", duration=24 * 600),)), "shots[0].duration", "at most 300 s"),
        (lambda: Shot(id="a", duration=10, trim_in=5, trim_out=5), "trim_in", "leave no frames"),
    ],
)
def test_invalid_values_raise_board_error_naming_the_field(build, field: str, fragment: str) -> None:
    with pytest.raises(BoardError) as caught:
        build()
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(field)


def test_codec_error_paths_point_at_the_shot() -> None:
    data = board_to_dict(small_board())
    data["shots"][2]["camera"][0]["move"] = "spin"
    with pytest.raises(BoardError) as caught:
        board_from_dict(data)
    assert caught.value.field == "shots[2].camera[0].move"
    del data["shots"][1]["id"]
    data["shots"][2]["camera"][0]["move"] = "static"
    with pytest.raises(BoardError, match=r"shots\[1\]\.id"):
        board_from_dict(data)


def test_dissolve_longer_than_a_shot_is_refused() -> None:
    with pytest.raises(BoardError, match="cross-dissolve cannot be longer"):
        Board(shots=(Shot(id="a", duration=5), Shot(id="b", duration=20, transition=Transition("cross_dissolve", 8))))


# -- property tests ------------------------------------------------------------------------

camera_moves = st.builds(
    CameraMove,
    move=st.sampled_from(MOVES),
    intensity=st.floats(0, 1, allow_nan=False),
    easing=st.sampled_from(EASINGS),
)
texts = st.text(max_size=40)
shots = st.builds(
    Shot,
    id=st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True),
    title=texts,
    prompt=texts,
    duration=st.integers(30, 400),
    camera=st.lists(camera_moves, min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, SEED_MAX),
    seed_locked=st.booleans(),
    dialogue=texts,
    transition=st.one_of(st.just(Transition()), st.builds(Transition, st.sampled_from(("dip_to_black", "cross_dissolve")), st.integers(1, 20))),
)


@st.composite
def boards(draw: st.DrawFn) -> Board:
    shot_list = draw(st.lists(shots, max_size=6, unique_by=lambda s: s.id))
    if shot_list and shot_list[0].transition.overlap:
        shot_list[0] = shot_list[0].replace(transition=Transition())
    fps = draw(st.sampled_from([FrameRate(24), FrameRate(25), FrameRate(30000, 1001), FrameRate(60)]))
    return Board(title=draw(texts), fps=fps, shots=tuple(shot_list))


@settings(max_examples=150, deadline=None)
@given(boards())
def test_any_valid_board_round_trips(board: Board) -> None:
    assert board_from_dict(json.loads(json.dumps(board_to_dict(board)))) == board
    assert board.total_frames == sum(s.edit_duration for s in board.shots) - sum(s.transition.overlap for s in board.shots)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["duration", "seed", "camera", "keyframes", "transition", "takes", "id", "title", "chosen_take"]), json_values)
def test_any_bad_field_value_raises_only_board_error(field: str, value: object) -> None:
    data = board_to_dict(small_board())
    data["shots"][1][field] = value
    try:
        board_from_dict(data)
    except BoardError as error:
        assert error.field.startswith("shots[1]")


def test_removing_or_moving_a_shot_shortens_dissolves_that_no_longer_fit() -> None:
    # regression: deleting a short shot next to a long dissolve was refused outright
    board = Board(shots=(
        Shot(id="a", duration=40), Shot(id="b", duration=6),
        Shot(id="c", duration=40, transition=Transition("cross_dissolve", 5)),
        Shot(id="d", duration=40, transition=Transition("cross_dissolve", 20)),
    ))
    removed = board.remove_shot("c")
    assert removed.shot("d").transition == Transition("cross_dissolve", 6)
    moved = board.move_shot("d", -3)
    assert moved.shots[0].id == "d" and moved.shots[0].transition == Transition()
    assert board.remove_shot("a").shot("c").transition.length == 5


def test_take_and_board_text_fields_are_type_checked() -> None:
    # regression: a numeric take backend in board.json broke the board view later
    with pytest.raises(BoardError, match="backend: must be text"):
        Take("t", "takes/t.mp4", 1, backend=5)  # type: ignore[arg-type]
    with pytest.raises(BoardError, match="memory_profile: must be one of none, vae_tiling"):
        Board(memory_profile="model_cpu_offload")


def test_with_keyframe_replaces_the_keyframe_it_supersedes() -> None:
    shot = Shot(id="a", duration=20).with_keyframe(Keyframe("first", "keyframes/a.png"))
    shot = shot.with_keyframe(Keyframe("mid", "keyframes/b.png", 5)).with_keyframe(Keyframe("mid", "keyframes/c.png", 9))
    shot = shot.with_keyframe(Keyframe("first", "keyframes/d.png")).with_keyframe(Keyframe("mid", "keyframes/e.png", 5))
    assert sorted((k.role, k.frame, k.path) for k in shot.keyframes) == [
        ("first", 0, "keyframes/d.png"), ("mid", 5, "keyframes/e.png"), ("mid", 9, "keyframes/c.png")]
