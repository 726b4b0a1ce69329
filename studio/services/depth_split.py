"""Layers for a single image: an uploaded keyframe split into far, mid and near layers, so the
animatic's camera gives it parallax like a drawn panel.

Two ways, picked by what is on disk:

- a monocular depth model through transformers (Depth Anything V2 small, or any model
  ``AutoModelForDepthEstimation`` loads) when its weights are on disk: ``PREVIZ_DEPTH_MODEL``
  names a folder, else the Hugging Face cache is asked for :data:`DEPTH_MODEL_ID` without the
  network. Its relative depth (larger = nearer) is cut into three bands;
- otherwise a classical split that runs anywhere: the horizon (the row that best separates the
  picture's upper and lower colours) parts the far background from the ground, and OpenCV's
  GrabCut cuts the foreground subject out of the middle of the frame.

Behind every nearer layer the farther ones are filled in (OpenCV inpainting), so a camera move
uncovers plausible picture, not a hole. The original picture stays the flattened panel (the
keyframe); the user sees the layers in the Draw tab, can change their depths and save, or
discard the split (services/panels.discard_panel).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio.board import Board
from studio.images import ImageError, load_rgb
from studio.services.panels import LayerPixels, PanelError, save_panel
from studio.storage import Project

DEPTH_MODEL_ID = "depth-anything/Depth-Anything-V2-Small-hf"
DEPTH_MODEL_ENV = "PREVIZ_DEPTH_MODEL"
DEPTHS = (2.0, 1.0, 0.6)
"""Far, mid and near layer depths (keyframe-plane distances), as a drawing starts with."""
NEAR_BANDS = (0.45, 0.8)
"""A depth model's picture, ranked far to near: the farthest 45 % is background, the nearest 20 %
foreground, the rest midground."""
WORK_SIDE = 512
"""Masks are found on the picture reduced to this long side (GrabCut and inpainting cost grows
with the pixel count), then scaled back up and feathered."""


@dataclass(frozen=True)
class Split:
    layers: list[LayerPixels]
    method: str
    """"depth model <id or folder>" or "horizon + GrabCut"."""


def find_depth_model() -> str | None:
    """A depth model folder on this machine, or None (never downloads)."""
    folder = os.environ.get(DEPTH_MODEL_ENV, "").strip()
    if folder:
        return folder if (Path(folder) / "config.json").is_file() else None
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(DEPTH_MODEL_ID, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached (or no hub library): the classical split runs
        return None


def model_depth(image: np.ndarray, model: str) -> np.ndarray:
    """Relative nearness (H, W) in 0..1 from a transformers depth model loaded with from_pretrained."""
    import torch
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    processor = AutoImageProcessor.from_pretrained(model)
    network = AutoModelForDepthEstimation.from_pretrained(model).eval()
    inputs = processor(images=image, return_tensors="pt")
    with torch.no_grad():
        predicted = network(**inputs).predicted_depth
    depth = torch.nn.functional.interpolate(predicted[:, None], size=image.shape[:2], mode="bicubic",
                                            align_corners=False)[0, 0].numpy().astype(np.float64)
    low, high = np.percentile(depth, [1, 99])
    return np.clip((depth - low) / max(high - low, 1e-9), 0.0, 1.0)


def horizon_row(image: np.ndarray) -> int:
    """The row that best separates the picture's upper colours from its lower ones (between 15 %
    and 85 % of the height): a sky/ground or wall/floor line."""
    rows = image.astype(np.float64).mean(axis=1)  # (H, 3)
    height = len(rows)
    best, best_row = -1.0, height // 2
    total = np.cumsum(rows, axis=0)
    for row in range(max(1, int(height * 0.15)), int(height * 0.85)):
        upper = total[row - 1] / row
        lower = (total[-1] - total[row - 1]) / (height - row)
        score = float(np.sum((upper - lower) ** 2)) * row * (height - row)
        if score > best:
            best, best_row = score, row
    return best_row


def subject_mask(image: np.ndarray) -> np.ndarray:
    """GrabCut's foreground (bool H x W) starting from the middle of the frame."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    rect = (int(width * 0.2), int(height * 0.1), int(width * 0.6), int(height * 0.85))
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), mask, rect, background, foreground, 4, cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        return np.zeros((height, width), bool)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def _bands(image: np.ndarray, model: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Mid and near masks (bool, at the image's size) and how they were found."""
    if model is not None:
        nearness = model_depth(image, model)
        order = np.argsort(nearness.ravel(), kind="stable")  # by rank: a flat region cannot swallow a band
        rank = np.empty(order.size)
        rank[order] = np.arange(order.size) / order.size
        rank = rank.reshape(nearness.shape)
        return (rank >= NEAR_BANDS[0]) & (rank < NEAR_BANDS[1]), rank >= NEAR_BANDS[1], f"depth model {model}"
    near = subject_mask(image)
    ground = np.zeros(image.shape[:2], bool)
    ground[horizon_row(image):] = True
    return ground & ~near, near, "horizon + GrabCut"


def _feather(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A bool mask at work size -> a soft alpha (uint8) at ``size`` (width, height)."""
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
    return np.clip(cv2.resize(soft, size, interpolation=cv2.INTER_LINEAR) * 255 + 0.5, 0, 255).astype(np.uint8)


def _filled(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The picture with ``hole`` (bool, work size) painted in from around it, at the image's size."""
    if not hole.any():
        return image
    height, width = image.shape[:2]
    small = cv2.resize(image, hole.shape[::-1], interpolation=cv2.INTER_AREA)
    grown = cv2.dilate(hole.astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    patched = cv2.inpaint(small, grown, 5, cv2.INPAINT_TELEA)
    up = cv2.resize(patched, (width, height), interpolation=cv2.INTER_CUBIC)
    alpha = cv2.resize(grown, (width, height), interpolation=cv2.INTER_LINEAR)[..., None] / 255.0
    return np.clip(image * (1 - alpha) + up * alpha + 0.5, 0, 255).astype(np.uint8)


def split_image(image: np.ndarray, model: str | None = None) -> Split:
    """Far, mid and near layers of one RGB picture (see the module docstring)."""
    height, width = image.shape[:2]
    factor = min(1.0, WORK_SIDE / max(width, height))
    work = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                      interpolation=cv2.INTER_AREA) if factor < 1 else image
    mid, near, method = _bands(work, model)
    mid &= ~near
    size = (width, height)
    behind_mid = _filled(image, mid | near)  # the far layer: everything nearer painted over
    behind_near = _filled(image, near)  # the mid layer's colours with the subject painted over
    opaque = np.full((height, width, 1), 255, np.uint8)
    layers = [
        LayerPixels("background", np.dstack([behind_mid, opaque]), DEPTHS[0]),
        LayerPixels("midground", np.dstack([behind_near, _feather(mid | near, size)]), DEPTHS[1]),
        LayerPixels("foreground", np.dstack([image, _feather(near, size)]), DEPTHS[2]),
    ]
    # the mid layer reaches under the subject (its fill), so moving the subject uncovers ground
    return Split(layers, method)


def _board_framed(image: np.ndarray, board: Board) -> np.ndarray:
    """The part of the picture the animatic's cover fit shows: cropped to the board's aspect."""
    height, width = image.shape[:2]
    target = board.width / board.height
    if width / height > target:
        keep = round(height * target)
        x0 = (width - keep) // 2
        return np.ascontiguousarray(image[:, x0:x0 + keep])
    keep = round(width / target)
    y0 = (height - keep) // 2
    return np.ascontiguousarray(image[y0:y0 + keep])


def split_keyframe(project: Project, shot_id: str, role: str = "first", frame: int = 0, *, actor: str = "",
                   model: str | None = None) -> Board:
    """Split the shot's keyframe of ``role`` into depth layers, kept as its panel (the picture
    itself stays the keyframe): one undoable edit. ``model``: a depth model folder (default:
    :func:`find_depth_model`)."""
    shot = project.load().shot(shot_id)
    keyframe = next((k for k in shot.keyframes if k.role == role and (role != "mid" or k.frame == frame)), None)
    if keyframe is None:
        raise PanelError(f"shot {shot_id} has no {role} keyframe to split: upload one first")
    try:
        image = load_rgb(project.resolve(keyframe.path))
    except (ImageError, OSError) as error:
        raise PanelError(f"{keyframe.path}: {error}") from None
    image = _board_framed(image, project.load())
    split = split_image(image, model if model is not None else find_depth_model())
    return save_panel(project, shot_id, split.layers, role, keyframe.frame if role == "mid" else 0, keyframe=True,
                      actor=actor, label=f"split into depth layers ({split.method})", flat=image)
