"""The timeline: exact layout in frames, transitions, slates, media checks, pixels and burn-ins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.board import Board, BoardError, Shot, Transition
from studio.compositor import Compositor
from studio.images import fit_image
from studio.services.takes import attach_media
from studio.timeline import BURN_INS, Style, TimelineError, build_timeline, frame_recipes
from tests.exportkit import H, W, edit, identify, make_project


def board_of(*shots: Shot, **fields) -> Board:
    return Board(width=W, height=H, shots=shots, **fields)


def test_layout_is_exact_with_trims_dissolves_and_dips() -> None:
    board = board_of(
        Shot(id="a", duration=40, trim_in=4, trim_out=2),
        Shot(id="b", duration=30, transition=Transition("cross_dissolve", 10)),
        Shot(id="c", duration=20, transition=Transition("dip_to_white", 7)),
        Shot(id="d", duration=25, transition=Transition("dip_to_black", 4), trim_out=5),
    )
    timeline = build_timeline(board)
    assert timeline.total_frames == board.total_frames == 34 + 30 - 10 + 20 + 20
    assert [s.start for s in timeline.segments] == board.shot_start_frames() == [0, 24, 54, 74]
    a, b, c, d = timeline.segments
    assert (a.source_in, a.source_out, a.overlap_out) == (4, 38, 10)
    assert b.overlap_in == 10 and b.body == (34, 54)
    assert (b.dip_out, c.dip_in, c.dip_in_color) == (3, 4, (255, 255, 255))
    assert (c.dip_out, d.dip_in, d.dip_in_color) == (2, 2, (0, 0, 0))
    assert all(s.is_slate and s.slate_reason == "no take" for s in timeline.segments)  # never dropped


def test_recipes_cover_every_frame_and_blend_dissolves() -> None:
    board = board_of(Shot(id="a", duration=20), Shot(id="b", duration=20, transition=Transition("cross_dissolve", 5)),
                     fade_in=3, fade_out=4)
    recipes = frame_recipes(build_timeline(board))
    assert len(recipes) == board.total_frames == 35
    for recipe in recipes[15:20]:
        assert len(recipe.layers) == 2 and sum(layer.weight for layer in recipe.layers) == pytest.approx(1.0)
    weights = [r.layers[1].weight for r in recipes[15:20]]
    assert weights == sorted(weights) and 0 < weights[0] < weights[-1] < 1
    assert recipes[0].fade == 1.0 and recipes[-1].fade == 1.0 and recipes[3].fade == 0.0
    assert [r.layers[0].frame for r in recipes[20:23]] == [5, 6, 7]  # shot b continues after the dissolve
    assert all(r.plain for r in recipes[3:15]) and not any(r.plain for r in recipes[15:20])


def test_transitions_longer_than_a_shot_are_refused_naming_it() -> None:
    with pytest.raises(BoardError, match="cross-dissolve"):
        board_of(Shot(id="a", duration=10), Shot(id="b", duration=30, transition=Transition("cross_dissolve", 12)))
    board = board_of(Shot(id="a", duration=10, title="Harbour"), Shot(id="b", duration=30, transition=Transition("dip_to_black", 24)))
    with pytest.raises(TimelineError, match="shot 1 'Harbour'.*only 10 frames"):
        build_timeline(board)
    squeezed = board_of(Shot(id="a", duration=20), Shot(id="b", duration=10, transition=Transition("cross_dissolve", 6)),
                        Shot(id="c", duration=20, transition=Transition("cross_dissolve", 6)))
    with pytest.raises(TimelineError, match=r"shot 2 \(b\)"):
        build_timeline(squeezed)
    with pytest.raises(TimelineError, match="fade_out"):
        build_timeline(board_of(Shot(id="a", duration=10), fade_out=11))


def test_zero_length_trims_are_refused() -> None:
    with pytest.raises(BoardError, match="trims leave no frames"):
        Shot(id="a", duration=10, trim_in=6, trim_out=4)
    with pytest.raises(TimelineError, match="no shots"):
        build_timeline(Board())


def test_attach_media_missing_and_corrupt_takes_name_the_shot(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12, 12))
    (tmp_path / "p" / "takes/s1/t1.mp4").unlink()
    board = project.load()
    with pytest.raises(TimelineError, match=r"shot 2 'Title 1' \(s1\).*missing"):
        attach_media(build_timeline(board), project.resolve)
    timeline = attach_media(build_timeline(board), project.resolve, use_slates=True)
    assert timeline.segments[1].is_slate and "slate is shown" in timeline.warnings[0]
    (tmp_path / "p" / "takes/s2/t2.mp4").write_bytes(b"\x00not a video" * 100)
    with pytest.raises(TimelineError, match=r"shot 1 'Title 2' \(s2\).*corrupt"):
        attach_media(build_timeline(board.replace(shots=board.shots[2:])), project.resolve)


def test_truncated_take_is_caught(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(24,))
    path = tmp_path / "p" / "takes/s0/t0.mp4"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(TimelineError, match="shot 1"):
        attach_media(build_timeline(project.load()), project.resolve)


def test_compositor_reads_exact_source_frames_after_trims(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(20, 20))
    edit(project, 1, trim_in=5)
    timeline = attach_media(build_timeline(project.load()), project.resolve)
    with Compositor(timeline) as compositor:
        seen = [identify(compositor.draw(r)) for r in frame_recipes(timeline)]
    assert seen == [(0, i) for i in range(20)] + [(1, i) for i in range(5, 20)]


def test_slate_and_take_conformed_to_board_size(tmp_path: Path) -> None:
    image = np.full((50, 200, 3), 200, np.uint8)
    cover = fit_image(image, W, H, "cover")
    letterbox = fit_image(image, W, H, "letterbox")
    assert cover.shape == letterbox.shape == (H, W, 3)
    assert cover.min() > 150 and letterbox[0].max() == 0 and letterbox[H // 2].min() > 150


def test_burn_ins_draw_text_only_where_asked(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12))
    timeline = attach_media(build_timeline(project.load()), project.resolve)
    recipe_plain = frame_recipes(timeline)[15]
    recipe_burnt = frame_recipes(timeline, Style(burn_ins=frozenset(BURN_INS), watermark="Film 2025-01-01"))[15]
    assert dict(recipe_burnt.texts)["tc"] == "TC 00:00:00:15" and dict(recipe_burnt.texts)["shot_tc"] == "SH 00:00:00:03"
    assert dict(recipe_burnt.texts)["shot"] == "Shot 2 - Title 1"
    with Compositor(timeline) as compositor:
        plain, burnt = compositor.draw(recipe_plain), compositor.draw(recipe_burnt)
    top_left = (slice(0, 14), slice(0, 60))
    bottom_right = (slice(H - 14, H), slice(W - 70, W))
    for crop in (top_left, bottom_right):
        assert np.abs(burnt[crop].astype(int) - plain[crop]).mean() > 10
    assert identify(burnt) == identify(plain) == (1, 3)  # the picture under the text is unchanged
    only_shot = frame_recipes(timeline, Style(burn_ins=frozenset({"shot"})))[15]
    assert [slot for slot, _ in only_shot.texts] == ["shot"]
    with pytest.raises(TimelineError, match="unknown burn-in"):
        Style(burn_ins=frozenset({"sparkles"}))
