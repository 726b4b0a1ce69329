"""The multi-plane camera: each layer of a drawn panel is filmed as a plane at its depth.

Pixel-level: a blob on each layer is tracked through the rendered frames and its motion compared
with what studio.camera says a plane at that depth does (within 2%). Translations give parallax
in proportion to 1/depth; rotations and zooms move every layer alike.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.backends.animatic import AnimaticBackend
from studio.backends.base import KeyframeImage, LayerImage, ShotRequest
from studio.board import CameraMove, FrameRate
from studio.camera import Overscan, camera_path, homographies

W, H, N = 320, 192, 13
DEPTHS = (2.0, 1.0, 0.6)
SPOTS = ((215.0, 125.0), (190.0, 70.0), (165.0, 95.0))
"""Rest positions of the red (far), green (mid) and blue (near) blobs."""
TRANSLATIONS = ("truck_right", "truck_left", "dolly_in", "dolly_out", "pedestal_up", "crane_up", "orbit_left")
ROTATIONS = ("pan_right", "tilt_up", "roll_cw", "zoom_in", "zoom_out")


def blob(x: float, y: float, sigma: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))


def blob_layers() -> tuple[LayerImage, ...]:
    """An opaque black back layer with a red blob; transparent mid and near layers whose only
    paint is a green and a blue blob (alpha follows the blob)."""
    layers = []
    for channel, (depth, (x, y)) in enumerate(zip(DEPTHS, SPOTS)):
        shape = blob(x, y)
        rgba = np.zeros((H, W, 4), np.uint8)
        rgba[..., channel] = 255 if channel else np.rint(255 * shape)
        rgba[..., 3] = 255 if channel == 0 else np.rint(255 * shape)
        layers.append(LayerImage(["far", "mid", "near"][channel], rgba, depth))
    return tuple(layers)


def flat_of(layers: tuple[LayerImage, ...]) -> np.ndarray:
    out = np.zeros((H, W, 3), np.float32)
    for layer in layers:
        alpha = layer.rgba[..., 3:4] / 255.0
        out = out * (1 - alpha) + layer.rgba[..., :3] * alpha
    return np.rint(out).astype(np.uint8)


def request(move: str, frames: int = N, **extra) -> ShotRequest:
    layers = blob_layers()
    return ShotRequest(shot_id="p", shot_number=1, prompt="", negative_prompt="", num_frames=frames, width=W, height=H,
                       fps=FrameRate(24), seed=3, camera=(CameraMove(move, 1.0, "linear"),),
                       keyframes=(KeyframeImage("first", 0, flat_of(layers), layers, {"path": "keyframes/x.png"}),),
                       **extra)


def centroid(frame: np.ndarray, channel: int) -> np.ndarray:
    others = [c for c in range(3) if c != channel]
    weight = np.clip(frame[..., channel].astype(np.float64) - frame[..., others].max(axis=2), 0, None)
    weight[weight < 40] = 0  # the blob, not its faint tails under other layers
    yy, xx = np.mgrid[0:frame.shape[0], 0:frame.shape[1]]
    return np.array([(weight * xx).sum(), (weight * yy).sum()]) / weight.sum()


def predicted(move: str, depth: float, spot: tuple[float, float], overscan: dict, frame: int) -> np.ndarray:
    path = camera_path((CameraMove(move, 1.0, "linear"),), N, 3, 24.0)
    maps, _ = homographies(path, W, H, W, H, overscan=Overscan(overscan["scale"], overscan["shift_x"], overscan["shift_y"]),
                           depth=depth)
    point = np.linalg.inv(maps[frame]) @ np.array([spot[0], spot[1], 1.0])
    return point[:2] / point[2]


def motions(move: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    clip = AnimaticBackend(workers=2).generate(request(move), lambda *a: None, threading.Event())
    overscan = clip.metadata["overscan"][0]
    assert overscan["depths"] == list(DEPTHS)
    measured, expected = [], []
    for channel, (depth, spot) in enumerate(zip(DEPTHS, SPOTS)):
        measured.append(centroid(clip.frames[-1], channel) - centroid(clip.frames[0], channel))
        expected.append(predicted(move, depth, spot, overscan, N - 1) - predicted(move, depth, spot, overscan, 0))
    return measured, expected


@pytest.mark.parametrize("move", TRANSLATIONS + ROTATIONS)
def test_each_layer_moves_as_the_camera_model_says_within_two_percent(move: str) -> None:
    measured, expected = motions(move)
    for name, got, want in zip(("far", "mid", "near"), measured, expected):
        error = np.linalg.norm(got - want)
        assert error <= max(0.02 * np.linalg.norm(want), 0.1), f"{move} {name}: moved {got}, model {want}"


@pytest.mark.parametrize("move", ("truck_right", "pedestal_up"))
def test_translations_give_parallax_in_proportion_to_one_over_depth(move: str) -> None:
    measured, _ = motions(move)
    lengths = [np.linalg.norm(m) for m in measured]
    assert lengths[0] > 5  # a real motion, not noise
    for depth, length in zip(DEPTHS, lengths):
        assert length * depth == pytest.approx(lengths[0] * DEPTHS[0], rel=0.02)


@pytest.mark.parametrize("move", ROTATIONS)
def test_rotations_and_zooms_give_no_parallax(move: str) -> None:
    """The model moves a point alike at every depth; the layers do so in pixels too."""
    overscan = {"scale": 1.0, "shift_x": 0.0, "shift_y": 0.0}
    for spot in SPOTS:
        at_one = predicted(move, 1.0, spot, overscan, N - 1)
        for depth in DEPTHS:
            assert np.allclose(predicted(move, depth, spot, overscan, N - 1), at_one, atol=1e-9)
    measured, expected = motions(move)
    for got, want in zip(measured, expected):
        assert np.linalg.norm(got - want) <= max(0.02 * np.linalg.norm(want), 0.1)


def test_no_frame_of_a_layered_truck_shows_an_edge_or_paper() -> None:
    """The opaque back layer is overscanned for the whole move: the frame's border stays black
    (its paint), never the white paper or a smeared edge."""
    clip = AnimaticBackend(workers=2).generate(request("truck_right"), lambda *a: None, threading.Event())
    for frame in clip.frames:
        border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
        assert border.max() < 30


def test_the_first_frame_of_a_still_layered_panel_is_the_flattened_panel() -> None:
    clip = AnimaticBackend(workers=2).generate(request("static"), lambda *a: None, threading.Event())
    flat = flat_of(blob_layers()).astype(int)
    assert np.abs(clip.frames[0].astype(int) - flat).mean() < 0.5
