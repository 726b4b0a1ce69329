"""The animatic backend: the keyframe (or a slate) filmed by the shot's virtual camera, on any CPU.

This is the app's default backend and the reference meaning of every camera move: the frames
are exactly what :mod:`studio.camera` says the camera sees, warped sub-pixel accurately.

How a frame is made:

1. The shot's moves become a per-frame camera path and, per keyframe, per-frame homographies
   from output pixel to keyframe pixel, with the smallest overscan that never shows a border.
2. Each keyframe is resampled into a few *levels* (studio.backends.warper): band-limited to the
   frame's resolution at a given magnification (area averaging, so no aliasing) and then
   upsampled 2x (bicubic). A frame is warped from the level matching its magnification
   (quarter-octave steps) with bilinear interpolation. On a 2x band-limited image that is as
   faithful as a bicubic warp of the original (benchmarks/bench_animatic.py: about 1 dB better
   PSNR against a supersampled reference, no shimmer where the keyframe is minified) at several
   times less CPU, and exact in position (OpenCV resolves 1/32 of a level pixel, i.e. 1/64 of
   an output pixel). Frames for the encoder are warped as yuv420p planes, RGB frames as RGBA.
3. Several keyframes (first, mid, last; the previous shot's last frame for continuity) are
   cross-dissolved under the same camera: the dissolve between two keyframes is centred
   between their frames and lasts ``dissolve`` (default half) of the gap.
4. A drawn panel (a keyframe with layers) is filmed as planes, one per layer at its depth
   (camera.plane_homographies): composited back to front (premultiplied "over", paper white
   under a transparent back layer), sharing one overscan that keeps the edge of every opaque or
   edge-touching layer out of every frame, so the panel is framed as drawn and a truck or dolly
   past it has parallax ~ 1/depth.
5. Continuity: after an animatic take the camera starts at that take's end pose over the same
   plate (request.continuation), its overscan starting at the end framing and growing only as
   the move needs (camera.ramp_overscan); after any other take the last frame is the plate, framed
   1:1 at the rest pose. Either way the first frame is the previous last frame; a frame that shows
   a picture 1:1 copies it (no resampling).
6. With no keyframe at all, a slate is drawn (title, prompt, camera move; studio.slate) over a
   textured grid, so the camera's motion reads clearly. Its metadata says ``source: "slate"``;
   the shot number is drawn at export, so it is always the shot's current one.

Frames are warped in batches on a thread pool (OpenCV releases the GIL) and streamed
(:meth:`AnimaticBackend.stream`): a caller takes them one by one straight into the encoder, with
only the batches in flight in memory. A level is built by the first frame that needs it, so the
encoder starts on the first frames while later levels are still being made. The progress
callback runs after each batch and cancel is checked before each frame.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from studio.backends.base import Clip, ClipStream, GenerationError, KeyframeImage, ShotRequest
from studio.backends.warper import PIXEL_FORMATS, RGB24, Plane, Source, Warper, stream_frames
from studio.camera import (
    CameraError, CameraPath, Overscan, camera_path, compute_overscan, describe, homographies, local_scale,
    plane_homographies, ramp_overscan,
)
from studio.common import Progress, check_fit, shown
from studio.slate import SLATE_NUMBER_AT_EXPORT, SlateText, draw_slate

MAX_FRAME_SIDE = 8192
DEFAULT_DISSOLVE = 0.5
OPTIONS: tuple[str, ...] = ("fit", "dissolve")
"""request.options this backend reads; others (meant for model backends) are listed as ignored."""
INTERPOLATION = "bilinear from a 2x band-limited pyramid (quarter-octave levels)"
REST_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
"""The camera at rest (camera.PARAMS): where a shot continuing from a last frame starts."""


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------
# Keyframes, dissolves, slate


def dissolve_weights(anchor_frames: list[int], num_frames: int, dissolve: float) -> np.ndarray:
    """(T, A) blend weights: each anchor is whole at its frame; neighbours cross-dissolve,
    centred between them, over ``dissolve`` of the gap (a smoothstep ramp)."""
    weights = np.zeros((num_frames, len(anchor_frames)))
    t = np.arange(num_frames, dtype=float)
    weights[t <= anchor_frames[0], 0] = 1.0
    weights[t >= anchor_frames[-1], -1] = 1.0
    for index, frame in enumerate(anchor_frames):
        weights[frame, index] = 1.0
    for index in range(len(anchor_frames) - 1):
        a, b = anchor_frames[index], anchor_frames[index + 1]
        inside = (t > a) & (t < b)
        length = max(1.0, dissolve * (b - a))
        middle = (a + b) / 2.0
        x = np.clip((t[inside] - (middle - length / 2.0)) / length, 0.0, 1.0)
        mix = x * x * (3.0 - 2.0 * x)
        weights[inside, index] = 1.0 - mix
        weights[inside, index + 1] = mix
    return weights


@dataclass(frozen=True)
class _Anchor:
    """A picture pinned to a frame: a keyframe (maybe layered), or the continuity plate/frame."""

    frame: int
    keyframe: KeyframeImage
    label: str
    start: Overscan | None = None
    """For the continuity anchor: the framing its first frame must match exactly."""
    fit: str | None = None


def _anchors(request: ShotRequest) -> list[_Anchor]:
    """The pictures pinned to the shot, sorted, one per frame. A continuity shot without a first
    keyframe of its own starts on the previous animatic's plate (from its end framing) or on the
    previous take's last frame (framed exactly as it is)."""
    last = request.num_frames - 1
    pinned: dict[int, _Anchor] = {}
    if request.keyframe("first") is None:
        if request.continuation is not None:
            c = request.continuation
            pinned[0] = _Anchor(0, c.plate, "continuity", Overscan(*c.overscan), c.fit)
        elif request.previous_last_frame is not None:
            pinned[0] = _Anchor(0, KeyframeImage("first", 0, request.previous_last_frame), "continuity",
                                Overscan(1.0, 0.0, 0.0), "cover")
    order = {"first": 0, "mid": 1, "last": 2}
    for keyframe in sorted(request.keyframes, key=lambda k: order.get(k.role, 1)):
        if keyframe.role not in order:
            raise GenerationError(f"keyframe role must be first, mid or last, got {shown(keyframe.role)}")
        frame = {"first": 0, "last": last}.get(keyframe.role, min(max(keyframe.frame, 0), last))
        pinned[frame] = _Anchor(frame, keyframe, keyframe.role)
    for anchor in pinned.values():
        image = anchor.keyframe.image
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3 and min(image.shape[:2]) >= 1):
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise GenerationError(
                f"{anchor.label} keyframe must be decoded RGB uint8 (H, W, 3) (use studio.images.load_rgb), got {got}"
            )
        for layer in anchor.keyframe.layers:
            if not (isinstance(layer.rgba, np.ndarray) and layer.rgba.dtype == np.uint8
                    and layer.rgba.shape == image.shape[:2] + (4,)):
                raise GenerationError(f"{anchor.label} keyframe: layer {shown(layer.name)} must be RGBA uint8 "
                                      f"the size of the keyframe {image.shape[1]}x{image.shape[0]}")
            if not (isinstance(layer.depth, (int, float)) and math.isfinite(layer.depth) and layer.depth > 0):
                raise GenerationError(f"{anchor.label} keyframe: layer {shown(layer.name)} needs a positive depth, "
                                      f"got {shown(layer.depth)}")
    return [pinned[frame] for frame in sorted(pinned)]


def _letterbox_canvas(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pad with black (or, for a layer, transparent) bars to the frame's aspect at the image's own
    resolution."""
    src_h, src_w = image.shape[:2]
    canvas_w = max(src_w, round(src_h * width / height))
    canvas_h = max(src_h, round(src_w * height / width))
    canvas = np.zeros((canvas_h, canvas_w, image.shape[2]), np.uint8)
    x0, y0 = (canvas_w - src_w) // 2, (canvas_h - src_h) // 2
    canvas[y0:y0 + src_h, x0:x0 + src_w] = image
    return canvas


def _premultiplied(rgba: np.ndarray, opacity: float) -> np.ndarray:
    """A layer with its opacity applied, colour multiplied by alpha (8-bit OpenCV arithmetic, rounded)."""
    alpha = cv2.convertScaleAbs(rgba[..., 3], alpha=opacity)
    out = cv2.multiply(rgba, cv2.merge([alpha, alpha, alpha, np.full_like(alpha, 255)]), scale=1.0 / 255.0)
    out[..., 3] = alpha
    return out


def _touches_edge(rgba: np.ndarray) -> bool:
    """Whether a layer has paint on its outermost pixels (then its edge must stay out of frame)."""
    alpha = rgba[..., 3]
    return bool(alpha[0].any() or alpha[-1].any() or alpha[:, 0].any() or alpha[:, -1].any())


def _planes(anchor: _Anchor, fit: str, width: int, height: int) -> list[tuple[np.ndarray, float, bool, bool]]:
    """(picture, depth, opaque, constrains) back to front: the layers of a drawn panel, else the
    keyframe as one opaque plane at depth 1. A plane "constrains" the overscan when its edge
    would show: an opaque picture, or a layer painted up to its border."""
    def framed(image: np.ndarray) -> np.ndarray:
        return _letterbox_canvas(image, width, height) if fit == "letterbox" else image

    if not anchor.keyframe.layers:
        return [(framed(anchor.keyframe.image), 1.0, True, True)]
    planes = []
    for index, layer in enumerate(anchor.keyframe.layers):
        opaque = bool(layer.opacity >= 1.0 and layer.rgba[..., 3].min() == 255)
        picture = framed(np.ascontiguousarray(layer.rgba[..., :3]) if opaque else _premultiplied(layer.rgba, layer.opacity))
        planes.append((picture, float(layer.depth), opaque, opaque or index == 0 or _touches_edge(layer.rgba)))
    return planes


def make_slate(request: ShotRequest, width: int, height: int) -> np.ndarray:
    """The slate card (studio.slate) on a textured background seeded from the shot, with the
    title, move and prompt in the middle so they stay in frame under any move. The shot number is
    not drawn: the take's metadata says it is a slate, and exports draw the shot's current number."""
    text = SlateText(title=request.title, camera=describe(request.camera) or "static", prompt=request.prompt)
    return draw_slate(text, width, height, seed=request.seed)


# --------------------------------------------------------------------------------------------
# The backend


class AnimaticBackend:
    """Keyframes or a slate under the shot's camera move; no model, no GPU, any machine."""

    name = "animatic"

    def __init__(self, fit: str = "cover", workers: int | None = None, **settings: Any) -> None:
        """``settings`` meant for model backends (device, model, memory_profile...) are ignored."""
        check_fit(fit, GenerationError, "animatic fit")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise GenerationError(f"animatic workers must be a positive whole number, got {shown(workers)}")
        self.fit = fit
        self.workers = workers or _workers()

    def _options(self, request: ShotRequest) -> tuple[str, float]:
        fit = check_fit(request.options.get("fit", self.fit), GenerationError, "options.fit")
        dissolve = request.options.get("dissolve", DEFAULT_DISSOLVE)
        if isinstance(dissolve, bool) or not isinstance(dissolve, (int, float)) or not 0.0 <= dissolve <= 1.0:
            raise GenerationError(f"options.dissolve must be a fraction from 0 to 1 of the gap between keyframes, got {shown(dissolve)}")
        return fit, float(dissolve)

    @staticmethod
    def _check_request(request: ShotRequest) -> None:
        frames = request.num_frames
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            raise GenerationError(f"a shot needs at least 1 frame, got num_frames={shown(frames)}")
        for name in ("width", "height"):
            value = getattr(request, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FRAME_SIDE:
                raise GenerationError(f"{name} must be 1 to {MAX_FRAME_SIDE} pixels, got {shown(value)}")

    def camera(self, request: ShotRequest, start: tuple[float, ...] | None = None) -> CameraPath:
        """The camera path this backend films a request with (also useful before rendering);
        ``start``: the pose a continuity shot carries on from."""
        try:
            return camera_path(tuple(request.camera), request.num_frames, request.seed, float(request.fps), start)
        except CameraError as error:
            raise GenerationError(str(error)) from None

    def generate(self, request: ShotRequest, progress: Progress, cancel: threading.Event) -> Clip:
        """Render exactly ``request.num_frames`` uint8 frames at the request's size (in memory;
        :meth:`stream` hands them to an encoder as they are made instead)."""
        stream = self.stream(request, progress, cancel)
        frames = np.empty((request.num_frames, request.height, request.width, 3), np.uint8)
        for index, frame in enumerate(stream.frames):
            frames[index] = frame
        return Clip(frames=frames, fps=request.fps, metadata=stream.metadata)

    def stream(self, request: ShotRequest, progress: Progress, cancel: threading.Event,
               pixel_format: str = RGB24) -> ClipStream:
        """The shot's frames as an iterator (bounded memory), with everything that made them;
        ``pixel_format`` "yuv420p" gives the encoder's own planes (warped as such: about half the
        work of RGB, and no conversion on the way to ffmpeg)."""
        # 1. validate and make the camera path (a continuity shot starts at the previous end pose)
        self._check_request(request)
        if pixel_format not in PIXEL_FORMATS:
            raise GenerationError(f"pixel format must be one of {', '.join(PIXEL_FORMATS)}, got {shown(pixel_format)}")
        if pixel_format != RGB24 and (request.width % 2 or request.height % 2):
            raise GenerationError(f"{pixel_format} frames need an even size, got {request.width}x{request.height}")
        fit, dissolve = self._options(request)
        anchors = _anchors(request)
        continuity = bool(anchors) and anchors[0].label == "continuity"
        continued = continuity and request.continuation is not None
        # a continuity shot's camera starts exactly at the pose its first picture was seen from
        start = request.continuation.pose if continued else REST_POSE if continuity else None
        path = self.camera(request, start)
        width, height = request.width, request.height
        progress(0, request.num_frames, "preparing")

        # 2. the pictures the camera films: keyframes (and continuity plate), or a slate
        slate = not anchors
        if slate:
            plane, _ = homographies(path, width, height, width, height)
            magnify = float(1.0 / local_scale(plane, width, height).min())
            zoom = min(3.0, max(1.0, magnify))
            slate_w = max(16, round(width * zoom))
            anchors = [_Anchor(0, KeyframeImage("first", 0, make_slate(request, slate_w, round(slate_w * height / width))),
                               "slate")]
        sources, overscans, ends = [], [], []
        for anchor in anchors:
            source, used, end = self._source(anchor, anchor.fit or fit, path, width, height)
            sources.append(source)
            overscans.append({"keyframe": anchor.label, **used.to_dict(),
                              "depths": [plane.depth for plane in source.planes]})
            ends.append(end)

        # 3. resample the pictures once, then warp every frame, batch by batch
        weights = dissolve_weights([anchor.frame for anchor in anchors], request.num_frames, dissolve)
        warper = Warper(sources, weights, width, height, pixel_format)
        warper.prepare()
        frames = stream_frames(warper, request.num_frames, progress, cancel, self.workers)

        # 4. everything that made it (and what a continuity shot needs to carry on from its end)
        final = anchors[-1]
        metadata = {
            "backend": self.name,
            "camera": path.to_dict(),
            "overscan": overscans,
            "fit": fit,
            "dissolve": dissolve,
            "source": "slate" if slate else [anchor.label for anchor in anchors],
            **({"slate_number": SLATE_NUMBER_AT_EXPORT} if slate else {}),
            "anchor_frames": [anchor.frame for anchor in anchors],
            "layers": [[{"name": layer.name, "depth": layer.depth, "opacity": layer.opacity}
                        for layer in anchor.keyframe.layers] for anchor in anchors],
            **({"continued": "animatic camera" if continued else "last frame"} if continuity else {}),
            "end": {"pose": [round(float(v), 12) for v in path.params[-1]], "overscan": list(ends[-1]),
                    "fit": final.fit or fit, "plate": None if slate else dict(final.keyframe.source)},
            "interpolation": INTERPOLATION,
            "levels": len({key[1:] for key in warper.needed}),
            "ignored_options": sorted(key for key in request.options if key not in OPTIONS),
        }
        return ClipStream(frames=frames, num_frames=request.num_frames, fps=request.fps, metadata=metadata,
                          pixel_format=pixel_format)

    @staticmethod
    def _source(anchor: _Anchor, fit: str, path: CameraPath, width: int, height: int,
                ) -> tuple[Source, Overscan, tuple[float, float, float]]:
        """One anchor's planes with their homographies, sharing one overscan (so the panel is
        composed as drawn) that keeps every constraining plane's edge out of every frame; a
        continuity anchor's overscan starts at the framing it must match (camera.ramp_overscan)."""
        planes = _planes(anchor, fit, width, height)
        src_h, src_w = planes[0][0].shape[:2]
        try:
            covering = np.stack([plane_homographies(path, width, height, depth)
                                 for _, depth, _, constrains in planes if constrains])
            if anchor.start is not None:
                used: Overscan | list[Overscan] = ramp_overscan(covering, width, height, src_w, src_h, anchor.start, fit)
            else:
                used = compute_overscan(covering.reshape(-1, 3, 3), width, height, src_w, src_h, fit)
            built = []
            for picture, depth, opaque, _ in planes:
                maps, last = homographies(path, width, height, src_w, src_h, overscan=used, fit=fit, depth=depth)
                built.append(Plane(picture, maps, opaque, depth))
        except CameraError as error:
            raise GenerationError(str(error)) from None
        first = used[0] if isinstance(used, list) else used
        return Source(tuple(built), anchor.label), first, (last.scale, last.shift_x, last.shift_y)
