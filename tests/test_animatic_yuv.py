"""The animatic films the encoder's own planes: a yuv420p stream is the RGB stream converted.

Takes are rendered straight to yuv420p (luma at full size, Cb and Cr at half, each warped from
levels of its own); these tests hold that path to the RGB one frame by frame (a single plane, a
drawn panel with blended edges, a dissolve between keyframes, a slate) and check that a frame
showing a picture 1:1 is exactly the planes studio.yuv would encode.
"""

from __future__ import annotations

import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from studio.backends.animatic import AnimaticBackend
from studio.backends.base import GenerationError, KeyframeImage
from studio.board import CameraMove, FrameRate
from studio.media import MediaError, write_video_stream
from studio.yuv import i420_planes, rgb_to_i420

from test_animatic import TEXTURE, request
from test_parallax import blob_layers, flat_of, request as layered_request

W, H = 160, 96


def both(req):
    """The request rendered as RGB (converted with studio.yuv) and as yuv420p planes."""
    backend = AnimaticBackend(workers=2)
    rgb = [rgb_to_i420(frame) for frame in backend.generate(req, lambda *a: None, threading.Event()).frames]
    stream = backend.stream(req, lambda *a: None, threading.Event(), pixel_format="yuv420p")
    assert stream.pixel_format == "yuv420p"
    yuv = [frame.copy() for frame in stream.frames]
    assert len(yuv) == len(rgb) == req.num_frames
    return rgb, yuv, req.width, req.height


def differences(rgb, yuv, width, height) -> tuple[float, float]:
    """Mean absolute difference of luma and of chroma over every frame (of 255)."""
    luma, chroma = [], []
    for a, b in zip(rgb, yuv):
        assert b.shape == (height * 3 // 2, width) and b.dtype == np.uint8
        (ya, ua, va), (yb, ub, vb) = i420_planes(a, width, height), i420_planes(b, width, height)
        luma.append(np.abs(ya.astype(int) - yb).mean())
        chroma.append((np.abs(ua.astype(int) - ub).mean() + np.abs(va.astype(int) - vb).mean()) / 2)
    return float(np.mean(luma)), float(np.mean(chroma))


@pytest.mark.parametrize("move", ["zoom_in", "truck_right", "orbit_left", "roll_cw"])
def test_a_keyframe_filmed_as_planes_matches_the_rgb_frames(move: str) -> None:
    """TEXTURE is saturated colour noise, the worst case for chroma: filtered by its own level
    rather than by 2x2 averaging, it differs by about 1 of 255 on average."""
    luma, chroma = differences(*both(request([CameraMove(move, 1.0, "linear")], [KeyframeImage("first", 0, TEXTURE)])))
    assert luma < 0.6 and chroma < 1.5, (luma, chroma)


@pytest.mark.parametrize("move", ["truck_right", "dolly_in", "pedestal_up"])
def test_a_drawn_panel_with_soft_edged_layers_matches_the_rgb_frames(move: str) -> None:
    """The blob layers are transparent but for soft blobs: every blob is blended ("over")."""
    rgb, yuv, width, height = both(layered_request(move))
    luma, chroma = differences(rgb, yuv, width, height)
    assert luma < 0.6 and chroma < 1.0, (luma, chroma)
    for a, b in zip(rgb, yuv):  # and the blobs themselves (where blending happens) agree
        ya, yb = i420_planes(a, width, height)[0].astype(int), i420_planes(b, width, height)[0].astype(int)
        assert np.abs(ya - yb).max() <= 6


@pytest.mark.parametrize("move", ["zoom_in", "truck_right", "roll_cw"])
def test_chroma_sits_where_studio_yuv_puts_it(move: str) -> None:
    """Over colour ramps, the difference between the two chroma planes is fitted as a shift
    (along the ramps' gradients) plus an offset: the shift is under 0.15 of a chroma pixel
    (misplaced by half a luma pixel, it would be a quarter) and the offset, 8-bit rounding,
    under half a level."""
    yy, xx = np.mgrid[0:2 * H, 0:2 * W]
    ramps = np.dstack([xx * 255 / (2 * W), np.full(xx.shape, 128.0), yy * 255 / (2 * H)]).astype(np.uint8)
    rgb, yuv, width, height = both(request([CameraMove(move, 1.0, "linear")], [KeyframeImage("first", 0, ramps)]))
    inner = (slice(4, -4), slice(4, -4))
    for a, b in zip(rgb, yuv):
        for pa, pb in zip(i420_planes(a, width, height)[1:], i420_planes(b, width, height)[1:]):
            reference = pa.astype(float)
            gy, gx = np.gradient(reference)
            design = np.stack([gx[inner].ravel(), gy[inner].ravel(), np.ones(gx[inner].size)], axis=1)
            (dx, dy, offset), *_ = np.linalg.lstsq(design, (pb - reference)[inner].ravel(), rcond=None)
            assert np.hypot(dx, dy) < 0.15 and abs(offset) < 0.5, (dx, dy, offset)


def test_a_dissolve_between_keyframes_matches_the_rgb_frames() -> None:
    last = np.ascontiguousarray(TEXTURE[::-1, ::-1])
    luma, chroma = differences(*both(request([CameraMove("pan_right", 1.0, "linear")],
                                             [KeyframeImage("first", 0, TEXTURE), KeyframeImage("last", 0, last)])))
    assert luma < 0.6 and chroma < 1.0, (luma, chroma)


def test_a_slate_matches_the_rgb_frames() -> None:
    luma, chroma = differences(*both(request([CameraMove("dolly_in", 1.0, "linear")])))
    assert luma < 0.8 and chroma < 1.0, (luma, chroma)


def test_a_picture_shown_one_to_one_is_exactly_the_planes_studio_yuv_encodes() -> None:
    picture = np.ascontiguousarray(TEXTURE[:H, :W])
    still = request([CameraMove("static")], [KeyframeImage("first", 0, picture)], frames=3)
    frames = list(AnimaticBackend().stream(still, lambda *a: None, threading.Event(), pixel_format="yuv420p").frames)
    for frame in frames:
        assert np.array_equal(frame, rgb_to_i420(picture))
    layers = blob_layers()  # a still drawn panel is its flattened picture, to rounding
    panel = layered_request("truck_right", frames=1)
    first = next(iter(AnimaticBackend().stream(panel, lambda *a: None, threading.Event(), pixel_format="yuv420p").frames))
    assert np.abs(first.astype(int) - rgb_to_i420(flat_of(layers))).mean() < 0.3


def test_yuv_frames_need_an_even_size_and_a_known_format() -> None:
    odd = request([CameraMove("pan_right")], [KeyframeImage("first", 0, TEXTURE)], width=W + 1)
    with pytest.raises(GenerationError, match=r"yuv420p frames need an even size, got 161x96"):
        AnimaticBackend().stream(odd, lambda *a: None, threading.Event(), pixel_format="yuv420p")
    with pytest.raises(GenerationError, match=r"pixel format must be one of rgb24, yuv420p, got 'bgr'"):
        AnimaticBackend().stream(request(), lambda *a: None, threading.Event(), pixel_format="bgr")


def test_the_encoder_takes_planes_as_they_are_and_names_a_wrong_frame(tmp_path: Path) -> None:
    smooth = cv2.GaussianBlur(TEXTURE, (0, 0), 3)  # colour noise itself would not survive CRF 18 this well
    req = request([CameraMove("zoom_in", 1.0, "linear")], [KeyframeImage("first", 0, smooth)], frames=6)
    stream = AnimaticBackend().stream(req, lambda *a: None, threading.Event(), pixel_format="yuv420p")
    assert write_video_stream(tmp_path / "a.mp4", stream.frames, W, H, FrameRate(24), pixel_format="yuv420p") == 6
    with av.open(str(tmp_path / "a.mp4")) as container:
        decoded = [frame.to_ndarray() for frame in container.decode(video=0)]
    planes = list(AnimaticBackend().stream(req, lambda *a: None, threading.Event(), pixel_format="yuv420p").frames)
    assert len(decoded) == 6
    for frame, sent in zip(decoded, planes):  # what was sent, to the encoder's loss (CRF 18)
        assert frame.shape == sent.shape and np.abs(frame.astype(int) - sent).mean() < 2.0
    rgb = AnimaticBackend().generate(req, lambda *a: None, threading.Event()).frames
    with pytest.raises(MediaError, match=r"frame 0 is uint8 \(96, 160, 3\), expected \(144, 160\) uint8 \(yuv420p\)"):
        write_video_stream(tmp_path / "b.mp4", iter(rgb), W, H, FrameRate(24), pixel_format="yuv420p")
    assert not (tmp_path / "b.mp4").exists()
