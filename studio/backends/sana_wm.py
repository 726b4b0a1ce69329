"""SANA-WM through Diffusers: image-to-video that follows the card's exact camera path.

``SanaWMPipeline(image, prompt, c2w=(F, 4, 4), intrinsics=(F, 4))`` is conditioned on the camera
of every generated frame. The first keyframe (drawn, uploaded or generated; or, under continuity,
the previous take's last frame) is the image; the shot's camera path (every move, easing,
intensity, handheld, and a continuity start pose) becomes the trajectory, in the convention
documented in studio/backends/trajectory.py. The prompt keeps the camera phrase every backend
gets, so words and path agree.

Options: ``plane_distance`` (the keyframe plane's distance in the model's world units, default 1)
scales the camera's translations; rotations and zooms do not depend on it.
"""

from __future__ import annotations

from typing import Any

from studio.backends.base import GenerationError, ShotRequest
from studio.backends.diffusers_common import Conditioning, DiffusersBackend, Shape, to_pil
from studio.backends.trajectory import TrajectoryError, path_at_model_frames, trajectory
from studio.camera import CameraError
from studio.models import ModelSpec


class SanaWMBackend(DiffusersBackend):
    name = "sana_wm"
    family = "sana_wm"
    default_model = "sana-wm"
    max_sequence_length = 300

    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        return spec.pipeline

    def call_defaults(self, spec: ModelSpec, shape: Shape) -> dict[str, Any]:
        return {"fps": shape.fps}

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        if task != "i2v" or cond.first is None:
            raise GenerationError(f"{spec.key} animates a first frame along the camera path: give the shot a "
                                  "first keyframe (or turn on continuity from a rendered previous shot)")
        return {"image": to_pil(cond.first)}

    def request_kwargs(self, request: ShotRequest, task: str, spec: ModelSpec, shape: Shape,
                       cond: Conditioning) -> tuple[dict[str, Any], dict[str, Any]]:
        """The trajectory of the generated frames, for an image of the generation size."""
        start = request.continuation.pose if request.continuation is not None else None
        plane_distance = request.options.get("plane_distance", 1.0)
        try:
            path = path_at_model_frames(request.camera, shape.frames, request.num_frames, float(request.fps),
                                        request.seed, start=start)
            track = trajectory(path, shape.width, shape.height, plane_distance)
        except (CameraError, TrajectoryError) as error:
            raise GenerationError(f"camera path: {error}") from None
        kwargs = {"c2w": track.c2w, "intrinsics": track.intrinsics,
                  # the pipeline wants text; an empty negative prompt is its own default
                  "negative_prompt": request.negative_prompt or ""}
        return kwargs, {"trajectory": track.to_dict() | {"plane_distance": plane_distance}}

    def output_frames(self, output: Any) -> Any:
        """SANA-WM returns one video unbatched: (T, H, W, 3)."""
        return output.frames
