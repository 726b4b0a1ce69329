"""The animatic backend: measured motion matches the camera path; keyframes, slate, cancel."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest

from studio.backends import create_backend
from studio.backends.animatic import AnimaticBackend, dissolve_weights
from studio.backends.base import Clip, GenerationCancelled, GenerationError, KeyframeImage, ShotRequest
from studio.board import MOVES, CameraMove, FrameRate
from studio.camera import camera_path, homographies

W, H, N = 160, 96, 24


def texture(width: int = 2 * W, height: int = 2 * H, seed: int = 1) -> np.ndarray:
    """Smooth multi-scale noise: rich enough to register sub-pixel, band-limited so resampling is exact."""
    rng = np.random.default_rng(seed)
    total = np.zeros((height, width, 3), np.float32)
    for sigma in (2.0, 5.0, 12.0):
        total += sigma * cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32), (0, 0), sigma)
    total -= total.min()
    return (total / total.max() * 255).astype(np.uint8)


TEXTURE = texture()


def request(camera=(CameraMove("static"),), keyframes=(), frames=N, width=W, height=H, seed=5, **extra) -> ShotRequest:
    return ShotRequest(
        shot_id="sh_test", shot_number=4, prompt="a lighthouse at dusk, waves below", negative_prompt="",
        num_frames=frames, width=width, height=height, fps=FrameRate(24), seed=seed, camera=tuple(camera),
        keyframes=tuple(keyframes), title="Test", **extra,
    )


def render(req: ShotRequest, backend: AnimaticBackend | None = None, **kwargs) -> Clip:
    return (backend or AnimaticBackend(**kwargs)).generate(req, lambda *_: None, threading.Event())


def first(image: np.ndarray = TEXTURE) -> KeyframeImage:
    return KeyframeImage("first", 0, image)


def measure(frames: np.ndarray, step: int = 4) -> dict[int, np.ndarray]:
    """Homography taking frame t's pixels to frame 0's, found by ECC from the pixels alone.

    Each estimate starts from the previous one (never from the expected path), so the
    measurement is independent of the camera model it checks.
    """
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    warp = np.eye(3, dtype=np.float32)
    found = {}
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    for t in range(step, len(grey), step):
        _, warp = cv2.findTransformECC(grey[t], grey[0], warp.copy(), cv2.MOTION_HOMOGRAPHY, criteria, None, 3)
        found[t] = warp.astype(np.float64)
    return found


def local_affine(h: np.ndarray, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """Where a homography sends (x, y), and its 2x2 Jacobian there (scale, rotation, shear)."""
    def apply(px: float, py: float) -> np.ndarray:
        v = h @ np.array([px, py, 1.0])
        return v[:2] / v[2]
    base = apply(x, y)
    jac = np.stack([apply(x + 1e-3, y) - base, apply(x, y + 1e-3) - base], axis=1) / 1e-3
    return base, jac


MOVING = [m for m in MOVES if m != "static"]


@pytest.mark.parametrize("move", MOVING)
def test_measured_motion_matches_the_camera_path(move):
    """Translations within 0.25 px; the linear part (scale, rotation) within 0.5 %."""
    req = request((CameraMove(move, 1.0, "linear"),), (first(),))
    clip = render(req)
    expected, _ = homographies(camera_path(req.camera, N, req.seed, 24.0), W, H, *TEXTURE.shape[1::-1])
    relative = np.linalg.inv(expected[0]) @ expected  # frame t pixel -> frame 0 pixel
    measured = measure(clip.frames)
    total_motion = 0.0
    for t, found in measured.items():
        for x, y in ((W / 2, H / 2), (W / 4, H / 4), (3 * W / 4, 3 * H / 4)):
            got_at, got_jac = local_affine(found, x, y)
            want_at, want_jac = local_affine(relative[t], x, y)
            assert np.abs(got_at - want_at).max() < 0.25, (t, x, y, got_at, want_at)
            assert np.abs(got_jac - want_jac).max() < 0.005 * np.abs(want_jac).max(), (t, got_jac, want_jac)
            total_motion = max(total_motion, float(np.abs(want_at - [x, y]).max()))
    assert total_motion > 2.0  # the move really moved the picture


@pytest.mark.parametrize("move,axis,sign", [("truck_right", 0, -1), ("truck_left", 0, 1),
                                            ("pedestal_up", 1, 1), ("pedestal_down", 1, -1)])
def test_slides_by_phase_correlation_frame_to_frame(move, axis, sign):
    """Pure slides: each frame-to-frame shift matches the path (and its direction) within 0.25 px."""
    req = request((CameraMove(move, 1.0, "ease_in_out"),), (first(),))
    clip = render(req)
    expected, _ = homographies(camera_path(req.camera, N, req.seed, 24.0), W, H, *TEXTURE.shape[1::-1])
    scale = expected[0, 0, 0]  # source pixels per output pixel (overscan and fit)
    window = cv2.createHanningWindow((W, H), cv2.CV_64F)
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in clip.frames]
    for t in range(1, N):
        (dx, dy), _ = cv2.phaseCorrelate(grey[t - 1], grey[t], window)
        want = -(expected[t, :2, 2] - expected[t - 1, :2, 2]) / scale  # picture moves against the camera
        assert abs((dx, dy)[axis] - want[axis]) < 0.25 and abs((dx, dy)[1 - axis]) < 0.25, (t, dx, dy, want)
        if t == N // 2:
            assert np.sign((dx, dy)[axis]) == sign


def test_static_gives_identical_frames():
    clip = render(request((CameraMove("static"),), (first(),)))
    assert clip.frames.shape == (N, H, W, 3)
    assert all(np.array_equal(frame, clip.frames[0]) for frame in clip.frames)


def test_handheld_is_reproducible_from_the_seed():
    camera = (CameraMove("handheld", 0.8),)
    a = render(request(camera, (first(),), seed=3)).frames
    b = render(request(camera, (first(),), seed=3)).frames
    c = render(request(camera, (first(),), seed=4)).frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[-1])


@pytest.mark.parametrize("moves", [(CameraMove(m, 1.0),) for m in MOVES] + [
    (CameraMove("pan_left", 1.0), CameraMove("tilt_down", 1.0), CameraMove("handheld", 1.0)),
    (CameraMove("orbit_right", 1.0), CameraMove("zoom_out", 1.0), CameraMove("roll_ccw", 1.0)),
], ids=lambda ms: "+".join(m.move for m in ms))
def test_no_border_in_any_frame_at_full_intensity(moves):
    """A uniform keyframe stays uniform: nothing from outside it ever enters a frame."""
    colour = np.array([190, 120, 60], np.uint8)
    keyframe = np.broadcast_to(colour, (130, 170, 3)).copy()
    frames = render(request(moves, (first(keyframe),))).frames
    assert np.all(frames == colour)


def test_exact_frame_count_and_dtype_for_odd_lengths_and_sizes():
    for frames in (1, 2, 9, 17):
        clip = render(request((CameraMove("zoom_in", 0.5),), (first(),), frames=frames, width=50, height=30))
        assert clip.frames.shape == (frames, 30, 50, 3) and clip.frames.dtype == np.uint8
        assert clip.fps == FrameRate(24)


def test_keyframes_of_any_size_and_aspect_are_fitted_cover_centred():
    marker = np.zeros((300, 1200, 3), np.uint8)
    marker[140:160, 590:610] = 255  # a white dot at the centre of a very wide image
    frame = render(request(keyframes=(first(marker),))).frames[0]
    assert frame[H // 2 - 1:H // 2 + 1, W // 2 - 1:W // 2 + 1].min() > 200
    assert frame[:, :W // 4].max() == 0
    portrait = np.full((400, 60, 3), 80, np.uint8)
    assert np.all(render(request(keyframes=(first(portrait),))).frames == 80)  # cover: no bars
    tiny = np.full((1, 1, 3), 33, np.uint8)  # 1x1 arrays are filled in; files that small are refused by load_rgb
    assert np.all(render(request(keyframes=(first(tiny),))).frames == 33)


def test_letterbox_option_keeps_the_whole_keyframe_with_bars():
    portrait = np.full((400, 100, 3), 200, np.uint8)
    for clip in (render(request(keyframes=(first(portrait),), options={"fit": "letterbox"})),
                 render(request(keyframes=(first(portrait),)), fit="letterbox")):
        frame = clip.frames[0]
        assert frame[:, :W // 4].max() < 5 and frame[:, -W // 4:].max() < 5  # bars
        assert frame[:, W // 2].min() > 195  # the whole height of the picture is shown
        assert clip.metadata["fit"] == "letterbox"


def test_first_and_last_keyframes_cross_dissolve_under_the_move():
    red, blue = np.zeros_like(TEXTURE), np.zeros_like(TEXTURE)
    red[..., 0], blue[..., 2] = TEXTURE[..., 0], TEXTURE[..., 1]
    keys = (KeyframeImage("first", 0, red), KeyframeImage("last", 0, blue))
    clip = render(request(keyframes=keys, options={"dissolve": 0.5}))
    frames = clip.frames.astype(int)
    alone_red = render(request(keyframes=(first(red),))).frames[0].astype(int)
    alone_blue = render(request(keyframes=(first(blue),))).frames[0].astype(int)
    assert np.array_equal(frames[0], alone_red) and np.array_equal(frames[-1], alone_blue)
    weights = dissolve_weights([0, N - 1], N, 0.5)[:, 1]
    for t in range(N):
        blend = (1 - weights[t]) * alone_red + weights[t] * alone_blue
        assert np.abs(frames[t] - blend).max() <= 1
    assert clip.metadata["source"] == ["first", "last"]
    # under a move both pictures follow the same camera: the blend stays registered
    moving = render(request((CameraMove("pan_right", 1.0),), keys)).frames
    assert moving.shape == (N, H, W, 3) and not np.array_equal(moving[0], moving[-1])


def test_mid_keyframe_is_whole_at_its_frame():
    green = np.zeros_like(TEXTURE)
    green[..., 1] = TEXTURE[..., 2]
    alone = render(request(keyframes=(first(green),))).frames[0]
    held = render(request(keyframes=(first(), KeyframeImage("mid", 10, green)))).frames
    assert np.array_equal(held[10], alone) and np.array_equal(held[-1], alone)  # held after it
    assert np.array_equal(held[0], render(request(keyframes=(first(),))).frames[0])
    through = render(request(keyframes=(first(), KeyframeImage("mid", 10, green), KeyframeImage("last", 0, TEXTURE)))).frames
    assert np.array_equal(through[10], alone)  # dissolves through it: whole at its own frame
    assert not np.array_equal(through[5], alone) and not np.array_equal(through[16], alone)  # mid-gap blends


def test_dissolve_weights_shape():
    weights = dissolve_weights([0, 10, 30], 31, 0.5)
    assert np.allclose(weights.sum(axis=1), 1)
    assert weights[0, 0] == 1 and weights[10, 1] == 1 and weights[30, 2] == 1
    ramp = weights[:11, 1]
    assert np.all(np.diff(ramp) >= 0) and ramp[2] == 0 and ramp[8] == 1  # middle half of the gap
    assert dissolve_weights([5], 8, 0.5).tolist() == [[1.0]] * 8


def test_continuity_frame_starts_the_shot_unless_a_first_keyframe_is_given():
    previous = np.full((H, W, 3), 99, np.uint8)
    clip = render(request(previous_last_frame=previous))
    assert np.all(clip.frames == 99) and clip.metadata["source"] == ["continuity"]
    own = render(request(keyframes=(first(),), previous_last_frame=previous))
    assert own.metadata["source"] == ["first"] and not np.any(np.all(own.frames == 99, axis=-1).all())


def test_slate_when_there_is_no_keyframe():
    clip = render(request((CameraMove("pan_left", 1.0),)))
    frames = clip.frames
    assert clip.metadata["source"] == "slate"
    assert frames.std() > 20  # textured, not a flat card
    measured = measure(frames, step=6)
    shift = local_affine(measured[18], W / 2, H / 2)[0][0] - W / 2
    assert shift < -3  # pan left: frame 18's centre was left of centre in frame 0
    again = render(request((CameraMove("pan_left", 1.0),)))
    assert np.array_equal(again.frames, frames)  # deterministic
    other = render(request((CameraMove("pan_left", 1.0),), seed=6))
    assert not np.array_equal(other.frames, frames)


def test_slate_shows_the_text():
    plain = render(request(frames=1, width=320, height=192)).frames[0].astype(int)
    wordy = ShotRequest(**{**request(frames=1, width=320, height=192).__dict__, "prompt": "x" * 300})
    different = render(wordy).frames[0].astype(int)
    assert np.abs(plain - different).max() > 100  # the prompt is drawn


def test_progress_is_reported_per_batch_up_to_the_total():
    calls = []
    AnimaticBackend().generate(request(frames=40), lambda done, total, msg: calls.append((done, total)), threading.Event())
    assert calls[0] == (0, 40) and calls[-1] == (40, 40)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and len(calls) >= 5


def test_cancel_stops_within_a_few_frames():
    cancel = threading.Event()
    calls = []

    def progress(done, total, msg):
        calls.append(done)
        if done >= 8:
            cancel.set()

    with pytest.raises(GenerationCancelled, match="cancelled"):
        AnimaticBackend(workers=2).generate(request((CameraMove("pan_left"),), frames=400), progress, cancel)
    assert max(calls) <= 8 + 2 * 8
    already = threading.Event()
    already.set()
    with pytest.raises(GenerationCancelled):
        AnimaticBackend().generate(request(frames=400), lambda *_: None, already)


def test_bad_requests_have_clear_messages():
    with pytest.raises(GenerationError, match="at least 1 frame"):
        render(request(frames=0))
    with pytest.raises(GenerationError, match="width"):
        render(request(width=0))
    with pytest.raises(GenerationError, match="options.fit"):
        render(request(options={"fit": "stretch"}))
    with pytest.raises(GenerationError, match="options.dissolve"):
        render(request(options={"dissolve": 2}))
    with pytest.raises(GenerationError, match="load_rgb"):
        render(request(keyframes=(first(TEXTURE.astype(np.float32)),)))
    forged = object.__new__(CameraMove)
    for name, value in (("move", "spin"), ("intensity", 0.5), ("easing", "linear")):
        object.__setattr__(forged, name, value)
    with pytest.raises(GenerationError, match="spin.*valid moves: static, pan_left"):
        render(request((forged,)))
    with pytest.raises(GenerationError, match="fit"):
        AnimaticBackend(fit="stretch")


def test_registry_builds_it_and_ignores_model_settings():
    backend = create_backend("animatic", device="cpu", model="anything", memory_profile="low")
    assert backend.name == "animatic"
    clip = backend.generate(request(frames=3), lambda *_: None, threading.Event())
    assert clip.frames.shape == (3, H, W, 3)


def test_metadata_records_the_camera_and_overscan_as_json():
    clip = render(request((CameraMove("truck_right", 1.0),), (first(),), frames=6))
    data = json.loads(json.dumps(clip.metadata))
    assert data["backend"] == "animatic"
    assert data["camera"]["moves"][0]["move"] == "truck_right"
    assert len(data["camera"]["frames"]["tx"]) == 6
    assert data["overscan"][0]["keyframe"] == "first" and data["overscan"][0]["scale"] > 1
    assert data["ignored_options"] == []
    noted = render(request(frames=2, options={"steps": 30, "fit": "cover"}))
    assert noted.metadata["ignored_options"] == ["steps"]  # said, not silently dropped
