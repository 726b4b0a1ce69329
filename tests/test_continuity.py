"""Continuity is a frame match: a continuity shot's first frame is the previous shot's last.

For every camera move: after an animatic take the camera carries on from its end pose over the
same plate (a drawn three-layer panel here); after any other take the last frame becomes the
first keyframe, framed exactly. Measured as the mean absolute difference of the two frames.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from studio.backends.animatic import AnimaticBackend
from studio.backends.base import Continuation, KeyframeImage, LayerImage, ShotRequest
from studio.board import MOVES, CameraMove, FrameRate
from studio.media import read_video
from studio.services.panels import LayerPixels, save_panel
from studio.services.render import render_shot
from studio.services import edits
from studio.storage import Project

from conftest import small_board
from test_parallax import blob_layers, flat_of

W, H, N = 320, 192, 12
MOVING = tuple(m for m in MOVES if m != "static")
WIDENING = ("zoom_out", "dolly_out")
"""Moves that show more of the plate: continued past its edge (or from a frame, which has nothing
outside it) they hold the framing: the overscan grows as the lens widens."""
BIG_W, BIG_H = 832, 480
"""End-to-end pairs are encoded at the board's usual size."""


def textured(seed: int = 5) -> np.ndarray:
    """A painted-looking picture at twice the frame size: soft shapes in light and shade over a
    slow colour gradient (what a drawn or photographed panel has; not colour noise, which no
    4:2:0 video keeps)."""
    import cv2

    rng = np.random.default_rng(seed)
    shade = cv2.GaussianBlur(rng.normal(0, 1, (H * 2, W * 2)).astype(np.float32), (0, 0), 8)
    shade = 70 * shade / shade.std()
    yy, xx = np.mgrid[0:H * 2, 0:W * 2] / np.array([H * 2, W * 2])[:, None, None]
    colour = np.dstack([120 + 60 * xx, 110 + 50 * yy, 150 - 40 * xx])
    return np.clip(colour + shade[..., None], 0, 255).astype(np.uint8)


def textured_plate() -> KeyframeImage:
    """A drawn panel: a textured opaque back layer and the blob mid and near layers."""
    import cv2

    back = cv2.resize(textured(), (W, H), interpolation=cv2.INTER_AREA)
    layers = blob_layers()
    layers = (LayerImage("far", np.dstack([back, np.full((H, W), 255, np.uint8)]), 2.0),) + layers[1:]
    return KeyframeImage("first", 0, flat_of(layers), layers, {"path": "keyframes/p.png"})


def shot(move: str, **extra) -> ShotRequest:
    """Intensity 0.8: two dollies in a row stop short of the near layer (depth 0.6)."""
    return ShotRequest(shot_id="c", shot_number=2, prompt="", negative_prompt="", num_frames=N, width=W, height=H,
                       fps=FrameRate(24), seed=11, camera=(CameraMove(move, 0.8, "ease_in_out"),), **extra)


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def generate(request: ShotRequest):
    return AnimaticBackend(workers=2).generate(request, lambda *a: None, threading.Event())


@pytest.mark.parametrize("move", MOVING)
def test_after_an_animatic_the_camera_continues_over_the_same_layered_plate(move: str) -> None:
    plate = textured_plate()
    first = generate(shot(move, keyframes=(plate,)))
    end = first.metadata["end"]
    assert end["plate"] == {"path": "keyframes/p.png"}
    following = generate(shot(move, continuation=Continuation(tuple(end["pose"]), tuple(end["overscan"]), plate)))
    assert following.metadata["continued"] == "animatic camera"
    assert mad(following.frames[0], first.frames[-1]) < 0.05  # the same pixels, to rounding
    if move not in WIDENING:
        assert mad(following.frames[-1], following.frames[0]) > 0.5  # and the camera does move on


@pytest.mark.parametrize("move", MOVING)
def test_after_any_other_take_its_last_frame_is_the_exact_first_framing(move: str) -> None:
    picture = textured()
    previous_last = generate(shot("pan_right", keyframes=(KeyframeImage("first", 0, picture),))).frames[-1]
    following = generate(shot(move, previous_last_frame=previous_last))
    assert following.metadata["continued"] == "last frame"
    assert mad(following.frames[0], previous_last) <= 1.0
    if move not in WIDENING:
        assert mad(following.frames[-1], previous_last) > 1.0
    border = np.concatenate([f[[0, -1]].reshape(-1, 3) for f in following.frames])  # no smeared edge rows
    assert border.std() > 5


@pytest.mark.parametrize("move", MOVING)
def test_a_rendered_continuity_pair_cuts_with_no_jump(tmp_path: Path, move: str) -> None:
    """End to end: a drawn three-layer panel, an animatic take, then a continuity shot rendered
    through the render service; the decoded files match across the cut within 1 of 255 (each
    take's first and last frames are encoded sharper: media.CUT_QP)."""
    import cv2

    project = Project.create(tmp_path / "p", small_board(shots=2, duration=N, width=BIG_W, height=BIG_H))
    layers = [LayerPixels(layer.name, cv2.resize(layer.rgba, (BIG_W, BIG_H), interpolation=cv2.INTER_CUBIC), layer.depth)
              for layer in textured_plate().layers]
    save_panel(project, "s1", layers)
    for shot_id in ("s1", "s2"):
        edits.patch_shot(project, shot_id, {"camera": [{"move": move, "intensity": 0.8, "easing": "ease_in_out"}]})
    edits.patch_shot(project, "s2", {"continuity": True})
    first = render_shot(project, "s1")
    second = render_shot(project, "s2")
    a = read_video(project.resolve(first.path))
    b = read_video(project.resolve(second.path))
    assert mad(b[0], a[-1]) <= 1.0
    assert mad(b[0], a[0]) > 1.0  # the match is with the end of the move, not its start


def test_a_continuity_shot_after_a_non_animatic_take_starts_on_its_last_frame(tmp_path: Path) -> None:
    """A take whose record has no camera to carry on (a model's) is continued from its pixels."""
    import json

    import cv2

    project = Project.create(tmp_path / "p", small_board(shots=2, duration=N, width=BIG_W, height=BIG_H))
    edits.set_keyframe(project, "s1", _png(cv2.resize(textured(), (BIG_W * 2, BIG_H * 2), interpolation=cv2.INTER_CUBIC)))
    first = render_shot(project, "s1")
    sidecar = project.resolve(first.sidecar_path)
    record = json.loads(sidecar.read_text())
    record["generation"] = {"backend": "wan", "model": "tiny"}
    sidecar.write_text(json.dumps(record))
    edits.patch_shot(project, "s2", {"continuity": True, "camera": [{"move": "dolly_in", "intensity": 1.0, "easing": "linear"}]})
    second = render_shot(project, "s2")
    assert json.loads(project.resolve(second.sidecar_path).read_text())["generation"]["continued"] == "last frame"
    last = read_video(project.resolve(first.path))[-1]
    assert mad(read_video(project.resolve(second.path))[0], last) <= 1.0
def _png(pixels: np.ndarray) -> bytes:
    import io
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
