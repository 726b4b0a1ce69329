"""The edit service: patches with revisions (merge or conflict), undo/redo per actor, history
kept with the project, and the board edits the wall makes (add after, duplicate, delete, move)."""

from __future__ import annotations

import pytest

from studio.board import FrameRate, Take
from studio.services import edits
from studio.services.fields import FieldError
from studio.storage import Project


def test_every_edit_bumps_the_revision_and_is_logged(small_project: Project) -> None:
    before = small_project.load().revision
    board = edits.patch_shot(small_project, "s1", {"title": "Dawn"}, before, actor="ann")
    assert board.revision == before + 1
    assert small_project.load().revision == before + 1
    event = small_project.history.events()[-1]
    assert (event.revision, event.actor) == (before + 1, "ann")
    assert event.keys() == {"s1.title"}


def test_patches_to_other_fields_or_shots_merge(small_project: Project) -> None:
    base = small_project.load().revision
    edits.patch_shot(small_project, "s1", {"prompt": "from tab A"}, base, actor="a")
    edits.patch_shot(small_project, "s1", {"title": "from tab B"}, base, actor="b")  # same shot, other field
    edits.patch_shot(small_project, "s2", {"prompt": "tab B, shot 2"}, base, actor="b")
    board = small_project.load()
    assert board.shot("s1").prompt == "from tab A"
    assert board.shot("s1").title == "from tab B"
    assert board.shot("s2").prompt == "tab B, shot 2"


def test_a_stale_patch_of_the_same_field_is_refused_with_the_current_value(small_project: Project) -> None:
    base = small_project.load().revision
    edits.patch_shot(small_project, "s1", {"prompt": "A wrote this"}, base, actor="a")
    with pytest.raises(edits.EditConflict) as caught:
        edits.patch_shot(small_project, "s1", {"prompt": "B's stale text"}, base, actor="b")
    assert caught.value.fields == ["prompt"]
    assert caught.value.current == {"prompt": "A wrote this"}
    assert small_project.load().shot("s1").prompt == "A wrote this"
    # based on the current revision it goes through
    edits.patch_shot(small_project, "s1", {"prompt": "B again"}, caught.value.revision, actor="b")
    assert small_project.load().shot("s1").prompt == "B again"


def test_camera_parts_conflict_with_a_whole_camera_edit(small_project: Project) -> None:
    base = small_project.load().revision
    edits.patch_shot(small_project, "s1", {"camera": [{"move": "dolly_in", "intensity": 0.3, "easing": "linear"},
                                                      {"move": "handheld", "intensity": 0.2}]}, base)
    assert [m.move for m in small_project.load().shot("s1").camera] == ["dolly_in", "handheld"]
    with pytest.raises(edits.EditConflict):
        edits.patch_shot(small_project, "s1", {"intensity": 0.9}, base)


def test_a_base_older_than_the_history_is_refused(small_project: Project) -> None:
    for index in range(3):
        edits.patch_shot(small_project, "s2", {"notes": f"n{index}"}, None)
    small_project.history.path.unlink()
    with pytest.raises(edits.EditConflict, match="history does not reach back"):
        edits.patch_shot(small_project, "s1", {"notes": "x"}, 1)


def test_undo_and_redo_are_per_actor_and_survive_reopening(small_project: Project) -> None:
    edits.patch_shot(small_project, "s1", {"title": "Ann's title"}, None, actor="ann")
    edits.patch_shot(small_project, "s2", {"title": "Bob's title"}, None, actor="bob")
    reopened = Project.open(small_project.root)
    assert edits.undo_state(reopened, "ann").undo == "edit title"
    edits.undo(reopened, "ann")
    board = reopened.load()
    assert board.shot("s1").title == "Shot 1"
    assert board.shot("s2").title == "Bob's title"  # bob's edit untouched
    edits.redo(reopened, "ann")
    assert reopened.load().shot("s1").title == "Ann's title"
    with pytest.raises(edits.NothingToUndo):
        edits.redo(reopened, "ann")


def test_many_levels_of_undo_cover_every_kind_of_edit(small_project: Project) -> None:
    original = small_project.load()
    edits.patch_shot(small_project, "s1", {"prompt": "p1"}, None)
    _, new_id = edits.add_shot(small_project, after="s1")
    edits.duplicate_shots(small_project, ["s2", "s3"])
    edits.move_shots(small_project, ["s3"], 0)
    edits.delete_shots(small_project, ["s2"])
    edits.patch_board(small_project, {"title": "Renamed"})
    assert small_project.load().shots[0].id == "s3"
    for _ in range(6):
        edits.undo(small_project)
    restored = small_project.load()
    assert [s.id for s in restored.shots] == [s.id for s in original.shots]
    assert restored.replace(revision=0) == original.replace(revision=0)
    for _ in range(6):
        edits.redo(small_project)
    board = small_project.load()
    assert board.title == "Renamed" and board.shots[0].id == "s3" and "s2" not in [s.id for s in board.shots]
    assert new_id in [s.id for s in board.shots]


def test_undo_is_refused_when_someone_else_changed_that_field_since(small_project: Project) -> None:
    edits.patch_shot(small_project, "s1", {"prompt": "ann"}, None, actor="ann")
    edits.patch_shot(small_project, "s1", {"prompt": "bob"}, None, actor="bob")
    with pytest.raises(edits.EditConflict, match="s1.prompt"):
        edits.undo(small_project, "ann")
    assert small_project.load().shot("s1").prompt == "bob"


def test_take_choice_and_delete_are_undoable_and_a_landing_take_does_not_collide(small_project: Project) -> None:
    takes = [Take(id=f"tk{i}", path=f"takes/s1/tk{i}.mp4", seed=i, backend="animatic") for i in range(3)]
    small_project.update(lambda b: b.with_shot(b.shot("s1").replace(takes=tuple(takes[:2]), chosen_take="tk1")),
                         undoable=False)
    edits.choose_take(small_project, "s1", "tk0")
    edits.delete_take(small_project, "s1", "tk1")
    # a take lands meanwhile (a result, not an edit: nobody's undo step)
    small_project.update(lambda b: b.with_shot(b.shot("s1").with_take(takes[2], choose=False)), undoable=False)
    edits.undo(small_project)  # the delete
    assert [t.id for t in small_project.load().shot("s1").takes] == ["tk0", "tk2", "tk1"]
    edits.undo(small_project)  # the choice
    assert small_project.load().shot("s1").chosen_take == "tk1"


def test_add_shot_inserts_after_the_selected_one(small_project: Project) -> None:
    board, new_id = edits.add_shot(small_project, after="s1")
    assert [s.id for s in board.shots][:2] == ["s1", new_id]
    assert board.shot(new_id).seed_locked is False  # regression: new cards started with the seed locked


def test_move_keeps_a_selection_together_in_board_order(small_project: Project) -> None:
    edits.add_shot(small_project)
    ids = [s.id for s in small_project.load().shots]
    board = edits.move_shots(small_project, [ids[3], ids[0]], 1)
    assert [s.id for s in board.shots] == [ids[1], ids[0], ids[3], ids[2]]


def test_fps_change_keeps_seconds_by_default_or_frames_when_asked(small_project: Project) -> None:
    # regression: 24 -> 25 fps silently shortened every shot (3.00 s became 2.88 s)
    edits.patch_shot(small_project, "s1", {"duration": 72}, None)
    board = edits.patch_board(small_project, {"fps": "25"})
    assert board.fps == FrameRate(25) and board.shot("s1").duration == 75
    board = edits.patch_board(small_project, {"fps": "24"}, keep="frames")
    assert board.shot("s1").duration == 75


def test_new_shot_fields_are_validated_and_named(small_project: Project) -> None:
    board = edits.patch_shot(small_project, "s1", {"shot_size": "MCU", "angle": "low", "lens_mm": "35",
                                                   "characters": "Mara, Tom, Mara", "int_ext": "INT",
                                                   "location": "Lighthouse", "action": "She reads.",
                                                   "speaker": "Mara", "dialogue": "It's from him."})
    shot = board.shot("s1")
    assert shot.characters == ("Mara", "Tom") and shot.lens_mm == 35.0
    assert shot.framing_label() == "MCU · low angle · 35 mm"
    assert shot.scene_heading() == "INT. LIGHTHOUSE"
    for field, value in (("shot_size", "XXL"), ("lens_mm", "wide"), ("lens_mm", 2000), ("angle", "sideways"),
                         ("prompt", "bad \ud800 text")):
        with pytest.raises(FieldError) as caught:
            edits.patch_shot(small_project, "s1", {field: value})
        assert caught.value.field == field, (field, str(caught.value))
    assert small_project.load().shot("s1") == shot
