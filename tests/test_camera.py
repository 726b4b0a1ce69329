"""The camera model: documented amounts, easings, combinations, handheld, homographies, overscan."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from studio.board import MOVES, BoardError, CameraMove
from studio.camera import (
    AMOUNTS, HANDHELD_AMPLITUDES, PARAMS, ZOOM_FACTOR, CameraError, CameraPath, base_focal, camera_path,
    camera_prompt, compute_overscan, describe, ease, fit_matrix, homographies, plane_homographies,
)

W, H, N = 160, 96, 24


def end_params(move: str, intensity: float = 1.0) -> dict[str, float]:
    path = camera_path((CameraMove(move, intensity, "linear"),), N, seed=3)
    return dict(zip(PARAMS, path.params[-1]))


def apply(h: np.ndarray, x: float, y: float) -> np.ndarray:
    v = h @ np.array([x, y, 1.0])
    return v[:2] / v[2]


# ------------------------------------------------------------------------------------------
# Moves -> parameters


@pytest.mark.parametrize("move,param,expected", [
    ("pan_left", "yaw", -AMOUNTS["pan"]), ("pan_right", "yaw", AMOUNTS["pan"]),
    ("tilt_up", "pitch", AMOUNTS["tilt"]), ("tilt_down", "pitch", -AMOUNTS["tilt"]),
    ("roll_cw", "roll", AMOUNTS["roll"]), ("roll_ccw", "roll", -AMOUNTS["roll"]),
    ("zoom_in", "focal", ZOOM_FACTOR), ("zoom_out", "focal", 1 / ZOOM_FACTOR),
    ("dolly_in", "tz", AMOUNTS["dolly"]), ("dolly_out", "tz", -AMOUNTS["dolly"]),
    ("truck_left", "tx", -AMOUNTS["truck"]), ("truck_right", "tx", AMOUNTS["truck"]),
    ("pedestal_up", "ty", AMOUNTS["pedestal"]), ("pedestal_down", "ty", -AMOUNTS["pedestal"]),
    ("crane_up", "ty", AMOUNTS["crane"]), ("crane_down", "ty", -AMOUNTS["crane"]),
])
def test_documented_amount_at_full_intensity(move, param, expected):
    params = end_params(move)
    assert params[param] == pytest.approx(expected)
    neutral = {"yaw": 0, "pitch": 0, "roll": 0, "tx": 0, "ty": 0, "tz": 0, "focal": 1}
    touched = {param} | ({"pitch"} if move.startswith("crane") else set())
    for name in set(PARAMS) - touched:
        assert params[name] == pytest.approx(neutral[name]), name


def test_crane_keeps_centre_and_orbit_arcs_around_it():
    crane = end_params("crane_up")
    assert crane["pitch"] == pytest.approx(-math.degrees(math.atan(AMOUNTS["crane"])))
    orbit = end_params("orbit_right")
    arc = math.radians(AMOUNTS["orbit"])
    assert (orbit["tx"], orbit["tz"], orbit["yaw"]) == pytest.approx((math.sin(arc), 1 - math.cos(arc), -AMOUNTS["orbit"]))
    for move in ("crane_up", "crane_down", "orbit_left", "orbit_right"):
        plane = plane_homographies(camera_path((CameraMove(move, 1.0),), N), W, H)
        for h in plane:  # the subject at the centre stays at the centre of the frame
            assert apply(h, (W - 1) / 2, (H - 1) / 2) == pytest.approx([(W - 1) / 2, (H - 1) / 2], abs=1e-9)


def test_dolly_zoom_holds_a_subject_halfway_and_swells_the_plane():
    params = end_params("dolly_zoom")
    assert params["tz"] == pytest.approx(-AMOUNTS["dolly_zoom"])
    subject_scale = params["focal"] * 0.5 / (0.5 - params["tz"])
    assert subject_scale == pytest.approx(1.0)
    assert params["focal"] / (1 - params["tz"]) == pytest.approx(1.6 / 1.3)


def test_intensity_scales_linearly_and_zoom_exponentially():
    assert end_params("pan_right", 0.5)["yaw"] == pytest.approx(AMOUNTS["pan"] / 2)
    assert end_params("zoom_in", 0.5)["focal"] == pytest.approx(math.sqrt(ZOOM_FACTOR))
    for move in MOVES:
        path = camera_path((CameraMove(move, 0.0),), N, seed=9)
        assert np.all(path.params == path.params[:1]), move  # every frame's camera the same
        assert np.allclose(path.params, [0, 0, 0, 0, 0, 0, 1])


def test_static_is_truly_still():
    path = camera_path((CameraMove("static"),), N)
    assert np.all(path.params == path.params[:1])
    h, overscan = homographies(path, W, H, W, H)
    assert overscan.scale == 1.0
    assert np.allclose(h, np.eye(3))


def test_first_frame_is_the_resting_camera_and_last_frame_the_full_move():
    for move in MOVES:
        if move == "handheld":
            continue
        path = camera_path((CameraMove(move, 1.0, "ease_in_out"),), N)
        assert np.allclose(path.params[0], [0, 0, 0, 0, 0, 0, 1]), move


@pytest.mark.parametrize("easing,at_half", [("linear", 0.5), ("ease_in", 0.25), ("ease_out", 0.75), ("ease_in_out", 0.5)])
def test_easing_shapes(easing, at_half):
    u = np.linspace(0, 1, 101)
    e = ease(easing, u)
    assert e[0] == 0 and e[-1] == pytest.approx(1)
    assert np.all(np.diff(e) >= 0)
    assert e[50] == pytest.approx(at_half)
    start_slope, end_slope = (e[1] - e[0]) / 0.01, (e[-1] - e[-2]) / 0.01
    if easing in ("ease_in", "ease_in_out"):
        assert start_slope < 0.05
    if easing in ("ease_out", "ease_in_out"):
        assert end_slope < 0.05
    if easing == "ease_in_out":
        assert np.allclose(e + e[::-1], 1)  # symmetric
    path = camera_path((CameraMove("truck_right", 1.0, easing),), 101)
    assert np.allclose(path.column("tx"), AMOUNTS["truck"] * e)


def test_unknown_easing_is_refused():
    with pytest.raises(CameraError, match="ease_in_out"):
        ease("bounce", np.zeros(3))


def test_combined_moves_add_angles_and_multiply_focal():
    pan = camera_path((CameraMove("pan_right", 1.0, "linear"),), N)
    zoom = camera_path((CameraMove("zoom_in", 0.5, "ease_in"),), N)
    both = camera_path((CameraMove("pan_right", 1.0, "linear"), CameraMove("zoom_in", 0.5, "ease_in")), N)
    assert np.allclose(both.column("yaw"), pan.column("yaw"))
    assert np.allclose(both.column("focal"), zoom.column("focal"))
    twice = camera_path((CameraMove("zoom_in", 1.0, "linear"),) * 2, N)
    assert twice.params[-1, 6] == pytest.approx(ZOOM_FACTOR**2)
    cancel = camera_path((CameraMove("pan_left", 0.4, "linear"), CameraMove("pan_right", 0.4, "linear")), N)
    assert np.all(cancel.params == cancel.params[:1])


def test_handheld_is_seeded_smooth_and_bounded():
    move = (CameraMove("handheld", 1.0),)
    a, b, c = camera_path(move, 96, seed=1), camera_path(move, 96, seed=1), camera_path(move, 96, seed=2)
    assert np.array_equal(a.params, b.params)
    assert not np.allclose(a.params, c.params)
    limits = np.array(HANDHELD_AMPLITUDES)
    deviation = np.abs(a.params - [0, 0, 0, 0, 0, 0, 1])
    assert np.all(deviation <= limits + 1e-12)
    assert np.all(deviation.max(axis=0) > 0.1 * limits)  # every axis moves
    second = np.abs(np.diff(a.params, 2, axis=0)).max(axis=0)
    assert np.all(second < 0.2 * limits)  # smooth (band-limited to 1.5 Hz): no frame-to-frame jumps
    # noise follows time, not length: a longer shot starts with the same shake
    assert np.array_equal(camera_path(move, 48, seed=1).params, a.params[:48])
    half = camera_path((CameraMove("handheld", 0.5),), 96, seed=1)
    assert np.allclose(half.params[:, :6], a.params[:, :6] / 2)


def test_to_dict_is_json_and_complete():
    path = camera_path((CameraMove("pan_left", 0.7), CameraMove("handheld", 0.2)), 10, seed=4, fps=25)
    data = json.loads(json.dumps(path.to_dict()))
    assert data["moves"][0] == {"move": "pan_left", "intensity": 0.7, "easing": "ease_in_out"}
    assert data["seed"] == 4 and data["fps"] == 25 and data["num_frames"] == 10
    assert set(data["frames"]) == set(PARAMS)
    assert all(len(column) == 10 for column in data["frames"].values())
    assert data["frames"]["yaw"][-1] == pytest.approx(path.params[-1, 0], abs=1e-8)


def test_params_are_read_only():
    path = camera_path((CameraMove("pan_left"),), 5)
    with pytest.raises(ValueError):
        path.params[0, 0] = 1.0


# ------------------------------------------------------------------------------------------
# Bad input


def test_unknown_move_lists_valid_moves():
    with pytest.raises(BoardError, match="pan_left"):
        CameraMove("wobble")
    forged = object.__new__(CameraMove)  # bypasses CameraMove's own validation
    object.__setattr__(forged, "move", "wobble")
    object.__setattr__(forged, "intensity", 0.5)
    object.__setattr__(forged, "easing", "linear")
    with pytest.raises(CameraError, match="wobble.*valid moves: static, pan_left"):
        camera_path((forged,), 5)
    with pytest.raises(CameraError, match="wobble"):
        camera_prompt((forged,))


@pytest.mark.parametrize("intensity", [-0.1, 1.5, float("nan"), float("inf")])
def test_intensity_out_of_range(intensity):
    with pytest.raises(BoardError, match="intensity"):
        CameraMove("pan_left", intensity)
    forged = object.__new__(CameraMove)
    object.__setattr__(forged, "move", "pan_left")
    object.__setattr__(forged, "intensity", intensity)
    object.__setattr__(forged, "easing", "linear")
    with pytest.raises(CameraError, match="intensity"):
        camera_path((forged,), 5)


@pytest.mark.parametrize("frames", [0, -3, 2.5, True])
def test_zero_or_bad_frame_counts(frames):
    with pytest.raises(CameraError, match="at least 1 frame"):
        camera_path((CameraMove("pan_left"),), frames)


def test_bad_fps_and_sizes():
    with pytest.raises(CameraError, match="fps"):
        camera_path((CameraMove(),), 5, fps=0)
    path = camera_path((CameraMove(),), 5)
    with pytest.raises(CameraError, match="src_w"):
        homographies(path, W, H, 0, H)
    with pytest.raises(CameraError, match="fit"):
        homographies(path, W, H, W, H, fit="stretch")
    assert camera_path((CameraMove(),), 1).num_frames == 1


def test_camera_looking_past_the_plane_is_refused():
    params = np.array([[80.0, 0, 0, 0, 0, 0, 1.0]])
    path = CameraPath(moves=(), num_frames=1, seed=0, fps=24.0, params=params)
    with pytest.raises(CameraError, match="past the edge"):
        plane_homographies(path, W, H)


# ------------------------------------------------------------------------------------------
# Homographies


def test_homography_matches_projecting_the_plane():
    """Independent check of H = K'(R - t n^T)K^-1: project plane points with the camera."""
    rng = np.random.default_rng(0)
    f = base_focal(W, H)
    cx, cy = (W - 1) / 2, (H - 1) / 2
    for _ in range(20):
        yaw, pitch, roll = rng.uniform(-15, 15, 3)
        tx, ty, tz = rng.uniform(-0.2, 0.2, 3)
        focal = rng.uniform(0.7, 1.5)
        params = np.array([[yaw, pitch, roll, tx, ty, tz, focal]])
        h = plane_homographies(CameraPath((), 1, 0, 24.0, params), W, H)[0]
        y, p, r = np.radians([yaw, pitch, roll])
        to_world = cv2.Rodrigues(np.array([0.0, y, 0.0]))[0] @ cv2.Rodrigues(np.array([p, 0.0, 0.0]))[0] @ cv2.Rodrigues(np.array([0.0, 0.0, r]))[0]
        centre = np.array([tx, -ty, tz])
        for _ in range(5):
            point = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2), 1.0])  # on the plane z = 1
            cam = to_world.T @ (point - centre)
            out = np.array([f * focal * cam[0] / cam[2] + cx, f * focal * cam[1] / cam[2] + cy])
            rest = np.array([f * point[0] + cx, f * point[1] + cy])
            assert apply(h, *out) == pytest.approx(rest, abs=1e-6)


def test_pure_moves_have_the_expected_simple_form():
    f = base_focal(W, H)
    zoom = plane_homographies(camera_path((CameraMove("zoom_in", 1.0, "linear"),), N), W, H)[-1]
    assert apply(zoom, 0, 0) == pytest.approx([(W - 1) / 2 * (1 - 1 / ZOOM_FACTOR), (H - 1) / 2 * (1 - 1 / ZOOM_FACTOR)])
    truck = plane_homographies(camera_path((CameraMove("truck_right", 1.0, "linear"),), N), W, H)[-1]
    assert apply(truck, 10, 20) == pytest.approx([10 + f * AMOUNTS["truck"], 20])
    pedestal = plane_homographies(camera_path((CameraMove("pedestal_up", 1.0, "linear"),), N), W, H)[-1]
    assert apply(pedestal, 10, 20) == pytest.approx([10, 20 - f * AMOUNTS["pedestal"]])
    roll = plane_homographies(camera_path((CameraMove("roll_cw", 1.0, "linear"),), N), W, H)[-1]
    angle = math.radians(AMOUNTS["roll"])
    x, y = apply(roll, (W - 1) / 2 + 10, (H - 1) / 2) - [(W - 1) / 2, (H - 1) / 2]
    # camera rolls clockwise: it sees what lay clockwise of the output point (y down)
    assert (x, y) == pytest.approx((10 * math.cos(angle), 10 * math.sin(angle)))
    pan = plane_homographies(camera_path((CameraMove("pan_right", 1.0, "linear"),), N), W, H)[-1]
    assert apply(pan, (W - 1) / 2, (H - 1) / 2)[0] == pytest.approx((W - 1) / 2 + f * math.tan(math.radians(AMOUNTS["pan"])))
    tilt = plane_homographies(camera_path((CameraMove("tilt_up", 1.0, "linear"),), N), W, H)[-1]
    assert apply(tilt, (W - 1) / 2, (H - 1) / 2)[1] == pytest.approx((H - 1) / 2 - f * math.tan(math.radians(AMOUNTS["tilt"])))


def test_fit_matrix_cover_and_letterbox_are_centred():
    cover = fit_matrix(W, H, 400, 400, "cover")
    assert apply(cover, (W - 1) / 2, (H - 1) / 2) == pytest.approx([199.5, 199.5])
    assert apply(cover, -0.5, 0)[0] == pytest.approx(-0.5)  # full width used, top/bottom cropped
    letter = fit_matrix(W, H, 400, 400, "letterbox")
    assert apply(letter, 0, -0.5)[1] == pytest.approx(-0.5)  # full height used, bars at the sides
    assert apply(letter, -0.5, 0)[0] < -0.5


COMBOS = [(CameraMove(m, 1.0, "linear"),) for m in MOVES] + [
    (CameraMove("pan_right", 1.0), CameraMove("tilt_up", 1.0), CameraMove("handheld", 1.0)),
    (CameraMove("orbit_left", 1.0), CameraMove("crane_up", 1.0), CameraMove("zoom_out", 1.0)),
    (CameraMove("roll_cw", 1.0), CameraMove("dolly_out", 1.0), CameraMove("truck_left", 1.0)),
]


@pytest.mark.parametrize("moves", COMBOS, ids=lambda ms: "+".join(m.move for m in ms))
@pytest.mark.parametrize("src", [(W, H), (320, 320), (1000, 150), (60, 200)])
@pytest.mark.parametrize("fit", ["cover", "letterbox"])
def test_overscan_keeps_every_corner_inside_and_is_smallest(moves, src, fit):
    path = camera_path(moves, N, seed=11)
    maps, overscan = homographies(path, W, H, *src, fit=fit)
    corners = np.array([[0, 0, 1], [W - 1, 0, 1], [0, H - 1, 1], [W - 1, H - 1, 1]], float).T
    mapped = maps @ corners
    xy = mapped[:, :2] / mapped[:, 2:3]
    if fit == "cover":
        low, high = np.zeros(2), np.array(src, float) - 1
    else:  # the letterbox canvas, bars included, is the picture
        inverse = np.linalg.inv(fit_matrix(W, H, *src, fit))
        xy = np.einsum("ij,tjk->tik", inverse, np.concatenate([xy, np.ones((N, 1, 4))], axis=1))[:, :2]
        low, high = np.zeros(2), np.array([W - 1, H - 1], float)
    assert np.all(xy >= low[None, :, None] - 1e-6)
    assert np.all(xy <= high[None, :, None] + 1e-6)
    assert overscan.scale >= 1.0
    if overscan.scale > 1.0 + 1e-9:  # smallest: some axis is tight on both sides
        gap_low = (xy.min(axis=(0, 2)) - low)
        gap_high = (high - xy.max(axis=(0, 2)))
        assert np.any((gap_low < 1e-6) & (gap_high < 1e-6))


def test_mask_render_shows_no_border_for_any_move():
    """Warp a uniform keyframe with a black outside: no frame of any move shows the outside."""
    keyframe = np.full((H + 30, W + 10, 3), 200, np.uint8)
    for moves in COMBOS:
        maps, _ = homographies(camera_path(moves, N, seed=2), W, H, keyframe.shape[1], keyframe.shape[0])
        for h in maps:
            frame = cv2.warpPerspective(keyframe, h, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
            assert frame.min() >= 199, [m.move for m in moves]


def test_overscan_can_be_disabled_or_reused():
    path = camera_path((CameraMove("truck_right", 1.0),), N)
    none, used = homographies(path, W, H, W, H, overscan=False)
    assert used.scale == 1.0 and apply(none[0], 0, 0) == pytest.approx([0, 0])
    auto, chosen = homographies(path, W, H, W, H)
    again, reused = homographies(path, W, H, W, H, overscan=chosen)
    assert reused == chosen and np.allclose(auto, again)
    assert compute_overscan(plane_homographies(path, W, H), W, H, W, H) == chosen


# ------------------------------------------------------------------------------------------
# Words


@pytest.mark.parametrize("intensity,word", [(0.1, "slowly"), (0.5, "steadily"), (0.9, "quickly"), (1.0, "quickly")])
def test_camera_prompt_speed_words(intensity, word):
    assert camera_prompt(CameraMove("pan_left", intensity)) == f"the camera {word} pans left"


def test_camera_prompt_for_every_move_and_combinations():
    for move in MOVES:
        text = camera_prompt((CameraMove(move, 0.5),))
        assert text and isinstance(text, str)
    assert camera_prompt((CameraMove("static"),)) == "static camera, locked-off shot"
    assert camera_prompt(()) == "static camera, locked-off shot"
    combined = camera_prompt((CameraMove("dolly_in", 0.2), CameraMove("tilt_up", 0.8), CameraMove("handheld", 0.3)))
    assert combined == "the camera slowly dollies in and quickly tilts up, handheld camera, subtle shake"
    assert describe((CameraMove("pan_left", 0.6), CameraMove("static"))) == "pan left 0.6 (ease in out) + static"


@pytest.mark.parametrize(("size", "angle", "lens", "words"), [
    ("", "", None, ""),
    ("EWS", "", None, "extreme wide shot"),
    ("CU", "dutch", None, "close-up, dutch angle, tilted horizon"),
    ("", "high", 24.0, "high-angle shot, 24mm wide-angle lens"),
    ("MS", "eye_level", 50.0, "medium shot, eye-level angle, 50mm lens"),
])
def test_framing_prompt_words(size, angle, lens, words) -> None:
    from studio.camera import framing_prompt

    assert framing_prompt(size, angle, lens) == words


def test_framing_prompt_names_every_size_and_angle() -> None:
    from studio.board import ANGLES, SHOT_SIZES
    from studio.camera import framing_prompt

    assert all(framing_prompt(size) for size in SHOT_SIZES if size)
    assert all(framing_prompt(angle=angle) for angle in ANGLES if angle)
