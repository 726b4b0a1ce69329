"""The camera model: a shot's moves -> a per-frame pinhole camera -> per-frame homographies.

One pinhole camera looks at the keyframe as a plane at depth 1 (world units: the plane distance).
At rest the camera sits at the origin looking down +z, x right, y down, and sees the keyframe
filling the frame. A move changes seven numbers over the shot:

========  ======================  ==============================================================
number    unit                    meaning
========  ======================  ==============================================================
yaw       degrees                 positive turns the camera right (the picture slides left)
pitch     degrees                 positive tilts the camera up (the picture slides down)
roll      degrees                 positive rolls the camera clockwise (the picture turns ccw)
tx        plane distances         positive moves the camera right
ty        plane distances         positive moves the camera up
tz        plane distances         positive moves the camera forward, towards the keyframe
focal     factor                  focal length relative to the resting lens (2 = twice as long)
========  ======================  ==============================================================

The resting lens sees :data:`BASE_FOV_DEG` degrees across the frame's longer side.

What each move does at intensity 1 (intensity i scales the amount linearly; zooms scale the
focal length exponentially, ``1.6 ** i``, so equal steps of intensity look like equal steps of
zoom). The easing shapes the progress ``e(u)`` from 0 at the first frame to 1 at the last.

=====================  ======================================================================
move                   camera path at intensity 1
=====================  ======================================================================
static                 nothing: every frame is identical
pan_left / pan_right   yaw -15 / +15 degrees
tilt_up / tilt_down    pitch +8 / -8 degrees
roll_cw / roll_ccw     roll +15 / -15 degrees
zoom_in / zoom_out     focal x1.6 / x1/1.6 (pure scale about the centre)
dolly_in / dolly_out   tz +0.3 / -0.3 (the keyframe grows to x1.43 / shrinks to x0.77)
truck_left/right       tx -0.2 / +0.2 (a slide of 21% of the frame's longer side)
pedestal_up/down       ty +0.12 / -0.12
crane_up / crane_down  ty +0.25 / -0.25 while pitching by -atan(ty) so the centre stays framed
orbit_left/right       an arc of 15 degrees around the keyframe's centre, radius 1:
                       tx = -/+ sin(a), tz = 1 - cos(a), yaw = +/- a (keeps looking at the centre)
dolly_zoom             tz -0.3 (dolly out) while focal grows to x1.6, holding the size of a
                       subject halfway to the keyframe; the keyframe itself swells to x1.23
handheld               smooth seeded noise (three sines per axis, 0.2-1.5 Hz) on every axis:
                       yaw 1.0, pitch 0.7, roll 0.6 degrees, tx/ty/tz 0.01, focal x1.01 at most
=====================  ======================================================================

Easings: linear ``u``; ease_in ``u^2``; ease_out ``1-(1-u)^2``; ease_in_out ``3u^2-2u^3``.
Moves combine by adding angles and translations and multiplying focal factors; handheld adds
its noise to whatever else is happening. The handheld noise depends only on the shot seed and
the time in seconds, so the same seed shakes the same way whatever the shot length.

The homography of frame t maps an OUTPUT pixel to a KEYFRAME (source) pixel:
``H = S · Z · (K' R (I - C n^T) K^-1)^-1`` where K is the resting lens, K' the frame's lens, R the
world-to-camera rotation, C the camera centre and n = (0, 0, 1) the plane normal (this is
``K'(R - t n^T)K^-1`` with t = R C). Z is the overscan (a scale and shift, the same for every
frame) and S fits the keyframe to the frame (cover or letterbox, centred). Pixel centres are at
integer coordinates, as in OpenCV. The overscan is the smallest magnification that keeps every
corner of every frame inside the keyframe for the whole move, shifted the least from centre, so
no border ever shows and the keyframe is magnified no more than the move needs.

Layers of a drawn panel are planes at their own depths d (the keyframe plane is d = 1), each
filling the resting view as drawn: ``H_d = K' R (I - C n^T / d) K^-1``, so translations move a
near layer more (parallax ~ 1/d) and rotations and focal changes move every layer alike. A shot
that continues another starts at that shot's end pose (``camera_path(start=...)``) and framing
(:func:`ramp_overscan`), so its first frame is the other's last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from studio.board import EASINGS, MOVES, CameraMove
from studio.common import check_fit

BASE_FOV_DEG = 50.0
"""Field of view of the resting lens across the frame's longer side (a moderate wide angle)."""
PARAMS: tuple[str, ...] = ("yaw", "pitch", "roll", "tx", "ty", "tz", "focal")
DEFAULT_FPS = 24.0

ZOOM_FACTOR = 1.6
DOLLY_ZOOM_SUBJECT_DEPTH = 0.5
AMOUNTS = MappingProxyType({
    "pan": 15.0,          # degrees of yaw
    "tilt": 8.0,          # degrees of pitch
    "roll": 15.0,         # degrees of roll
    "dolly": 0.3,         # plane distances
    "truck": 0.2,         # plane distances
    "pedestal": 0.12,     # plane distances
    "crane": 0.25,        # plane distances (plus the compensating pitch)
    "orbit": 15.0,        # degrees of arc
    "dolly_zoom": 0.3,    # plane distances of dolly out
})
HANDHELD_AMPLITUDES = (1.0, 0.7, 0.6, 0.01, 0.01, 0.01, 0.01)
"""Peak handheld deviation per parameter at intensity 1 (focal as a relative change)."""
HANDHELD_BAND_HZ = (0.2, 1.5)

_SPEED_WORDS = ((0.34, "slowly"), (0.67, "steadily"), (1.01, "quickly"))
_PHRASES = MappingProxyType({
    "pan_left": "pans left", "pan_right": "pans right",
    "tilt_up": "tilts up", "tilt_down": "tilts down",
    "roll_cw": "rolls clockwise", "roll_ccw": "rolls counter-clockwise",
    "zoom_in": "zooms in", "zoom_out": "zooms out",
    "dolly_in": "dollies in", "dolly_out": "dollies out",
    "truck_left": "trucks left", "truck_right": "trucks right",
    "pedestal_up": "rises on a pedestal", "pedestal_down": "lowers on a pedestal",
    "crane_up": "cranes up", "crane_down": "cranes down",
    "orbit_left": "orbits left around the subject", "orbit_right": "orbits right around the subject",
    "dolly_zoom": "performs a dolly zoom",
})


class CameraError(ValueError):
    """A camera move or path cannot be made; the message names the bad value."""


# --------------------------------------------------------------------------------------------
# Moves -> per-frame parameters


def ease(easing: str, u: np.ndarray) -> np.ndarray:
    """Progress 0..1 shaped by an easing (see the module docstring)."""
    if easing == "linear":
        return u
    if easing == "ease_in":
        return u * u
    if easing == "ease_out":
        return 1.0 - (1.0 - u) ** 2
    if easing == "ease_in_out":
        return u * u * (3.0 - 2.0 * u)
    raise CameraError(f"unknown easing {easing!r}; valid easings: {', '.join(EASINGS)}")


def _check_move(move: Any) -> CameraMove:
    if not isinstance(move, CameraMove):
        raise CameraError(f"a camera move must be a CameraMove, got {move!r}")
    if move.move not in MOVES:  # CameraMove validates too; a hand-built object may not have
        raise CameraError(f"unknown camera move {move.move!r}; valid moves: {', '.join(MOVES)}")
    if not (isinstance(move.intensity, (int, float)) and 0.0 <= move.intensity <= 1.0):
        raise CameraError(f"intensity of {move.move} must be from 0 to 1, got {move.intensity!r}")
    return move


def _handheld(seed: int, times: np.ndarray) -> np.ndarray:
    """(T, 7) noise in -1..1 per parameter: three sines per axis, seeded, smooth in time."""
    rng = np.random.default_rng([int(seed), 0x48414E44])
    low, high = HANDHELD_BAND_HZ
    freqs = rng.uniform(low, high, size=(7, 3))
    phases = rng.uniform(0.0, 2.0 * math.pi, size=(7, 3))
    weights = 1.0 / freqs  # more slow sway than fast shake
    waves = np.sin(2.0 * math.pi * freqs[None] * times[:, None, None] + phases[None]) * weights[None]
    return waves.sum(axis=2) / weights.sum(axis=1)[None]


def _move_params(move: CameraMove, e: np.ndarray) -> np.ndarray:
    """(T, 7) parameters of one non-handheld move for progress e (T,)."""
    p = np.zeros((e.size, 7))
    p[:, 6] = 1.0
    name, k = move.move, move.intensity * e
    side = -1.0 if name.endswith(("_left", "_ccw", "_down", "_out")) else 1.0
    if name.startswith("pan_"):
        p[:, 0] = side * AMOUNTS["pan"] * k
    elif name.startswith("tilt_"):
        p[:, 1] = side * AMOUNTS["tilt"] * k
    elif name.startswith("roll_"):
        p[:, 2] = side * AMOUNTS["roll"] * k
    elif name.startswith("zoom_"):
        p[:, 6] = ZOOM_FACTOR ** (side * k)
    elif name.startswith("dolly_") and name != "dolly_zoom":
        p[:, 5] = side * AMOUNTS["dolly"] * k
    elif name.startswith("truck_"):
        p[:, 3] = side * AMOUNTS["truck"] * k
    elif name.startswith("pedestal_"):
        p[:, 4] = side * AMOUNTS["pedestal"] * k
    elif name.startswith("crane_"):
        p[:, 4] = side * AMOUNTS["crane"] * k
        p[:, 1] = -np.degrees(np.arctan(p[:, 4]))
    elif name.startswith("orbit_"):
        arc = np.radians(side * AMOUNTS["orbit"] * k)
        p[:, 3] = np.sin(arc)
        p[:, 5] = 1.0 - np.cos(arc)
        p[:, 0] = -np.degrees(arc)
    elif name == "dolly_zoom":
        p[:, 5] = -AMOUNTS["dolly_zoom"] * k
        p[:, 6] = (DOLLY_ZOOM_SUBJECT_DEPTH - p[:, 5]) / DOLLY_ZOOM_SUBJECT_DEPTH
    return p


@dataclass(frozen=True, eq=False)
class CameraPath:
    """The camera of every frame of a shot: ``params`` is (T, 7) in the order of PARAMS.

    ``params`` is a private read-only copy, so a path cannot change after it is made.
    """

    moves: tuple[CameraMove, ...]
    num_frames: int
    seed: int
    fps: float
    params: np.ndarray

    def __post_init__(self) -> None:
        params = np.array(self.params, dtype=np.float64)
        if params.shape != (self.num_frames, len(PARAMS)):
            raise CameraError(f"params must be shaped ({self.num_frames}, {len(PARAMS)}), got {params.shape}")
        params.setflags(write=False)
        object.__setattr__(self, "params", params)

    def column(self, name: str) -> np.ndarray:
        return self.params[:, PARAMS.index(name)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: the moves, units and one list per parameter, for take sidecars."""
        return {
            "model": "pinhole looking at the keyframe as a plane at depth 1",
            "fov_deg": BASE_FOV_DEG,
            "units": {"yaw": "deg", "pitch": "deg", "roll": "deg", "tx": "plane distances",
                      "ty": "plane distances", "tz": "plane distances", "focal": "factor"},
            "moves": [{"move": m.move, "intensity": m.intensity, "easing": m.easing} for m in self.moves],
            "num_frames": self.num_frames,
            "seed": self.seed,
            "fps": self.fps,
            "frames": {name: [round(float(v), 9) for v in self.params[:, i]] for i, name in enumerate(PARAMS)},
        }


def camera_path(
    moves: tuple[CameraMove, ...] | CameraMove,
    num_frames: int,
    seed: int = 0,
    fps: float = DEFAULT_FPS,
    start: tuple[float, ...] | None = None,
) -> CameraPath:
    """Per-frame camera parameters for a shot's (combined) moves.

    ``start`` (seven numbers, PARAMS order) continues a previous shot's camera from its end pose:
    the move is added to it, relative to the move's own first frame, so frame 0 is exactly
    ``start`` (handheld noise included) and the cut is a frame match."""
    if isinstance(moves, CameraMove):
        moves = (moves,)
    moves = tuple(_check_move(m) for m in moves)
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise CameraError(f"a shot needs at least 1 frame, got {num_frames!r}")
    try:
        rate = float(fps)
    except (TypeError, ValueError):
        rate = math.nan
    if not 0 < rate <= 1000:
        raise CameraError(f"fps must be a positive frame rate, got {fps!r}")
    u = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    params = np.zeros((num_frames, 7))
    focal = np.ones(num_frames)
    for move in moves:
        if move.move == "static" or move.intensity == 0.0:
            continue
        if move.move == "handheld":
            noise = _handheld(seed, np.arange(num_frames) / rate) * np.asarray(HANDHELD_AMPLITUDES) * move.intensity
            params[:, :6] += noise[:, :6]
            focal *= 1.0 + noise[:, 6]
            continue
        p = _move_params(move, ease(move.easing, u))
        params[:, :6] += p[:, :6]
        focal *= p[:, 6]
    params[:, 6] = focal
    if start is not None:
        pose = np.asarray(start, dtype=np.float64)
        if pose.shape != (len(PARAMS),) or not np.all(np.isfinite(pose)) or pose[6] <= 0:
            raise CameraError(f"a start pose is {len(PARAMS)} finite numbers ({', '.join(PARAMS)}), got {start!r}")
        params[:, :6] += pose[:6] - params[0, :6]
        params[:, 6] *= pose[6] / params[0, 6]
    return CameraPath(moves=moves, num_frames=num_frames, seed=int(seed), fps=rate, params=params)


# --------------------------------------------------------------------------------------------
# Parameters -> homographies


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Camera-to-world rotation: yaw about y, then pitch about x, then roll about z (pan-tilt head)."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz


def rotations(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(T, 3, 3) :func:`rotation` for arrays of angles (degrees), in one go."""
    y, p, r = np.radians(yaw), np.radians(pitch), np.radians(roll)
    one, zero = np.ones_like(y), np.zeros_like(y)
    ry = np.stack([np.cos(y), zero, np.sin(y), zero, one, zero, -np.sin(y), zero, np.cos(y)], -1).reshape(-1, 3, 3)
    rx = np.stack([one, zero, zero, zero, np.cos(p), -np.sin(p), zero, np.sin(p), np.cos(p)], -1).reshape(-1, 3, 3)
    rz = np.stack([np.cos(r), -np.sin(r), zero, np.sin(r), np.cos(r), zero, zero, zero, one], -1).reshape(-1, 3, 3)
    return ry @ rx @ rz


def base_focal(width: int, height: int) -> float:
    """Focal length in pixels of the resting lens for a frame of this size."""
    return (max(width, height) / 2.0) / math.tan(math.radians(BASE_FOV_DEG) / 2.0)


def plane_homographies(path: CameraPath, width: int, height: int, depth: float = 1.0) -> np.ndarray:
    """(T, 3, 3) maps from an output pixel to the pixel of the resting view (no fit, no overscan)
    of a plane at ``depth`` (keyframe-plane distances). The plane fills the resting view whatever
    its depth, so ``H_d = K' R (I - C n^T / d) K^-1``: translations move a near plane more
    (parallax ~ 1/d), rotations and focal changes move every plane alike."""
    if isinstance(depth, bool) or not isinstance(depth, (int, float)) or not (math.isfinite(depth) and depth > 0):
        raise CameraError(f"a plane's depth must be a positive number, got {depth!r}")
    f = base_focal(width, height)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    k_inv = np.linalg.inv(np.array([[f, 0, cx], [0, f, cy], [0, 0, 1.0]]))
    yaw, pitch, roll, tx, ty, tz, focal = path.params.T
    reached = np.flatnonzero(tz >= 0.98 * depth)
    if reached.size:
        index = int(reached[0])
        raise CameraError(f"frame {index}: the camera reaches the plane at depth {depth:g} (it has moved "
                          f"{tz[index]:.3g} forward); reduce the dolly or set that layer further away")
    k_frame = np.zeros((path.num_frames, 3, 3))
    k_frame[:, 0, 0] = k_frame[:, 1, 1] = f * focal
    k_frame[:, 0, 2], k_frame[:, 1, 2], k_frame[:, 2, 2] = cx, cy, 1.0
    lift = np.broadcast_to(np.eye(3), (path.num_frames, 3, 3)).copy()  # I - C n^T / d
    lift[:, :, 2] -= np.stack([tx, -ty, tz], axis=1) / depth
    forward = k_frame @ rotations(yaw, pitch, roll).transpose(0, 2, 1) @ lift @ k_inv
    out = np.linalg.inv(forward)
    corners = np.concatenate([frame_corners(width, height), np.ones((4, 1))], axis=1).T
    depth_sign = (out @ corners)[:, 2, :]
    if np.any(depth_sign <= 1e-9):
        bad = int(np.argwhere(depth_sign <= 1e-9)[0][0])
        raise CameraError(
            f"frame {bad}: the camera looks past the edge of the keyframe plane "
            f"(camera {dict(zip(PARAMS, np.round(path.params[bad], 3)))}); reduce the intensities"
        )
    return out / out[:, 2:3, 2:3]


def _apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply (T, 3, 3) homographies to (N, 2) points -> (T, N, 2)."""
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1).T
    mapped = h @ homogeneous
    return (mapped[:, :2, :] / mapped[:, 2:3, :]).transpose(0, 2, 1)


def frame_corners(width: int, height: int) -> np.ndarray:
    """The four corner pixel centres of a frame; a homography maps its edges to straight lines,
    so a frame lies inside a rectangle exactly when these do."""
    return np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], float)


@dataclass(frozen=True)
class Overscan:
    """The magnification and shift applied to the fitted keyframe for the whole shot."""

    scale: float
    """How much the keyframe is magnified (>= 1; 1 means no overscan)."""
    shift_x: float
    shift_y: float
    """Offset of the view from the keyframe's centre, in output pixels."""

    def to_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "shift_x": self.shift_x, "shift_y": self.shift_y}


def fit_matrix(out_w: int, out_h: int, src_w: int, src_h: int, fit: str = "cover") -> np.ndarray:
    """3x3 map from an output-frame pixel to a source pixel when the source is fitted, centred."""
    check_fit(fit, CameraError)
    k = (min if fit == "cover" else max)(src_w / out_w, src_h / out_h)
    return np.array([
        [k, 0, (src_w - 1) / 2.0 - k * (out_w - 1) / 2.0],
        [0, k, (src_h - 1) / 2.0 - k * (out_h - 1) / 2.0],
        [0, 0, 1.0],
    ])


def compute_overscan(
    plane: np.ndarray, out_w: int, out_h: int, src_w: int, src_h: int, fit: str = "cover",
) -> Overscan:
    """Smallest magnification (and least shift) keeping every frame's outline inside the source."""
    points = _apply(plane, frame_corners(out_w, out_h)).reshape(-1, 2)
    centre = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    rel = points - centre
    lo, hi = _picture_bounds(out_w, out_h, src_w, src_h, fit)
    span = rel.max(axis=0) - rel.min(axis=0)
    room = hi - lo  # zero for a 1-pixel-wide source: uniform along that axis, nothing to keep inside
    limits = np.where((span > 1e-12) & (room > 0), room / np.maximum(span, 1e-12), np.inf)
    shrink = float(min(1.0, limits.min()))
    low_shift = lo - centre - shrink * rel.min(axis=0)
    high_shift = hi - centre - shrink * rel.max(axis=0)
    shift = np.clip(0.0, low_shift, np.maximum(low_shift, high_shift))
    return Overscan(scale=1.0 / shrink, shift_x=float(shift[0]), shift_y=float(shift[1]))


def _picture_bounds(out_w: int, out_h: int, src_w: int, src_h: int, fit: str) -> tuple[np.ndarray, np.ndarray]:
    """Where the picture lies in fitted output pixels (before the overscan): low and high corners."""
    fit_inv = np.linalg.inv(fit_matrix(out_w, out_h, src_w, src_h, fit))
    if fit == "cover":  # the whole source is picture: use what lies outside the cover crop too
        lo = (fit_inv @ np.array([0.0, 0.0, 1.0]))[:2]
        hi = (fit_inv @ np.array([src_w - 1.0, src_h - 1.0, 1.0]))[:2]
    else:  # letterbox: the padded canvas (bars included) is the picture
        lo, hi = np.zeros(2), np.array([out_w - 1.0, out_h - 1.0])
    return lo, hi


def ramp_overscan(
    plane: np.ndarray, out_w: int, out_h: int, src_w: int, src_h: int, start: Overscan, fit: str = "cover",
) -> list[Overscan]:
    """Per-frame overscans that begin exactly at ``start`` (the framing a continuity cut must
    match) and magnify only as much, and as late, as the move needs to keep every frame covered.

    ``plane`` is (T, 3, 3) or (P, T, 3, 3) for several planes (layers) that must all cover. The
    view stays centred where ``start`` put it (shifting it instead would cancel the camera's own
    travel across the plate); the magnification that covers the whole shot from there is the
    target. Covering overscans form a convex set, so a blend ``w`` of start and target covers a
    frame from some ``w_min`` on; the blend used is the running maximum of ``w_min``."""
    planes = plane.reshape(-1, *plane.shape[-3:])
    lo, hi = _picture_bounds(out_w, out_h, src_w, src_h, fit)
    centre = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    corners = frame_corners(out_w, out_h)
    shift0 = shift1 = np.array([start.shift_x, start.shift_y])
    rel_all = _apply(planes.reshape(-1, 3, 3), corners).reshape(-1, 2) - centre
    room_high, room_low = hi - centre - shift0, lo - centre - shift0
    with np.errstate(divide="ignore", invalid="ignore"):
        limits = np.where(rel_all > 1e-12, room_high / rel_all, np.where(rel_all < -1e-12, room_low / rel_all, np.inf))
    shrink0 = 1.0 / start.scale
    shrink1 = float(min(shrink0, np.min(limits)))
    if not shrink1 > 0:
        raise CameraError("the continued move leaves the plate: the previous shot ends at its edge")
    blends, reached = [], 0.0
    for frame in range(planes.shape[1]):
        rel = _apply(planes[:, frame], corners).reshape(-1, 2) - centre
        a = centre + shrink0 * rel + shift0
        b = (shrink1 - shrink0) * rel + (shift1 - shift0)
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(b > 1e-12, (lo - a) / b, np.where(b < -1e-12, (hi - a) / b, -np.inf))
        reached = max(reached, float(np.clip(np.max(need, initial=0.0), 0.0, 1.0)))
        blends.append(reached)
    return [Overscan(scale=1.0 / (shrink0 + (shrink1 - shrink0) * w), shift_x=float(shift0[0] + (shift1[0] - shift0[0]) * w),
                     shift_y=float(shift0[1] + (shift1[1] - shift0[1]) * w)) for w in blends]


def homographies(
    path: CameraPath,
    out_w: int,
    out_h: int,
    src_w: int,
    src_h: int,
    overscan: bool | Overscan | list[Overscan] = True,
    fit: str = "cover",
    depth: float = 1.0,
) -> tuple[np.ndarray, Overscan]:
    """(T, 3, 3) maps from OUTPUT pixel to KEYFRAME pixel for every frame, and the overscan used
    (the last frame's, when there is one per frame).

    ``overscan`` True computes the smallest one for this path; False uses none (borders may show);
    an :class:`Overscan` value reuses one (e.g. the same framing for a first and a last keyframe);
    a list gives one per frame (see :func:`ramp_overscan`). ``depth``: the plane's distance.
    """
    for name, value in (("out_w", out_w), ("out_h", out_h), ("src_w", src_w), ("src_h", src_h)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise CameraError(f"{name} must be a positive number of pixels, got {value!r}")
    plane = plane_homographies(path, out_w, out_h, depth)
    if overscan is True:
        used = [compute_overscan(plane, out_w, out_h, src_w, src_h, fit)]
    elif overscan is False:
        used = [Overscan(1.0, 0.0, 0.0)]
    elif isinstance(overscan, Overscan):
        used = [overscan]
    else:
        used = list(overscan)
        if len(used) != path.num_frames:
            raise CameraError(f"{len(used)} overscans for {path.num_frames} frames")
    cx, cy = (out_w - 1) / 2.0, (out_h - 1) / 2.0
    zoom = np.array([[[1.0 / o.scale, 0, cx - cx / o.scale + o.shift_x],
                      [0, 1.0 / o.scale, cy - cy / o.scale + o.shift_y],
                      [0, 0, 1.0]] for o in used])
    full = fit_matrix(out_w, out_h, src_w, src_h, fit) @ zoom @ plane
    return full / full[:, 2:3, 2:3], used[-1]


def local_scale(h: np.ndarray, width: int, height: int) -> np.ndarray:
    """(T,) smallest source-pixels-per-output-pixel of each frame's map, over corners and centre.

    The animatic's warper uses it to pick a source resolution that stays sharp where the frame is most
    magnified.
    """
    points = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1],
                       [(width - 1) / 2, (height - 1) / 2]], float)
    base = _apply(h, points)
    dx = _apply(h, points + [1.0, 0.0]) - base
    dy = _apply(h, points + [0.0, 1.0]) - base
    area = np.abs(dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0])
    return np.sqrt(area).min(axis=1)


# --------------------------------------------------------------------------------------------
# Words, for backends that take text


def _speed_word(intensity: float) -> str:
    return next(word for limit, word in _SPEED_WORDS if intensity < limit)


def camera_prompt(moves: tuple[CameraMove, ...] | CameraMove) -> str:
    """A phrase for text-conditioned backends, e.g. "the camera slowly pans left"."""
    if isinstance(moves, CameraMove):
        moves = (moves,)
    moves = tuple(_check_move(m) for m in moves)
    phrases = [f"{_speed_word(m.intensity)} {_PHRASES[m.move]}"
               for m in moves if m.move not in ("static", "handheld") and m.intensity > 0]
    shaky = [m for m in moves if m.move == "handheld" and m.intensity > 0]
    if not phrases and not shaky:
        return "static camera, locked-off shot"
    text = "the camera " + " and ".join(phrases) if phrases else ""
    if shaky:
        shake = "handheld camera, subtle shake" if shaky[0].intensity < 0.5 else "handheld camera, noticeable shake"
        text = f"{text}, {shake}" if text else shake
    return text


_SIZE_WORDS = MappingProxyType({
    "EWS": "extreme wide shot", "WS": "wide shot", "MS": "medium shot", "MCU": "medium close-up",
    "CU": "close-up", "ECU": "extreme close-up", "insert": "insert shot",
})
_ANGLE_WORDS = MappingProxyType({
    "eye_level": "eye-level angle", "high": "high-angle shot", "low": "low-angle shot",
    "overhead": "overhead shot, looking straight down", "dutch": "dutch angle, tilted horizon",
})


def framing_prompt(shot_size: str = "", angle: str = "", lens_mm: float | None = None) -> str:
    """The card's framing in the words video models were captioned with, e.g.
    "medium close-up, low-angle shot, 85mm telephoto lens" ("" when nothing is set)."""
    parts = [_SIZE_WORDS[shot_size]] if shot_size else []
    if angle:
        parts.append(_ANGLE_WORDS[angle])
    if lens_mm is not None:
        kind = "wide-angle " if lens_mm < 30 else "telephoto " if lens_mm >= 70 else ""
        parts.append(f"{lens_mm:g}mm {kind}lens")
    return ", ".join(parts)


def describe(moves: tuple[CameraMove, ...]) -> str:
    """Short label for slates and burn-ins, e.g. "pan left 0.6 (ease in out) + handheld 0.2"."""
    return " + ".join(
        f"{m.move.replace('_', ' ')}" + ("" if m.move == "static" else f" {m.intensity:g} ({m.easing.replace('_', ' ')})")
        for m in moves
    )

