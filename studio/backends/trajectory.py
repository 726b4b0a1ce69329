"""The card's camera path as a camera trajectory: per-frame camera-to-world matrices and intrinsics.

SANA-WM (``SanaWMPipeline(image, prompt, c2w=..., intrinsics=...)``) is conditioned on the exact
camera of every generated frame, so a move means the same there as in the animatic. The convention
is the one the pipeline documents and ``diffusers.pipelines.sana_wm.cam_utils`` implements:

- ``c2w`` is (F, 4, 4) float32, camera-to-world, **OpenCV axes**: +x right, +y down, +z forward
  (the direction the camera looks). ``c2w[:3, :3]`` maps camera axes to world axes, ``c2w[:3, 3]``
  is the camera centre in world units. The pipeline makes every pose relative to the first
  (``inv(c2w[0]) @ c2w[i]``), so only the motion over the shot matters.
- ``intrinsics`` is (F, 4) float32 ``[fx, fy, cx, cy]`` in pixels **of the image passed as the
  first frame**; the pipeline rescales them for its own resize + centre crop. Pixel centres are
  at integer coordinates (its ray map uses ``arange(W)``), as in studio.camera.

Our camera model (studio.camera) already uses these axes: at rest the camera sits at the origin
looking down +z with x right and y down, and ``camera.rotation(yaw, pitch, roll)`` is its camera-to-world
rotation. So frame t's pose is ``R = rotation(yaw, pitch, roll)`` and centre ``(tx, -ty, tz)``
(``ty`` is positive *up*, world y is down), times ``plane_distance``: the keyframe plane's distance
in the model's world units (1 keeps our unit, the plane distance). The lens of frame t is the resting
lens (``BASE_FOV_DEG`` across the longer side) times the path's focal factor, about the image centre.

Frames: the model makes ``shape.frames`` frames that are retimed to the shot, model frame j showing
shot instant j / (F - 1) of the way through. The path is evaluated at those instants (easing over
the same progress, handheld noise at the same seconds), so the generated motion lands where the
animatic's does once retimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.board import CameraMove
from studio.camera import CameraPath, base_focal, camera_path, rotation

CONVENTION = ("c2w: camera-to-world 4x4, OpenCV axes (+x right, +y down, +z forward); "
              "intrinsics: [fx, fy, cx, cy] in pixels of the first-frame image, pixel centres at integers")


class TrajectoryError(ValueError):
    """The camera path cannot be turned into a trajectory; the message names the bad value."""


@dataclass(frozen=True)
class Trajectory:
    """Per-frame camera for a model: ``c2w`` (F, 4, 4) and ``intrinsics`` (F, 4), both float32."""

    c2w: np.ndarray
    intrinsics: np.ndarray
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        """For the take's sidecar: the convention and the first and last camera (the rest follows
        from the recorded camera path)."""
        return {
            "convention": CONVENTION,
            "frames": int(len(self.c2w)),
            "image_size": [self.width, self.height],
            "c2w_first": np.round(self.c2w[0], 6).tolist(),
            "c2w_last": np.round(self.c2w[-1], 6).tolist(),
            "intrinsics_first": np.round(self.intrinsics[0], 4).tolist(),
            "intrinsics_last": np.round(self.intrinsics[-1], 4).tolist(),
        }


def path_at_model_frames(moves: tuple[CameraMove, ...], model_frames: int, shot_frames: int,
                         shot_fps: float, seed: int, start: tuple[float, ...] | None = None) -> CameraPath:
    """The shot's camera path sampled at the instants the model's frames show after the retime."""
    if model_frames < 1 or shot_frames < 1:
        raise TrajectoryError(f"frame counts must be positive, got {model_frames} model and {shot_frames} shot frames")
    span = (shot_frames - 1) / float(shot_fps)  # seconds from the shot's first frame to its last
    fps = (model_frames - 1) / span if model_frames > 1 and span > 0 else float(shot_fps)
    return camera_path(tuple(moves), model_frames, seed=seed, fps=fps, start=start)


def trajectory(path: CameraPath, width: int, height: int, plane_distance: float = 1.0) -> Trajectory:
    """``c2w`` and ``intrinsics`` for every frame of ``path`` seen through a ``width`` x ``height``
    image (see the module docstring for the convention)."""
    if isinstance(plane_distance, bool) or not isinstance(plane_distance, (int, float)) \
            or not (np.isfinite(plane_distance) and plane_distance > 0):
        raise TrajectoryError(f"plane_distance must be a positive number of world units, got {plane_distance!r}")
    if width < 1 or height < 1:
        raise TrajectoryError(f"image size must be positive, got {width}x{height}")
    frames = path.num_frames
    c2w = np.zeros((frames, 4, 4), dtype=np.float64)
    c2w[:, 3, 3] = 1.0
    for index, (yaw, pitch, roll, tx, ty, tz, _focal) in enumerate(path.params):
        c2w[index, :3, :3] = rotation(yaw, pitch, roll)
        c2w[index, :3, 3] = np.array([tx, -ty, tz]) * float(plane_distance)
    focal = base_focal(width, height) * path.column("focal")
    intrinsics = np.stack([focal, focal, np.full(frames, (width - 1) / 2.0), np.full(frames, (height - 1) / 2.0)],
                          axis=1)
    return Trajectory(c2w=c2w.astype(np.float32), intrinsics=intrinsics.astype(np.float32), width=width, height=height)
