"""The animatic backend: the keyframe (or a slate) filmed by the shot's virtual camera, on any CPU.

This is the app's default backend and the reference meaning of every camera move: the frames
are exactly what :mod:`studio.camera` says the camera sees, warped sub-pixel accurately.

How a frame is made:

1. The shot's moves become a per-frame camera path and, per keyframe, per-frame homographies
   from output pixel to keyframe pixel, with the smallest overscan that never shows a border.
2. Each keyframe is resampled once into a few *levels*: band-limited to the frame's resolution
   at a given magnification (area averaging, so no aliasing) and then upsampled 2x (bicubic).
   A frame is warped from the level matching its magnification (quarter-octave steps, stored
   as RGBA because OpenCV's vectorised warp is much faster on four channels) with
   bilinear interpolation. On a 2x band-limited image that is as faithful as a bicubic warp of
   the original (benchmarks/bench_animatic.py: about 1 dB better PSNR against a supersampled
   reference, no shimmer where the keyframe is minified) at several times less CPU, and exact
   in position (OpenCV resolves 1/32 of a level pixel, i.e. 1/64 of an output pixel).
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
only the batches in flight in memory. The progress callback runs after each batch and cancel is
checked before each frame.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator

import cv2
import numpy as np

from studio.backends.base import (
    Clip, ClipStream, GenerationCancelled, GenerationError, KeyframeImage, ShotRequest,
)
from studio.camera import (
    CameraError, CameraPath, Overscan, camera_path, compute_overscan, describe, homographies, local_scale,
    plane_homographies, ramp_overscan,
)
from studio.common import Progress, check_fit, shown
from studio.slate import SLATE_NUMBER_AT_EXPORT, SlateText, draw_slate

BATCH_FRAMES = 8
"""Frames per batch: progress granularity, and the most frames warped after a cancel."""
LEVEL_STEPS_PER_OCTAVE = 4
MAX_LEVEL_PIXELS = 24_000_000
"""A level is never larger than this (about 72 MB); beyond it the frame is slightly softer."""
MAX_FRAME_SIDE = 8192
DEFAULT_DISSOLVE = 0.5
OPTIONS: tuple[str, ...] = ("fit", "dissolve")
"""request.options this backend reads; others (meant for model backends) are listed as ignored."""
INTERPOLATION = "bilinear from a 2x band-limited pyramid (quarter-octave levels)"
EXACT = 1 << 20
"""The level key of a picture at its own size, for frames that show it pixel for pixel (no
resampling blur: a still or a continuity cut's first frame is the picture itself)."""
REST_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
"""The camera at rest (camera.PARAMS): where a shot continuing from a last frame starts."""
PAPER = (255, 255, 255, 255)
"""What shows through where a drawn panel's back layer is transparent (as when it is flattened)."""


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------
# Warping


@dataclass(frozen=True)
class _Plane:
    """One plane the camera films: an opaque RGB picture, or a layer as premultiplied RGBA (its
    opacity applied), with its per-frame homographies from output pixel to picture pixel."""

    image: np.ndarray
    homographies: np.ndarray
    opaque: bool
    depth: float = 1.0


@dataclass(frozen=True)
class _Source:
    """One picture pinned to the shot (a keyframe, a drawn panel, the continuity plate): its
    planes back to front."""

    planes: tuple[_Plane, ...]
    label: str


def _level_key(density: float) -> int:
    """Quarter-octave index of the band-limiting factor for a frame of this magnification."""
    return int(round(-LEVEL_STEPS_PER_OCTAVE * math.log2(max(density, 1e-6))))


def _build_level(image: np.ndarray, key: int) -> np.ndarray:
    """The image band-limited to ``2**(key/steps)`` of its size, then upsampled 2x (RGBA: a
    layer is premultiplied, so averaging never darkens its edges)."""
    band = 2.0 ** (key / LEVEL_STEPS_PER_OCTAVE)
    height, width = image.shape[:2]
    scale = min(2.0 * band, math.sqrt(MAX_LEVEL_PIXELS / (width * height)))
    if band < 1.0 and scale > band:
        small = cv2.resize(image, (max(1, round(width * band)), max(1, round(height * band))),
                           interpolation=cv2.INTER_AREA)
    else:
        small = image
    if small.shape[2] == 3:  # four channels: OpenCV's vectorised bilinear warp (and resize) is much faster on RGBA
        small = cv2.cvtColor(small, cv2.COLOR_RGB2RGBA)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if size[0] < small.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(small, size, interpolation=interpolation)


def _to_level(homography: np.ndarray, image: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Re-express a map into ``image`` pixels as a map into ``level`` pixels (pixel centres)."""
    sx = level.shape[1] / image.shape[1]
    sy = level.shape[0] / image.shape[0]
    scale = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
    return scale @ homography


TILE = 32
"""Side of the output tiles a layered frame is planned in: per tile, only the planes that show
are warped (nothing under an opaque layer, nothing where a layer is empty) and only tiles where
a layer is partly transparent are blended."""
EMPTY, PARTIAL, SOLID = 0, 1, 2
"""What a layer is over a tile (after bilinear filtering): no paint, some, or opaque paint."""

_Rect = tuple[int, int, int, int]
_Step = tuple[tuple[int, int, int], np.ndarray, bool, list[_Rect], list[_Rect]]
"""(level key, map into that level, opaque, rects to warp straight into the frame, rects to blend
"over" it) for one plane of one frame; rects are (x0, y0, x1, y1) in output pixels."""


class _Coverage:
    """Summed-area tables of a layer's alpha (any paint, opaque paint): how much of any box of it
    is painted, in four lookups."""

    def __init__(self, rgba: np.ndarray) -> None:
        alpha = rgba[..., 3]
        self.height, self.width = alpha.shape
        self.any = cv2.integral((alpha > 0).view(np.uint8))
        self.solid = cv2.integral((alpha == 255).view(np.uint8))

    def classes(self, matrices: np.ndarray, margins: np.ndarray, width: int, height: int) -> np.ndarray:
        """(T, rows, cols) EMPTY / PARTIAL / SOLID of the output tiles of frames whose maps into
        the layer are ``matrices`` (T, 3, 3): each tile's footprint is the box around its corners'
        images (a homography keeps a tile convex), widened by ``margins`` (T,) layer pixels for
        the filters of the level it is warped from."""
        xs = np.unique(np.minimum(np.arange(0, width + TILE, TILE), width) - 0.5)
        ys = np.unique(np.minimum(np.arange(0, height + TILE, TILE), height) - 0.5)
        grid = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((1, 1))), axis=-1)  # (R+1, C+1, 3)
        mapped = np.einsum("tij,rcj->trci", matrices, grid)
        w = mapped[..., 2]
        behind = w <= 1e-9
        u = mapped[..., 0] / np.where(behind, 1.0, w)
        v = mapped[..., 1] / np.where(behind, 1.0, w)

        def corners(a: np.ndarray, reduce: Any) -> np.ndarray:
            return reduce(reduce(a[:, :-1, :-1], a[:, 1:, :-1]), reduce(a[:, :-1, 1:], a[:, 1:, 1:]))

        margin = margins[:, None, None]
        x0, x1 = np.floor(corners(u, np.minimum) - margin), np.ceil(corners(u, np.maximum) + margin) + 1
        y0, y1 = np.floor(corners(v, np.minimum) - margin), np.ceil(corners(v, np.maximum) + margin) + 1
        inside = (x0 >= 0) & (y0 >= 0) & (x1 <= self.width) & (y1 <= self.height)
        cx0, cx1 = (np.clip(a, 0, self.width).astype(np.intp) for a in (x0, x1))
        cy0, cy1 = (np.clip(a, 0, self.height).astype(np.intp) for a in (y0, y1))

        def total(table: np.ndarray) -> np.ndarray:
            return table[cy1, cx1] - table[cy0, cx1] - table[cy1, cx0] + table[cy0, cx0]

        area = (cx1 - cx0) * (cy1 - cy0)
        out = np.where(total(self.any) > 0, PARTIAL, EMPTY).astype(np.int8)
        out[inside & (area > 0) & (total(self.solid) == area)] = SOLID
        out[corners(behind, np.logical_or)] = PARTIAL  # a tile reaching the camera's horizon
        return out


def _rects(mask: np.ndarray, width: int, height: int) -> list[_Rect]:
    """Cover the True tiles of a (rows, cols) mask with few rectangles (runs along a row, merged
    down while the next row has the same run), in output pixels clipped to the frame."""
    rects: list[_Rect] = []
    open_runs: dict[tuple[int, int], int] = {}
    for row in range(mask.shape[0] + 1):
        runs: set[tuple[int, int]] = set()
        if row < mask.shape[0]:
            padded = np.concatenate(([False], mask[row], [False]))
            edges = np.flatnonzero(padded[1:] != padded[:-1])
            runs = set(zip(edges[::2].tolist(), edges[1::2].tolist()))
        for run in [run for run in open_runs if run not in runs]:
            top = open_runs.pop(run)
            rects.append((run[0] * TILE, top * TILE, min(width, run[1] * TILE), min(height, row * TILE)))
        for run in runs:
            open_runs.setdefault(run, row)
    return rects


class _Warper:
    """Warps and composites sources into frames; one instance per generate() call."""

    def __init__(self, sources: list[_Source], weights: np.ndarray, width: int, height: int) -> None:
        self.sources = sources
        self.weights = weights  # (T, S)
        self.width, self.height = width, height
        self.levels: dict[tuple[int, int, int], np.ndarray] = {}
        self.plan: list[list[tuple[float, list[tuple[tuple[int, int, int], np.ndarray]]]]] = []
        self.classes: dict[tuple[int, int], np.ndarray] = {}
        """(source, plane) of a layer: its (T, rows, cols) tile classes."""
        self.rects: dict[bytes, list[_Rect]] = {}
        """Rects of a tile mask, by its bytes: neighbouring frames mostly share their plans."""

    def prepare(self, cancel: threading.Event, pool: ThreadPoolExecutor) -> None:
        """Build every level the shot needs (in parallel), each frame's plan (per source its
        weight and, per plane back to front, (level, map)) and, for layered sources, what each
        layer is over each tile of each frame."""
        keys = {(s, p): [_level_key(d) for d in local_scale(plane.homographies, self.width, self.height)]
                for s, source in enumerate(self.sources) for p, plane in enumerate(source.planes)}
        frames = range(self.weights.shape[0])
        needed = sorted({(s, p, keys[(s, p)][frame]) for frame in frames
                         for s, source in enumerate(self.sources) if self.weights[frame, s] > 0.0
                         for p in range(len(source.planes))})
        if cancel.is_set():
            raise GenerationCancelled("cancelled while preparing the keyframes")
        built = pool.map(lambda key: _build_level(self.sources[key[0]].planes[key[1]].image, key[2]), needed)
        self.levels = dict(zip(needed, built))
        if cancel.is_set():
            raise GenerationCancelled("cancelled while preparing the keyframes")
        for (s, p), frame_keys in keys.items():  # a frame that shows a picture 1:1 copies it exactly
            plane = self.sources[s].planes[p]
            if plane.image.shape[:2] == (self.height, self.width):
                still = np.all(np.abs(plane.homographies - np.eye(3)) <= 1e-9, axis=(1, 2)) & (self.weights[:, s] > 0)
                for frame in np.flatnonzero(still).tolist():
                    frame_keys[frame] = EXACT
                if still.any():
                    image = plane.image
                    self.levels[(s, p, EXACT)] = image if image.shape[2] == 4 else cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)
        for frame in frames:
            self.plan.append([
                (float(self.weights[frame, s]), [
                    ((s, p, keys[(s, p)][frame]),
                     _to_level(plane.homographies[frame], plane.image, self.levels[(s, p, keys[(s, p)][frame])]))
                    for p, plane in enumerate(source.planes)])
                for s, source in enumerate(self.sources) if self.weights[frame, s] > 0.0
            ])
        self._classify(keys)

    def _classify(self, keys: dict[tuple[int, int], list[int]]) -> None:
        """Tile classes of every transparent layer in every frame it is seen (others stay EMPTY).
        A level spreads paint by its filters: about 2 level pixels of bicubic, after averaging
        ``1 / band`` layer pixels when it is band-limited below the layer's own size."""
        rows, cols = -(-self.height // TILE), -(-self.width // TILE)
        for s, source in enumerate(self.sources):
            if len(source.planes) == 1:
                continue
            for p, plane in enumerate(source.planes):
                if plane.opaque:
                    continue
                seen = self.weights[:, s] > 0.0
                margin = {key: 1.0 if key == EXACT else 2.0 + 3.0 / min(
                    1.0, 2.0 ** (key / LEVEL_STEPS_PER_OCTAVE), self.levels[(s, p, key)].shape[1] / plane.image.shape[1])
                    for key in {keys[(s, p)][frame] for frame in np.flatnonzero(seen).tolist()}}
                margins = np.array([margin[keys[(s, p)][frame]] for frame in np.flatnonzero(seen).tolist()])
                classes = np.zeros((len(self.plan), rows, cols), np.int8)
                classes[seen] = _Coverage(plane.image).classes(plane.homographies[seen], margins, self.width, self.height)
                self.classes[(s, p)] = classes

    def steps(self, frame: int, s: int, entries: list[tuple[tuple[int, int, int], np.ndarray]]) -> list[_Step]:
        """One source's planes in one frame, back to front, as rects: a plane is warped straight
        into the frame where it is the topmost opaque one, blended where it is partly painted
        above that, and skipped elsewhere (hidden, or empty); paper (plane -1) where no plane
        is opaque."""
        planes = self.sources[s].planes
        whole = [(0, 0, self.width, self.height)]
        if len(planes) == 1:
            return [(entries[0][0], entries[0][1], planes[0].opaque, whole, [])]
        rows, cols = -(-self.height // TILE), -(-self.width // TILE)
        classes = [np.full((rows, cols), SOLID, np.int8) if plane.opaque else self.classes[(s, p)][frame]
                   for p, plane in enumerate(planes)]
        top = np.full((rows, cols), -1, np.intp)
        for p, tiles in enumerate(classes):
            top[tiles == SOLID] = p
        steps: list[_Step] = []
        if (top < 0).any():
            steps.append(((-1, -1, -1), np.eye(3), True, self._rects(top < 0), []))
        for p, tiles in enumerate(classes):
            direct = self._rects(top == p)
            blend = self._rects((top < p) & (tiles == PARTIAL))
            if direct or blend:
                steps.append((entries[p][0], entries[p][1], planes[p].opaque, direct, blend))
        return steps

    def _rects(self, mask: np.ndarray) -> list[_Rect]:
        key = np.packbits(mask).tobytes() + repr(mask.shape).encode()
        rects = self.rects.get(key)
        if rects is None:
            rects = self.rects[key] = _rects(mask, self.width, self.height)
        return rects

    @staticmethod
    def _warp(level: np.ndarray, matrix: np.ndarray, dst: np.ndarray, opaque: bool = True) -> np.ndarray:
        """Warp into all of ``dst`` (a frame, or a box of one: ``matrix`` maps its pixels)."""
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        size = (dst.shape[1], dst.shape[0])
        # an opaque picture's edge is never in frame (overscan); a layer's outside is transparent
        border = cv2.BORDER_REPLICATE if opaque else cv2.BORDER_CONSTANT
        if abs(matrix[2, 0]) < 1e-12 and abs(matrix[2, 1]) < 1e-12:  # affine: a cheaper warp
            return cv2.warpAffine(level, matrix[:2] / matrix[2, 2], size, dst=dst,
                                  flags=flags, borderMode=border, borderValue=0)
        return cv2.warpPerspective(level, matrix, size, dst=dst, flags=flags, borderMode=border, borderValue=0)

    def _composite(self, steps: list[_Step], out: np.ndarray, scratch: np.ndarray) -> None:
        """The planes of one source, back to front, into ``out`` (RGBA; its alpha is unused):
        each warped straight in where it is the topmost opaque plane, and premultiplied "over"
        (8-bit OpenCV arithmetic: exact to rounding, and fast) where it is partly painted."""
        for key, matrix, opaque, direct, blend in steps:
            if key[0] < 0:
                for x0, y0, x1, y1 in direct:
                    out[y0:y1, x0:x1] = PAPER
                continue
            level = self.levels[key]
            for x0, y0, x1, y1 in direct:
                self._warp(level, matrix @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1.0]]), out[y0:y1, x0:x1], opaque)
            for x0, y0, x1, y1 in blend:
                target, layer = out[y0:y1, x0:x1], scratch[y0:y1, x0:x1]
                self._warp(level, matrix @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1.0]]), layer, opaque)
                keep = cv2.cvtColor(cv2.bitwise_not(cv2.extractChannel(layer, 3)), cv2.COLOR_GRAY2RGBA)
                cv2.multiply(target, keep, dst=target, scale=1.0 / 255.0)
                cv2.add(target, layer, dst=target)

    def warp_batch(self, frames: np.ndarray, start: int, stop: int, cancel: threading.Event) -> None:
        """Fill ``frames[:stop - start]`` with frames ``start..stop-1`` (one worker's batch),
        stopping early on cancel."""
        out = np.empty((self.height, self.width, 4), np.uint8)
        scratch = np.empty((self.height, self.width, 4), np.uint8)
        for frame in range(start, stop):
            if cancel.is_set():
                return
            sources = self.plan[frame]
            if len(sources) == 1:
                s = sources[0][1][0][0][0]
                self._composite(self.steps(frame, s, sources[0][1]), out, scratch)
                cv2.cvtColor(out, cv2.COLOR_RGBA2RGB, dst=frames[frame - start])
                continue
            total = np.zeros((self.height, self.width, 3), np.float32)
            for weight, entries in sources:
                self._composite(self.steps(frame, entries[0][0][0], entries), out, scratch)
                total += weight * out[:, :, :3].astype(np.float32)
            np.rint(total, out=total)
            frames[frame - start] = np.clip(total, 0, 255).astype(np.uint8)


def stream_frames(
    warper: _Warper,
    num_frames: int,
    progress: Progress,
    cancel: threading.Event,
    workers: int,
) -> Iterator[np.ndarray]:
    """Every frame in order, as soon as its batch is warped (``warper`` prepared): ``workers + 1``
    batches in flight on a pool the iterator owns (the workers keep warping while a batch is handed
    out), so at most ``(workers + 2) * BATCH_FRAMES`` frames exist at once however long the shot. Cancel is checked before each frame by the
    workers and before each batch here; closing the iterator early stops the pool."""
    batches = iter([(start, min(start + BATCH_FRAMES, num_frames)) for start in range(0, num_frames, BATCH_FRAMES)])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="animatic") as pool:
        pending: list[tuple[Future[None], np.ndarray, int, int]] = []
        made = 0
        try:
            while True:
                if cancel.is_set():
                    raise GenerationCancelled(f"cancelled after {made} of {num_frames} frames")
                while len(pending) <= workers:  # the workers stay busy while a batch is handed out
                    batch = next(batches, None)
                    if batch is None:
                        break
                    frames = np.empty((batch[1] - batch[0], warper.height, warper.width, 3), np.uint8)
                    pending.append((pool.submit(warper.warp_batch, frames, *batch, cancel), frames, *batch))
                if not pending:
                    break
                future, frames, _, stop = pending.pop(0)
                future.result()
                if cancel.is_set():
                    raise GenerationCancelled(f"cancelled after {stop - len(frames)} of {num_frames} frames")
                progress(stop, num_frames, "warping frames")
                made = stop
                refill = next(batches, None)
                if refill is not None:
                    spare = np.empty((refill[1] - refill[0], warper.height, warper.width, 3), np.uint8)
                    pending.append((pool.submit(warper.warp_batch, spare, *refill, cancel), spare, *refill))
                yield from frames
        finally:
            for future, *_ in pending:
                future.cancel()


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

    def stream(self, request: ShotRequest, progress: Progress, cancel: threading.Event) -> ClipStream:
        """The shot's frames as an iterator (bounded memory), with everything that made them."""
        # 1. validate and make the camera path (a continuity shot starts at the previous end pose)
        self._check_request(request)
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
        warper = _Warper(sources, weights, width, height)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="animatic-levels") as pool:
            warper.prepare(cancel, pool)
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
            "levels": len(warper.levels),
            "ignored_options": sorted(key for key in request.options if key not in OPTIONS),
        }
        return ClipStream(frames=frames, num_frames=request.num_frames, fps=request.fps, metadata=metadata)

    @staticmethod
    def _source(anchor: _Anchor, fit: str, path: CameraPath, width: int, height: int,
                ) -> tuple[_Source, Overscan, tuple[float, float, float]]:
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
                built.append(_Plane(picture, maps, opaque, depth))
        except CameraError as error:
            raise GenerationError(str(error)) from None
        first = used[0] if isinstance(used, list) else used
        return _Source(tuple(built), anchor.label), first, (last.scale, last.shift_x, last.shift_y)
