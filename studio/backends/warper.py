"""The animatic's frames from its planes: band-limited levels, tile plans, compositing, in RGB or yuv420p.

A plane (a keyframe, or one layer of a drawn panel) has one homography per frame from output
pixel to picture pixel (studio.camera). Each frame is warped bilinearly from the plane's *level*
matching its magnification: the picture band-limited to the frame's resolution (area averaging,
no aliasing) and upsampled 2x (bicubic), in quarter-octave steps. Levels are built the first time
a frame needs them, on the worker that warps it, so building them overlaps the encoding of
earlier frames.

A frame is made in *channel groups*, each warped from levels of its own kind:

- ``rgb24``: one RGBA group (OpenCV's vectorised warp runs on four 8-bit channels, not three);
- ``yuv420p`` (what the encoder takes): luma at full size, and Cb and Cr at half size, each one
  channel, warped straight into the frame's planes. A frame is warped from a level about twice
  its resolution, and such a warp's time grows with the bytes per level pixel: one channel costs
  about 1.7 ns an output pixel at 832x480, four about 6.5 (benchmarks/bench_animatic.py), so a
  yuv frame costs about a third of an RGBA one and needs no conversion afterwards. The colour
  conversion is linear, so warping and compositing the planes equals converting the RGB frame
  (chroma is filtered by its level rather than by 2x2 averaging).

A layered frame is planned in 32 px tiles: per tile, a plane is warped straight into the frame
where it is the topmost opaque one, blended (premultiplied "over") where it is partly painted
above that, and skipped where it is hidden or empty.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator

import cv2
import numpy as np

from studio.backends.base import GenerationCancelled
from studio.camera import local_scale
from studio.common import Progress
from studio.yuv import chroma, i420_planes, luma, rgb_to_i420

BATCH_FRAMES = 8
"""Frames per batch: progress granularity, and the most frames warped after a cancel."""
LEVEL_STEPS_PER_OCTAVE = 4
MAX_LEVEL_PIXELS = 24_000_000
"""A level is never larger than this; beyond it the frame is slightly softer."""
EXACT = 1 << 20
"""The level key of a picture at its own size, for frames that show it pixel for pixel (no
resampling blur: a still or a continuity cut's first frame is the picture itself)."""
RGB24, YUV420P = "rgb24", "yuv420p"
PIXEL_FORMATS = (RGB24, YUV420P)
"""Frames as (H, W, 3) RGB, or as the encoder's (H * 3 / 2, W) yuv420p plane stack (studio.yuv)."""
TILE = 32
"""Side of the output tiles a layered frame is planned in (even: a tile is whole chroma pixels)."""
EMPTY, PARTIAL, SOLID = 0, 1, 2
"""What a layer is over a tile (after filtering): no paint, some, or opaque paint."""


@dataclass(frozen=True)
class Plane:
    """One plane the camera films: an opaque RGB picture, or a layer as premultiplied RGBA (its
    opacity applied), with its per-frame homographies from output pixel to picture pixel."""

    image: np.ndarray
    homographies: np.ndarray
    opaque: bool
    depth: float = 1.0


@dataclass(frozen=True)
class Source:
    """One picture pinned to the shot (a keyframe, a drawn panel, the continuity plate): its
    planes back to front."""

    planes: tuple[Plane, ...]
    label: str


@dataclass(frozen=True)
class _Group:
    """Pictures a frame is composited from at ``1 / step`` of its size, one output plane each
    (``kinds``: "rgba", or "y", or "u" and "v"), warped from levels of their own; a layer's
    alpha is channel ``alpha`` of its (only) warp, or (None) is warped from its "a" levels at
    this step. ``paper`` per kind: what shows where no layer is opaque (white)."""

    kinds: tuple[str, ...]
    step: int
    paper: tuple[tuple[int, ...] | int, ...]
    alpha: int | None


_RGBA = _Group(("rgba",), 1, ((255, 255, 255, 255),), 3)
_LUMA = _Group(("y",), 1, (235,), None)
_CHROMA = _Group(("u", "v"), 2, (128, 128), None)
_GROUPS = {RGB24: (_RGBA,), YUV420P: (_LUMA, _CHROMA)}


def frame_shape(pixel_format: str, width: int, height: int) -> tuple[int, ...]:
    return (height, width, 3) if pixel_format == RGB24 else (height * 3 // 2, width)


MAX_KEY = 2
"""Magnified frames use levels at most 2**(2/4) * 2 = 2.8x the picture's size: past that a larger
level is no more faithful (benchmarks: against a supersampled Lanczos reference a picture
magnified 1-1.6x scores 46.06 dB capped vs 45.96 with a level per quarter octave, 2-3.2x 45.46 vs
45.23, jitter unchanged within 0.005 px) and costs more levels, each bigger (a zoom into a small
picture: 4 levels -> 1)."""


def level_key(density: float) -> int:
    """Quarter-octave index of the band-limiting factor for a frame showing ``density`` picture
    pixels per output pixel (capped at MAX_KEY for magnified frames)."""
    return min(MAX_KEY, int(round(-LEVEL_STEPS_PER_OCTAVE * math.log2(max(density, 1e-6)))))


def _level_size(width: int, height: int, key: int) -> tuple[int, int]:
    """(width, height) of the level ``key`` of a picture this size."""
    if key == EXACT:
        return width, height
    band = 2.0 ** (key / LEVEL_STEPS_PER_OCTAVE)
    scale = min(2.0 * band, math.sqrt(MAX_LEVEL_PIXELS / (width * height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _build_level(image: np.ndarray, key: int) -> np.ndarray:
    """The image band-limited to ``2**(key/steps)`` of its size, then upsampled 2x (a layer is
    premultiplied, so averaging never darkens its edges)."""
    band = 2.0 ** (key / LEVEL_STEPS_PER_OCTAVE)
    height, width = image.shape[:2]
    size = _level_size(width, height, key)
    small = image
    if band < 1.0 and size[0] > round(width * band):
        small = cv2.resize(image, (max(1, round(width * band)), max(1, round(height * band))), interpolation=cv2.INTER_AREA)
    interpolation = cv2.INTER_AREA if size[0] < small.shape[1] else cv2.INTER_CUBIC
    return cv2.resize(small, size, interpolation=interpolation)


def _to_level(image_size: tuple[int, int], level_size: tuple[int, int]) -> np.ndarray:
    """The map from picture pixels to level pixels (pixel centres); sizes are (width, height)."""
    sx, sy = level_size[0] / image_size[0], level_size[1] / image_size[1]
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])


def _octaves(step: int) -> int:
    """Level keys between a picture sampled every output pixel and every ``step``."""
    return round(LEVEL_STEPS_PER_OCTAVE * math.log2(step))


def _from_group(step: int) -> np.ndarray:
    """The map from a group's pixels to output pixels: a chroma sample sits at the centre of its
    2x2 block of luma pixels (as studio.yuv averages them)."""
    return np.array([[step, 0, 0.5 * (step - 1)], [0, step, 0.5 * (step - 1)], [0, 0, 1.0]])


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0, x], [0, 1.0, y], [0, 0, 1.0]])


_Name = tuple[str, int, int, int, int]
"""A level: (kind, step, source, plane, key): the picture's "rgba", "y", "u", "v" or "a" (alpha)
channels, band-limited for frames of ``key`` sampled every ``step`` output pixels."""
_Rect = tuple[int, int, int, int]
_Step = tuple[int, int, bool, list[_Rect], list[_Rect]]
"""(plane, level key, opaque, rects to warp straight into the frame, rects to blend "over" it)
for one plane of one frame; plane -1 is paper; rects are (x0, y0, x1, y1) in output pixels."""


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
        the filters of the levels it is warped from."""
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


def _warp(level: np.ndarray, matrix: np.ndarray, dst: np.ndarray, opaque: bool) -> None:
    """Warp into all of ``dst`` (a frame, or a box of one: ``matrix`` maps its pixels)."""
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    size = (dst.shape[1], dst.shape[0])
    # an opaque picture's edge is never in frame (overscan); a layer's outside is transparent
    border = cv2.BORDER_REPLICATE if opaque else cv2.BORDER_CONSTANT
    if abs(matrix[2, 0]) < 1e-12 and abs(matrix[2, 1]) < 1e-12:  # affine: a cheaper warp
        cv2.warpAffine(level, matrix[:2] / matrix[2, 2], size, dst=dst, flags=flags, borderMode=border, borderValue=0)
    else:
        cv2.warpPerspective(level, matrix, size, dst=dst, flags=flags, borderMode=border, borderValue=0)


class Warper:
    """Warps and composites a shot's sources into frames of one pixel format; one per render.
    :meth:`prepare` plans every frame, then :meth:`warp_batch` may run on several threads."""

    def __init__(self, sources: list[Source], weights: np.ndarray, width: int, height: int,
                 pixel_format: str = RGB24) -> None:
        if pixel_format not in PIXEL_FORMATS:
            raise ValueError(f"pixel format must be one of {', '.join(PIXEL_FORMATS)}, got {pixel_format!r}")
        if pixel_format == YUV420P and (width % 2 or height % 2):
            raise ValueError(f"yuv420p frames need an even size, got {width}x{height}")
        self.sources = sources
        self.weights = weights  # (T, S)
        self.width, self.height = width, height
        self.pixel_format = pixel_format
        self.groups = _GROUPS[pixel_format]
        self.keys: dict[tuple[int, int], list[int]] = {}
        """(source, plane): the level key of each frame."""
        self.needed: set[_Name] = set()
        """(kind, step, source, plane, key) of every level some frame is warped from."""
        self.levels: dict[_Name, np.ndarray] = {}
        self._pictures: dict[tuple[str, int, int], np.ndarray] = {}
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self.classes: dict[tuple[int, int], np.ndarray] = {}
        """(source, plane) of a layer: its (T, rows, cols) tile classes."""
        self.rects: dict[bytes, list[_Rect]] = {}
        """Rects of a tile mask, by its bytes: neighbouring frames mostly share their plans."""

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return frame_shape(self.pixel_format, self.width, self.height)

    def prepare(self) -> None:
        """Each frame's level per plane, the levels the shot needs (built on first use), and,
        for layered sources, what each layer is over each tile of each frame."""
        self.keys = {(s, p): [level_key(d) for d in local_scale(plane.homographies, self.width, self.height)]
                     for s, source in enumerate(self.sources) for p, plane in enumerate(source.planes)}
        for (s, p), frame_keys in self.keys.items():  # a frame that shows a picture 1:1 copies it exactly
            plane = self.sources[s].planes[p]
            if plane.image.shape[:2] == (self.height, self.width):
                still = np.all(np.abs(plane.homographies - np.eye(3)) <= 1e-9, axis=(1, 2)) & (self.weights[:, s] > 0)
                for frame in np.flatnonzero(still).tolist():
                    frame_keys[frame] = EXACT
        for frame in range(self.weights.shape[0]):
            for s, source in enumerate(self.sources):
                if self.weights[frame, s] > 0.0:
                    for p, plane in enumerate(source.planes):
                        self.needed.update((kind, step, s, p, self.keys[(s, p)][frame]) for kind, step in self._kinds(plane))
        for kind, step, s, p, key in self.needed:
            self._locks[(kind, step, s, p, key)] = threading.Lock()
            self._locks.setdefault((kind, s, p), threading.Lock())
        self._classify()

    def _kinds(self, plane: Plane) -> list[tuple[str, int]]:
        """(kind, step) of the levels a plane is warped from."""
        kinds = [(kind, group.step) for group in self.groups for kind in group.kinds]
        if not plane.opaque:
            kinds += [("a", group.step) for group in self.groups if group.alpha is None]
        return kinds

    def _picture(self, kind: str, s: int, p: int) -> np.ndarray:
        """A plane's picture as the channels of ``kind``, at its own size (made once)."""
        name = (kind, s, p)
        found = self._pictures.get(name)
        if found is None:
            with self._locks[name]:
                found = self._pictures.get(name)
                if found is None:
                    image = self.sources[s].planes[p].image
                    if kind == "rgba":
                        found = image if image.shape[2] == 4 else cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)
                    elif kind == "y":
                        found = luma(image)
                    elif kind == "a":
                        found = np.ascontiguousarray(image[..., 3])
                    else:
                        found = chroma(image)["uv".index(kind)]
                    self._pictures[name] = found
        return found

    def level(self, kind: str, step: int, s: int, p: int, key: int) -> np.ndarray:
        """A level, built by the first frame that needs it (others needing it wait for it)."""
        name = (kind, step, s, p, key)
        found = self.levels.get(name)
        if found is None:
            with self._locks[name]:
                found = self.levels.get(name)
                if found is None:
                    found = self.levels[name] = self._build(kind, step, s, p, key)
        return found

    def _build(self, kind: str, step: int, s: int, p: int, key: int) -> np.ndarray:
        plane = self.sources[s].planes[p]
        if key == EXACT and plane.opaque and kind in ("y", "u", "v"):  # the very planes studio.yuv encodes
            planes = dict(zip("yuv", i420_planes(rgb_to_i420(plane.image), self.width, self.height)))
            return np.ascontiguousarray(planes[kind])
        picture = self._picture(kind, s, p)
        if key == EXACT:
            if step == 1:
                return picture
            return cv2.resize(picture, (self.width // step, self.height // step), interpolation=cv2.INTER_AREA)
        return _build_level(picture, key - _octaves(step))

    def _level_size(self, step: int, s: int, p: int, key: int) -> tuple[int, int]:
        """The size :meth:`level` builds, without building it."""
        height, width = self.sources[s].planes[p].image.shape[:2]
        if key == EXACT:
            return width // step, height // step
        return _level_size(width, height, key - _octaves(step))

    def _margin(self, step: int, s: int, p: int, key: int) -> float:
        """How far (layer pixels) a level spreads paint: about 2 level pixels of bicubic, after
        averaging ``1 / band`` layer pixels when it is band-limited below the layer's own size."""
        if key == EXACT:
            return float(step)
        width = self.sources[s].planes[p].image.shape[1]
        band = 2.0 ** ((key - _octaves(step)) / LEVEL_STEPS_PER_OCTAVE)
        return 2.0 + 3.0 / min(1.0, band, self._level_size(step, s, p, key)[0] / width)

    def _classify(self) -> None:
        """Tile classes of every transparent layer in every frame it is seen (others stay EMPTY),
        with the widest spread of any group's level."""
        rows, cols = -(-self.height // TILE), -(-self.width // TILE)
        for s, source in enumerate(self.sources):
            if len(source.planes) == 1:
                continue
            for p, plane in enumerate(source.planes):
                if plane.opaque:
                    continue
                seen = np.flatnonzero(self.weights[:, s] > 0.0)
                margin = {key: max(self._margin(group.step, s, p, key) for group in self.groups)
                          for key in {self.keys[(s, p)][frame] for frame in seen.tolist()}}
                margins = np.array([margin[self.keys[(s, p)][frame]] for frame in seen.tolist()])
                classes = np.zeros((self.weights.shape[0], rows, cols), np.int8)
                classes[seen] = _Coverage(plane.image).classes(plane.homographies[seen], margins, self.width, self.height)
                self.classes[(s, p)] = classes

    def steps(self, frame: int, s: int) -> list[_Step]:
        """One source's planes in one frame, back to front, as rects: a plane is warped straight
        into the frame where it is the topmost opaque one, blended where it is partly painted
        above that, and skipped elsewhere (hidden, or empty); paper (plane -1) where no plane
        is opaque."""
        planes = self.sources[s].planes
        whole = [(0, 0, self.width, self.height)]
        if len(planes) == 1:
            return [(0, self.keys[(s, 0)][frame], planes[0].opaque, whole, [])]
        rows, cols = -(-self.height // TILE), -(-self.width // TILE)
        classes = [np.full((rows, cols), SOLID, np.int8) if plane.opaque else self.classes[(s, p)][frame]
                   for p, plane in enumerate(planes)]
        top = np.full((rows, cols), -1, np.intp)
        for p, tiles in enumerate(classes):
            top[tiles == SOLID] = p
        steps: list[_Step] = []
        if (top < 0).any():
            steps.append((-1, 0, True, self._rects(top < 0), []))
        for p, tiles in enumerate(classes):
            direct = self._rects(top == p)
            blend = self._rects((top < p) & (tiles == PARTIAL))
            if direct or blend:
                steps.append((p, self.keys[(s, p)][frame], planes[p].opaque, direct, blend))
        return steps

    def _rects(self, mask: np.ndarray) -> list[_Rect]:
        key = np.packbits(mask).tobytes() + repr(mask.shape).encode()
        rects = self.rects.get(key)
        if rects is None:
            rects = self.rects[key] = _rects(mask, self.width, self.height)
        return rects

    def _composite(self, group: _Group, frame: int, s: int, steps: list[_Step], outs: list[np.ndarray],
                   scratch: list[np.ndarray], alpha: np.ndarray) -> None:
        """One group of one source's planes, back to front, into ``outs`` (one per kind): each
        warped straight in where it is the topmost opaque plane, and premultiplied "over" (8-bit
        OpenCV arithmetic: exact to rounding, and fast) where it is partly painted."""
        n = group.step
        for p, key, opaque, direct, blend in steps:
            if p < 0:
                for x0, y0, x1, y1 in direct:
                    for out, paper in zip(outs, group.paper):
                        out[y0 // n:y1 // n, x0 // n:x1 // n] = paper
                continue
            plane = self.sources[s].planes[p]
            levels = [self.level(kind, n, s, p, key) for kind in group.kinds]
            matrix = (_to_level(plane.image.shape[1::-1], levels[0].shape[1::-1]) @ plane.homographies[frame]
                      @ _from_group(n))
            for x0, y0, x1, y1 in direct:
                at, box = matrix @ _translate(x0 // n, y0 // n), (slice(y0 // n, y1 // n), slice(x0 // n, x1 // n))
                for level, out in zip(levels, outs):
                    _warp(level, at, out[box], opaque)
            for x0, y0, x1, y1 in blend:
                at, box = matrix @ _translate(x0 // n, y0 // n), (slice(y0 // n, y1 // n), slice(x0 // n, x1 // n))
                for level, layer in zip(levels, scratch):
                    _warp(level, at, layer[box], opaque)
                if group.alpha is not None:
                    keep = cv2.bitwise_not(cv2.extractChannel(scratch[0][box], group.alpha))
                else:
                    _warp(self.level("a", n, s, p, key), at, alpha[box], opaque)
                    keep = cv2.bitwise_not(alpha[box])
                for out, layer in zip(outs, scratch):
                    target = out[box]
                    cv2.multiply(target, keep if target.ndim == 2 else cv2.cvtColor(keep, cv2.COLOR_GRAY2RGBA),
                                 dst=target, scale=1.0 / 255.0)
                    cv2.add(target, layer[box], dst=target)

    def _outputs(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        """Where each kind is composited: the frame's own planes (yuv420p), or an RGBA buffer."""
        if self.pixel_format == YUV420P:
            return dict(zip("yuv", i420_planes(frame, self.width, self.height)))
        return {"rgba": np.empty((self.height, self.width, 4), np.uint8)}

    def warp_batch(self, frames: np.ndarray, start: int, stop: int, cancel: threading.Event) -> None:
        """Fill ``frames[:stop - start]`` with frames ``start..stop-1`` (one worker's batch),
        stopping early on cancel."""
        scratch = {kind: np.empty_like(out) for kind, out in self._outputs(frames[0]).items()}
        alphas = {group.step: np.empty((self.height // group.step, self.width // group.step), np.uint8)
                  for group in self.groups}
        buffers = {kind: np.empty_like(out) for kind, out in scratch.items()}
        for frame in range(start, stop):
            if cancel.is_set():
                return
            steps = {s: self.steps(frame, s) for s in range(len(self.sources)) if self.weights[frame, s] > 0.0}
            outputs = self._outputs(frames[frame - start]) if self.pixel_format == YUV420P else buffers
            for group in self.groups:
                outs = [outputs[kind] for kind in group.kinds]
                layers = [scratch[kind] for kind in group.kinds]
                if len(steps) == 1:
                    [(s, plan)] = steps.items()
                    self._composite(group, frame, s, plan, outs, layers, alphas[group.step])
                    continue
                # a dissolve between keyframes: each source into ``buffers`` (for RGB also the
                # output, written only once every source is summed)
                totals = [np.zeros(out.shape, np.float32) for out in outs]
                parts = [buffers[kind] for kind in group.kinds]
                for s, plan in steps.items():
                    self._composite(group, frame, s, plan, parts, layers, alphas[group.step])
                    for total, part in zip(totals, parts):
                        total += np.float32(self.weights[frame, s]) * part
                for total, out in zip(totals, outs):
                    np.rint(total, out=total)
                    out[...] = np.clip(total, 0, 255)
            if self.pixel_format == RGB24:
                cv2.cvtColor(outputs["rgba"], cv2.COLOR_RGBA2RGB, dst=frames[frame - start])


def stream_frames(warper: Warper, num_frames: int, progress: Progress, cancel: threading.Event,
                  workers: int) -> Iterator[np.ndarray]:
    """Every frame in order, as soon as its batch is warped (``warper`` prepared): ``workers + 1``
    batches in flight on a pool the iterator owns (the workers keep warping while a batch is handed
    out), so at most ``(workers + 2) * BATCH_FRAMES`` frames exist at once however long the shot.
    Cancel is checked before each frame by the workers and before each batch here; closing the
    iterator early stops the pool."""
    batches = iter([(start, min(start + BATCH_FRAMES, num_frames)) for start in range(0, num_frames, BATCH_FRAMES)])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="animatic") as pool:
        pending: list[tuple[Future[None], np.ndarray, int, int]] = []

        def submit(batch: tuple[int, int]) -> None:
            frames = np.empty((batch[1] - batch[0], *warper.frame_shape), np.uint8)
            pending.append((pool.submit(warper.warp_batch, frames, *batch, cancel), frames, *batch))

        made = 0
        try:
            while True:
                if cancel.is_set():
                    raise GenerationCancelled(f"cancelled after {made} of {num_frames} frames")
                while len(pending) <= workers:  # the workers stay busy while a batch is handed out
                    batch = next(batches, None)
                    if batch is None:
                        break
                    submit(batch)
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
                    submit(refill)
                yield from frames
        finally:
            for future, *_ in pending:
                future.cancel()
