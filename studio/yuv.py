"""RGB frames to the encoder's own picture format (yuv420p), in this process, on the way to ffmpeg.

Handing ffmpeg rgb24 makes it convert every frame with swscale, on its main thread, before
libx264 sees it: about 2-4 ms of CPU per 832x480 frame, a third of the encode. OpenCV converts
the same frame in about 0.5 ms and the pipe carries half the bytes. The conversion is the one
swscale does (ITU-R BT.601, limited range; luma identical to the level, chroma averaged over
each 2x2 block: within 1 level of swscale's on average), so a take looks the same either way;
OpenCV's own yuv420p conversion is not used for chroma because it samples one pixel of four,
which aliases colour edges and costs the encoder more bits.

:func:`i420_to_rgb` is its inverse for a frame that is read back to be written again (the last
frame a continuity shot starts on): each chroma sample is repeated over its 2x2 block, so
converting back averages it to itself, and the planes survive the round trip (about 0.02 of 255
in luma) where a decoder's smoother RGB loses about 1 of 255 each time.

:func:`luma` and :func:`chroma` give a picture's planes at its own size (premultiplied for a
layer) for the animatic, which warps them straight into a take's frames (studio.backends.warper).
"""

from __future__ import annotations

import cv2
import numpy as np

LIMITED_CHROMA = 224.0 / 255.0
"""Limited-range chroma is full-range (JPEG) chroma scaled by 224/255 about 128."""
_BT601 = np.array([[65.481, 128.553, 24.966, 16.0],
                   [-37.797, -74.203, 112.0, 128.0],
                   [112.0, -93.786, -18.214, 128.0]]) / 255.0
"""Y, Cb, Cr from R, G, B (0..255) and an offset (in 255ths): ITU-R BT.601, limited range."""


def i420_size(width: int, height: int) -> int:
    """Bytes of one yuv420p frame (even sizes only)."""
    return width * height * 3 // 2


def rgb_to_i420(rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """One (H, W, 3) uint8 RGB frame (even W and H) as a (H * 3 / 2, W) yuv420p plane stack:
    Y, then U (Cb), then V (Cr), each quarter-size chroma plane laid row after row."""
    height, width = rgb.shape[:2]
    if out is None:
        out = np.empty((height * 3 // 2, width), np.uint8)
    cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420, dst=out)  # its luma is BT.601 limited range
    half = cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    full = cv2.cvtColor(half, cv2.COLOR_RGB2YCrCb)  # full range: Y, Cr, Cb
    chroma = cv2.addWeighted(full, LIMITED_CHROMA, full, 0.0, 128.0 * (1.0 - LIMITED_CHROMA))
    quarter = height * width // 4
    planes = out[height:].reshape(-1)
    planes[:quarter] = chroma[..., 2].reshape(-1)
    planes[quarter:] = chroma[..., 1].reshape(-1)
    return out


def luma(picture: np.ndarray) -> np.ndarray:
    """(H, W) luma of an RGB picture, or of a premultiplied RGBA one premultiplied in turn (its
    offset scaled by alpha too, so "over" in luma is "over" in RGB): the animatic warps this
    plane itself when it films for the encoder."""
    matrix = _BT601[:1].copy()
    if picture.shape[2] == 3:
        matrix[:, 3] *= 255.0
    return cv2.transform(picture, matrix)


def chroma(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) Cb and Cr of an RGB picture, or of a premultiplied RGBA one premultiplied in turn
    (like :func:`luma`), at the picture's own size."""
    matrix = _BT601[1:].copy()
    if picture.shape[2] == 3:
        matrix[:, 3] *= 255.0
    cb, cr = cv2.split(cv2.transform(picture, matrix))
    return cb, cr


def i420_planes(frame: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of a (H * 3 / 2, W) yuv420p frame's Y (H, W), U and V (H / 2, W / 2) planes."""
    quarter = width * height // 4
    rest = frame[height:].reshape(-1)
    return (frame[:height], rest[:quarter].reshape(height // 2, width // 2),
            rest[quarter:].reshape(height // 2, width // 2))


def i420_to_rgb(planes: np.ndarray) -> np.ndarray:
    """A (H * 3 / 2, W) yuv420p plane stack (BT.601, limited range) as (H, W, 3) uint8 RGB that
    :func:`rgb_to_i420` turns back into the same planes (to rounding)."""
    return cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420)
