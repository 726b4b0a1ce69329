"""The one interface every generator implements, and the values that cross it.

A backend turns a :class:`ShotRequest` (everything about one shot, already resolved: keyframe
images decoded, sizes and frame counts fixed) into a :class:`Clip`. It never touches the project
folder or the board file; services/render.py does that. This keeps a backend testable with plain
arrays and lets the UI, the CLI and the HTTP API share one render path.
"""

from __future__ import annotations

import importlib.metadata
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

import numpy as np

from studio.board import CameraMove, FrameRate
from studio.common import Progress


class GenerationError(RuntimeError):
    """A backend could not make the clip; the message says why and what would work."""


class GenerationCancelled(GenerationError):
    """The job was cancelled through its cancel event; nothing is attached to the shot."""


class OutOfMemory(GenerationError):
    """The accelerator ran out of memory; the message names the memory profile to try."""


@dataclass(frozen=True)
class LayerImage:
    """One visible layer of a drawn panel: straight-alpha RGBA uint8 (H, W, 4) at a depth."""

    name: str
    rgba: np.ndarray
    depth: float = 1.0
    opacity: float = 1.0


@dataclass(frozen=True)
class KeyframeImage:
    """A keyframe decoded to RGB uint8 (H, W, 3), pinned to a frame index of the shot.

    ``layers`` (back to front, the same size as ``image``) when the keyframe is a drawn panel:
    a backend that films planes (the animatic) uses them, any other uses the flattened ``image``.
    ``source`` says where it came from (paths in the project), echoed into the take's record so
    a continuity shot can film the same plate again; a backend never opens it."""

    role: str
    frame: int
    image: np.ndarray
    layers: tuple[LayerImage, ...] = ()
    source: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Continuation:
    """The previous shot's animatic camera at its last frame, and the plate it filmed: a
    continuity shot films the same plate from that pose, so its first frame is the cut's match."""

    pose: tuple[float, ...]
    """The seven camera numbers (camera.PARAMS) of the previous take's last frame."""
    overscan: tuple[float, float, float]
    """Scale, shift x, shift y of the previous take's last frame."""
    plate: KeyframeImage
    fit: str = "cover"


@dataclass(frozen=True)
class ShotRequest:
    """Everything a backend needs to generate one shot, with no file paths left in it."""

    shot_id: str
    shot_number: int
    """1-based position on the board, for slates and burn-ins."""
    prompt: str
    negative_prompt: str
    num_frames: int
    width: int
    height: int
    fps: FrameRate
    seed: int
    camera: tuple[CameraMove, ...]
    keyframes: tuple[KeyframeImage, ...] = ()
    previous_last_frame: np.ndarray | None = None
    """For continuity: the previous shot's chosen take's last frame (RGB uint8)."""
    continuation: Continuation | None = None
    """For continuity after an animatic take: its camera and plate (the animatic continues them;
    other backends use ``previous_last_frame``)."""
    title: str = ""
    framing: str = ""
    """Shot size, angle and lens in prompt words (camera.framing_prompt), "" when unset."""
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """Backend-specific settings (steps, guidance, strength, fit mode...), recorded in the take."""
    references: tuple[np.ndarray, ...] = ()
    """Reference pictures (RGB uint8) of the shot's cast and location, for models that take them
    (Wan VACE ``reference_images``); the prompt already carries their descriptions."""
    loras: tuple[Any, ...] = ()
    """LoRAs (backends.loras.LoraRequest) of the board and the shot, for diffusion backends."""

    def keyframe(self, role: str) -> KeyframeImage | None:
        return next((k for k in self.keyframes if k.role == role), None)


@dataclass(frozen=True)
class ClipAudio:
    """Sound a model made with its frames: float32 samples (channels, n) in -1..1 at ``rate`` Hz,
    starting at the clip's first frame and exactly as long as the clip (the backend trims or pads
    it), so a take's picture and sound never drift apart."""

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        samples = self.samples
        if samples.dtype != np.float32 or samples.ndim != 2 or not 1 <= samples.shape[0] <= 2:
            raise GenerationError(
                f"clip audio must be float32 samples shaped (channels 1 or 2, n), got {samples.dtype} {samples.shape}"
            )
        if not isinstance(self.rate, int) or not 8000 <= self.rate <= 192_000:
            raise GenerationError(f"clip audio rate must be a whole number of Hz from 8000 to 192000, got {self.rate!r}")

    @property
    def seconds(self) -> float:
        return self.samples.shape[1] / self.rate


@dataclass(frozen=True)
class Clip:
    """Generated frames: uint8 array (T, H, W, 3) at ``fps``, plus what made them (and the sound,
    for a model that makes it)."""

    frames: np.ndarray
    fps: FrameRate
    metadata: dict[str, Any] = field(default_factory=dict)
    """Settings actually used, notes about adjustments (frame count rounded, size snapped)."""
    audio: ClipAudio | None = None

    def __post_init__(self) -> None:
        frames = self.frames
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise GenerationError(
                f"a clip must be uint8 frames shaped (T, H, W, 3), got {frames.dtype} {frames.shape}"
            )
        if self.audio is not None:
            expected = round(len(frames) * self.audio.rate / self.fps.fraction)
            if self.audio.samples.shape[1] != expected:
                raise GenerationError(
                    f"clip audio has {self.audio.samples.shape[1]} samples but {len(frames)} frames at {self.fps} fps "
                    f"need exactly {expected} at {self.audio.rate} Hz"
                )


def fit_audio(samples: np.ndarray, rate: int, frames: int, fps: FrameRate) -> tuple[np.ndarray, int]:
    """``samples`` (channels, n) cut or padded with silence at the end to exactly ``frames`` at
    ``fps``; returns them and how many samples were added (negative: removed)."""
    wanted = round(frames * rate / fps.fraction)
    have = samples.shape[1]
    if have >= wanted:
        return np.ascontiguousarray(samples[:, :wanted]), wanted - have
    pad = np.zeros((samples.shape[0], wanted - have), dtype=samples.dtype)
    return np.concatenate([samples, pad], axis=1), wanted - have


@dataclass(frozen=True)
class ClipStream:
    """A clip whose frames are made as they are consumed (a backend that can stream offers
    ``stream(request, progress, cancel, pixel_format="rgb24") -> ClipStream`` beside
    ``generate``): exactly ``num_frames`` uint8 frames, each valid until the next is taken, so a
    long shot goes to the encoder without ever being held whole: (H, W, 3) RGB, or with
    ``pixel_format`` "yuv420p" the encoder's (H * 3 / 2, W) plane stack (studio.yuv).
    ``metadata`` as for :class:`Clip`."""

    frames: Iterator[np.ndarray]
    num_frames: int
    fps: FrameRate
    metadata: dict[str, Any] = field(default_factory=dict)
    pixel_format: str = "rgb24"


class Backend(Protocol):
    """A generator of shots. ``name`` is what board.json and the CLI call it."""

    name: str

    def generate(
        self,
        request: ShotRequest,
        progress: Progress,
        cancel: threading.Event,
    ) -> Clip:
        """Make exactly ``request.num_frames`` frames at ``request.width`` x ``request.height``.

        Raise GenerationCancelled soon after ``cancel`` is set, GenerationError for anything the
        user can fix (with a message saying how).
        """
        ...


def library_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones left out), for the record
    of what made a clip; importlib.metadata, so nothing heavy is imported to ask."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
