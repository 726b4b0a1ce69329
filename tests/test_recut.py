"""The round trip with an editor: export OTIO / FCP7 XML / EDL, change it with the OpenTimelineIO
API as an editor would (trim shot 2 by 6 frames, swap shots 3 and 4, delete shot 5, make a cut
into a 12-frame dissolve), import it: the board changes in exactly those ways and nothing else,
in one undoable step."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from studio.board_codec import board_to_dict
from studio.cli import main as studio_main
from studio.services import edits
from studio.services.export import export_board
from studio.services.recut import RecutError, import_edit
from tests.exportkit import edit, make_project

FILES = {"otio": ("otio_json", {}), "fcpxml": ("fcp_xml", {}), "edl": ("cmx_3600", {"rate": 24})}


def _project(root: Path):
    """Six 40-frame shots trimmed 8 at each end (24 frames shown, handles for dissolves); shot 6
    has no take (its slate clip is its media)."""
    project = make_project(root, durations=(40,) * 6)
    for index in range(6):
        edit(project, index, trim_in=8, trim_out=8)
    edit(project, 5, takes=(), chosen_take=None)
    return project


def _recut(path: Path, fmt: str) -> Path:
    """What the editor does, with the OTIO API, saved in the same format."""
    adapter, options = FILES[fmt]
    timeline = otio.adapters.read_from_file(str(path), **options)
    track = timeline.video_tracks()[0]
    clips = list(track.find_clips())
    assert len(clips) == 6 and not [i for i in track if isinstance(i, otio.schema.Transition)]
    second = clips[1]
    second.source_range = otio.opentime.TimeRange(second.source_range.start_time + otio.opentime.RationalTime(6, 24),
                                                  second.source_range.duration - otio.opentime.RationalTime(6, 24))
    third, fourth, fifth, sixth = clips[2], clips[3], clips[4], clips[5]
    track.remove(fifth)
    track.remove(fourth)
    track.insert(list(track).index(third), fourth)
    track.insert(list(track).index(sixth), otio.schema.Transition(
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=otio.opentime.RationalTime(6, 24), out_offset=otio.opentime.RationalTime(6, 24)))
    out = path.with_name("recut" + path.suffix)
    otio.adapters.write_to_file(timeline, str(out), adapter_name=adapter, **options)
    return out


def _shots(board) -> dict[str, dict]:
    return {shot["id"]: shot for shot in board_to_dict(board)["shots"]}


@pytest.mark.parametrize("fmt", ["otio", "fcpxml", "edl"])
def test_round_trip_with_an_editor(tmp_path: Path, fmt: str) -> None:
    project = _project(tmp_path / "p")
    before = project.load()
    recut = _recut(export_board(project, fmt), fmt)

    preview = import_edit(project, recut.read_bytes(), recut.name, actor="me", dry_run=True)
    assert preview.board is None and project.load().revision == before.revision
    kinds = sorted((change.kind, change.shot_id) for change in preview.plan.changes)
    assert kinds == [("order", ""), ("remove", "s4"), ("transition", "s5"), ("trim", "s1"), ("trim", "s2"),
                     ("trim", "s5")]
    assert not preview.plan.unmatched and not preview.plan.problems

    after = import_edit(project, recut.read_bytes(), recut.name, actor="me").board
    assert [shot.id for shot in after.shots] == ["s0", "s1", "s3", "s2", "s5"]
    old, new = _shots(before), _shots(after)
    expected = {sid: dict(shot) for sid, shot in old.items() if sid != "s4"}
    expected["s1"].update(trim_in=14)                                   # trimmed by 6 frames at the head
    expected["s2"].update(trim_out=2)                                   # gives 6 handle frames to the dissolve
    expected["s5"].update(trim_in=2, transition={"kind": "cross_dissolve", "length": 12})
    assert new == expected                                              # and nothing else changed
    assert after.total_frames == before.total_frames - 24 - 6

    edits.undo(project, "me")
    restored = project.load()
    assert board_to_dict(restored) | {"revision": 0} == board_to_dict(before) | {"revision": 0}


def test_unchanged_export_imports_as_no_change(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    edit(project, 2, transition=__import__("studio.board", fromlist=["Transition"]).Transition("cross_dissolve", 6))
    edit(project, 4, transition=__import__("studio.board", fromlist=["Transition"]).Transition("dip_to_black", 4))
    for fmt in ("otio", "fcpxml", "edl"):
        path = export_board(project, fmt)
        plan = import_edit(project, path.read_bytes(), path.name, dry_run=True).plan
        assert plan.changes == () and not plan.unmatched, (fmt, plan.lines())


def test_unknown_clips_are_reported_never_guessed(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    path = export_board(project, "otio")
    timeline = otio.adapters.read_from_file(str(path))
    track = timeline.video_tracks()[0]
    stranger = otio.schema.Clip(name="B-roll seagulls", media_reference=otio.schema.ExternalReference(
        target_url="/footage/gulls.mov"), source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(30, 24)))
    track.insert(2, stranger)
    track.append(track[0].deepcopy())  # shot 1 a second time
    out = tmp_path / "recut.otio"
    otio.adapters.write_to_file(timeline, str(out))
    plan = import_edit(project, out.read_bytes(), out.name, dry_run=True).plan
    assert len(plan.unmatched) == 2 and "B-roll seagulls" in plan.unmatched[0] and "already in the cut" in plan.unmatched[1]
    assert [c.shot_id for c in plan.cuts] == [f"s{i}" for i in range(6)] and plan.changes == ()


def test_bad_files_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    revision = project.load().revision
    for name, data, message in [("cut.mov", b"x", "not an edit file"), ("cut.otio", b"{not json", "cannot be read"),
                                ("cut.xml", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "not readable XML")]:
        with pytest.raises(RecutError, match=message):
            import_edit(project, data, name)
    path = export_board(project, "otio")
    timeline = otio.adapters.read_from_file(str(path))
    clip = list(timeline.video_tracks()[0].find_clips())[0]
    clip.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(-4, 24), clip.source_range.duration)
    otio.adapters.write_to_file(timeline, str(tmp_path / "early.otio"))
    with pytest.raises(RecutError, match="before its take's first frame"):
        import_edit(project, (tmp_path / "early.otio").read_bytes(), "early.otio")
    assert project.load().revision == revision


def test_cli_import_edit_dry_run_then_apply(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path / "p")
    recut = _recut(export_board(project, "edl"), "edl")
    assert studio_main(["import-edit", str(tmp_path / "p"), str(recut), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "remove" in out and "shot 5 'Title 4' (s4)" in out and "dry run" in out
    assert len(project.load().shots) == 6
    assert studio_main(["import-edit", str(tmp_path / "p"), str(recut)]) == 0
    assert [s.id for s in project.load().shots] == ["s0", "s1", "s3", "s2", "s5"]
    assert studio_main(["import-edit", str(tmp_path / "p"), str(tmp_path / "missing.edl")]) == 1
