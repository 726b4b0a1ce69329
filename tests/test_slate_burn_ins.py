"""Burn-ins never print over a slate's big shot number (regression: "slate (no take)" did),
for a shot without a take and for an animatic slate take, whatever the burn-ins and frame size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.board import Board, CameraMove, Shot
from studio.compositor import Compositor
from studio.services.export import load_timeline
from studio.services.render import render_shot
from studio.slate import number_sprite
from studio.storage import Project
from studio.timeline import BURN_INS, Style, frame_recipes


@pytest.mark.parametrize("size", ((832, 480), (320, 192), (1280, 720)))
@pytest.mark.parametrize("with_take", (False, True))
def test_no_burn_in_touches_the_slate_number(tmp_path: Path, size: tuple[int, int], with_take: bool) -> None:
    width, height = size
    board = Board(width=width, height=height, shots=(
        Shot(id="s1", title="A long title for the harbour at dawn", duration=12,
             camera=(CameraMove("pan_left", 0.6), CameraMove("handheld", 0.2))),))
    project = Project.create(tmp_path / "p", board)
    if with_take:
        render_shot(project, "s1")  # no keyframe: an animatic slate take, numbered at export
    timeline = load_timeline(project)
    style = Style(burn_ins=frozenset(BURN_INS), watermark="CONFIDENTIAL previz draft, do not distribute")
    recipes = frame_recipes(timeline, style)
    sprite, x, y = number_sprite(1, width, height)
    box = (slice(y, y + sprite.shape[0]), slice(x, x + sprite.shape[1]))
    with Compositor(timeline, style) as compositor:
        for frame in (0, 6, 11):
            texts = dict(recipes[frame].texts)
            assert texts["take"].startswith("slate" if not with_take else "take ")
            plain = compositor.source(0, frame)
            burned = compositor.draw(recipes[frame])
            assert np.array_equal(burned[box], plain[box]), "a burn-in was drawn over the shot number"
            below = burned[y + sprite.shape[0]:, :width // 2]
            assert np.abs(below.astype(int) - plain[y + sprite.shape[0]:, :width // 2].astype(int)).max() > 100
