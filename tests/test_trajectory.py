"""The card's camera path as c2w + intrinsics (SANA-WM's convention), and the move-LoRA table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.backends.move_loras import MOVE_LORAS, choose_move_lora
from studio.backends.trajectory import TrajectoryError, path_at_model_frames, trajectory
from studio.board import CameraMove
from studio.camera import base_focal


def relative(c2w: np.ndarray) -> np.ndarray:
    """Every pose relative to the first, as SanaWMPipeline's prepare_camera makes them."""
    return np.linalg.inv(c2w[0]) @ c2w


def rotation_angle_axis(rotation: np.ndarray) -> tuple[float, np.ndarray]:
    angle = math.degrees(math.acos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]])
    return angle, axis / np.linalg.norm(axis)


def track(moves: tuple[CameraMove, ...], frames: int = 33, shot: int = 48, fps: float = 24.0, **kwargs):
    return trajectory(path_at_model_frames(moves, frames, shot, fps, seed=3), 128, 64, **kwargs)


def test_a_pan_of_15_degrees_turns_15_degrees_about_the_camera_up_axis() -> None:
    result = track((CameraMove("pan_right", 1.0, "linear"),))
    rel = relative(result.c2w.astype(np.float64))
    angle, axis = rotation_angle_axis(rel[-1, :3, :3])
    assert angle == pytest.approx(15.0, abs=1e-3)
    # the axis is the camera's vertical: its up axis (-y, as OpenCV's y points down)
    assert abs(axis @ np.array([0.0, 1.0, 0.0])) == pytest.approx(1.0, abs=1e-6)
    forward = rel[-1, :3, 2]
    assert forward[0] > 0  # looks right
    assert np.allclose(rel[:, :3, 3], 0, atol=1e-6)  # a pan does not move the camera
    # every frame in between is a pure yaw, growing linearly
    angles = [rotation_angle_axis(r)[0] if i else 0.0 for i, r in enumerate(rel[:, :3, :3])]
    assert np.allclose(angles, np.linspace(0, 15, len(angles)), atol=1e-3)


def test_a_dolly_translates_along_the_view_axis() -> None:
    result = track((CameraMove("dolly_in", 0.5, "ease_in_out"),))
    rel = relative(result.c2w.astype(np.float64))
    travel = rel[-1, :3, 3]
    view_axis = result.c2w[0, :3, 2]
    assert travel @ view_axis == pytest.approx(0.15, abs=1e-6)  # 0.3 plane distances at intensity 0.5
    assert np.allclose(np.cross(travel, view_axis), 0, atol=1e-6)
    assert np.allclose(rel[:, :3, :3], np.eye(3), atol=1e-6)  # no rotation
    scaled = track((CameraMove("dolly_in", 0.5, "ease_in_out"),), plane_distance=4.0)
    assert relative(scaled.c2w.astype(np.float64))[-1, 2, 3] == pytest.approx(0.6, abs=1e-5)


def test_static_gives_identical_matrices() -> None:
    result = track((CameraMove("static"),))
    assert np.array_equal(result.c2w, np.broadcast_to(result.c2w[0], result.c2w.shape))
    assert np.array_equal(result.intrinsics, np.broadcast_to(result.intrinsics[0], result.intrinsics.shape))


def test_intrinsics_follow_the_lens_and_the_image_size() -> None:
    result = track((CameraMove("zoom_in", 1.0, "linear"),))
    focal = base_focal(128, 64)
    assert result.intrinsics.shape == (33, 4) and result.intrinsics.dtype == np.float32
    assert result.intrinsics[0].tolist() == pytest.approx([focal, focal, 63.5, 31.5])
    assert result.intrinsics[-1, 0] == pytest.approx(focal * 1.6, rel=1e-5)


def test_easing_segments_and_handheld_are_in_the_path() -> None:
    eased = relative(track((CameraMove("pan_left", 1.0, "ease_in"),)).c2w.astype(np.float64))
    halfway = rotation_angle_axis(eased[16, :3, :3])[0]
    assert halfway == pytest.approx(15 * 0.25, abs=1e-3)  # ease_in: u^2 at u = 0.5
    combined = relative(track((CameraMove("pan_left", 1.0, "linear"), CameraMove("dolly_in", 1.0, "linear"))).c2w)
    assert rotation_angle_axis(combined[-1, :3, :3].astype(np.float64))[0] == pytest.approx(15, abs=1e-3)
    assert combined[-1, 2, 3] == pytest.approx(0.3, abs=1e-5)
    shaky = track((CameraMove("static"), CameraMove("handheld", 1.0)))
    assert not np.allclose(shaky.c2w[0], shaky.c2w[-1])
    assert np.array_equal(shaky.c2w, track((CameraMove("static"), CameraMove("handheld", 1.0))).c2w)  # seeded


def test_model_frames_sample_the_shot_at_the_same_instants() -> None:
    """33 model frames retimed onto a 48-frame shot: model frame j shows the shot j/32 through, so
    handheld noise (which depends on seconds) lands on the same instants as in the animatic."""
    moves = (CameraMove("handheld", 1.0),)
    shot = path_at_model_frames(moves, 48, 48, 24.0, seed=3)
    model = path_at_model_frames(moves, 33, 48, 24.0, seed=3)
    assert np.allclose(model.params[0], shot.params[0]) and np.allclose(model.params[-1], shot.params[-1])


def test_bad_values_are_named() -> None:
    with pytest.raises(TrajectoryError, match="plane_distance"):
        track((CameraMove("static"),), plane_distance=0)
    with pytest.raises(TrajectoryError, match="frame counts"):
        path_at_model_frames((CameraMove("static"),), 0, 10, 24.0, seed=0)


def test_move_lora_table_picks_the_lora_and_weight_from_move_and_intensity() -> None:
    choice = choose_move_lora("ltx2", (CameraMove("dolly_in", 0.5),))
    assert choice is not None and choice.lora.repo == "Lightricks/LTX-2-19b-LoRA-Camera-Control-Dolly-In"
    assert choice.lora.weight_name == "ltx-2-19b-lora-camera-control-dolly-in.safetensors"
    assert choice.weight == pytest.approx(0.8)  # 0.6 + 0.4 * 0.5
    strongest = choose_move_lora("ltx2", (CameraMove("truck_left", 0.3), CameraMove("crane_up", 0.9),
                                          CameraMove("handheld", 1.0)))
    assert strongest is not None and strongest.move == "crane_up" and "Jib-Up" in strongest.lora.repo
    assert choose_move_lora("ltx2", (CameraMove("static"),)).lora.repo.endswith("Static")
    assert choose_move_lora("ltx2", (CameraMove("roll_cw", 1.0),)) is None  # no LoRA for a roll
    assert choose_move_lora("kandinsky", (CameraMove("pan_left", 1.0),)).weight == pytest.approx(1.0)
    assert choose_move_lora("wan", (CameraMove("pan_left", 1.0),)) is None
    assert choose_move_lora("ltx2", (CameraMove("dolly_in", 1.0),), override="off") is None
    own = choose_move_lora("ltx2", (CameraMove("dolly_in", 1.0),), override="me/my-dolly:dolly.safetensors")
    assert (own.lora.repo, own.lora.weight_name, own.weight) == ("me/my-dolly", "dolly.safetensors", 1.0)
    assert set(MOVE_LORAS) == {"ltx2", "kandinsky"}
