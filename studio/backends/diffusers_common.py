"""What every Diffusers video backend shares: loading, runtime, the request mapping, the step loop.

A family file (wan.py, ltx.py, cogvideox.py) only says which pipeline class serves which task
and how a request's keyframes become that pipeline's arguments. Everything else is here and reads
down in the order a job runs:

1. resolve the model (catalog key, hub id or folder) and find its weights on disk, offline;
2. pick the task from the request (text, first frame, first+last, keyframes, camera-guided);
3. plan the shape: nearest valid size and frame count, every adjustment written down;
4. load the pipeline once (one model resident per backend instance; other tasks share its weights);
5. run it with per-step progress, cancel raised from the step callback, OOM turned into advice;
6. resize and retime the frames to exactly what the board asked for, and record what made them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import math
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from studio.backends.base import (
    Clip,
    ClipAudio,
    GenerationCancelled,
    GenerationError,
    KeyframeImage,
    OutOfMemory,
    ShotRequest,
    fit_audio,
)
from studio.backends.move_loras import active_move_adapter
from studio.board import MEMORY_PROFILES, FrameRate
from studio.common import Progress, shown
from studio.models import CATALOG, TASK_NAMES, Availability, ModelError, ModelSpec, locate, resolve_model

if TYPE_CHECKING:
    import torch


NEXT_PROFILE = MappingProxyType({
    "none": "model_offload", "vae_tiling": "model_offload", "quantized": "model_offload",
    "model_offload": "group_offload",
})
"""The profile an out-of-memory message suggests next."""

VIDEO_INPUT_PIPELINES: tuple[str, ...] = ("WanVideoToVideoPipeline", "CogVideoXVideoToVideoPipeline")
"""Pipelines whose frame count is the init video's (they take no ``num_frames``)."""

MAX_ASPECT = 4.0
MAX_SLOWDOWN = 2.0
"""A generated clip is never stretched to more than twice its own length to fill a shot."""


class _Cancelled(Exception):
    """Raised inside the step callback to stop the denoising loop at once."""


# ------------------------------------------------------------------------------------------------
# Runtime choices (device, dtype) made once per backend instance


def pick_device(requested: str | None) -> "torch.device":
    import torch

    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise GenerationError(f"unknown device {shown(requested)}; use cuda, cuda:N, mps or cpu") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise GenerationError(f"device {shown(requested)} asked for, but this machine has no CUDA GPU; use cpu")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise GenerationError(f"device {shown(requested)} asked for, but MPS is not available here; use cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


DTYPES = MappingProxyType({"bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16",
                           "fp32": "float32", "float32": "float32"})


def pick_dtype(device: "torch.device", requested: str | None) -> "torch.dtype":
    """bf16 on CUDA (fp16 where bf16 is missing) and MPS, fp32 on CPU, unless asked otherwise."""
    import torch

    if requested:
        if requested not in DTYPES:
            raise GenerationError(f"unknown dtype {shown(requested)}; use one of {', '.join(DTYPES)}")
        return getattr(torch, DTYPES[requested])
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.bfloat16
    return torch.float32


# ------------------------------------------------------------------------------------------------
# The request, mapped onto what a model can make


@dataclass(frozen=True)
class Shape:
    """What the model generates: a valid size and frame count at its native fps."""

    width: int
    height: int
    frames: int
    fps: int
    adjustments: tuple[str, ...]
    windows: tuple[tuple[int, int], ...] = ()
    """A long shot: (first model frame, frame count) of each call, overlapping (long_shots.py)."""

    def model_frame(self, shot_frame: int, shot_frames: int) -> int:
        """Where a shot frame lands in the generated clip (the inverse of the retime)."""
        if shot_frames <= 1:
            return 0
        return int(round(shot_frame * (self.frames - 1) / (shot_frames - 1)))


def plan_shape(request: ShotRequest, spec: ModelSpec, max_area: int | None = None) -> Shape:
    """Nearest valid size (within the model's pixel budget) and nearest valid frame count."""
    width, height, multiple = request.width, request.height, spec.size_multiple
    aspect = width / height
    if not 1 / MAX_ASPECT <= aspect <= MAX_ASPECT:
        raise GenerationError(
            f"{width}x{height} is too wide or tall for {spec.key} (aspect {aspect:.2f}); use a board "
            f"between 1:4 and 4:1, e.g. {spec.native_width}x{spec.native_height}"
        )
    budget = max_area or spec.native_area
    scale = min(1.0, math.sqrt(budget / (width * height)))
    snap = math.floor if scale < 1 else round
    gen_w = max(multiple, int(snap(width * scale / multiple)) * multiple)
    gen_h = max(multiple, int(snap(height * scale / multiple)) * multiple)
    while gen_w * gen_h > budget and min(gen_w, gen_h) > multiple:
        if gen_w / gen_h > aspect:
            gen_w -= multiple
        else:
            gen_h -= multiple
    if abs(math.log((gen_w / gen_h) / aspect)) > math.log(1.25):
        raise GenerationError(
            f"{width}x{height} cannot be made by {spec.key}: sizes must be multiples of {multiple}, and the "
            f"nearest ({gen_w}x{gen_h}) changes the picture's shape; use a board of at least "
            f"{multiple * 4}x{multiple * 4}, e.g. {spec.native_width}x{spec.native_height}"
        )
    adjustments = []
    if (gen_w, gen_h) != (width, height):
        adjustments.append(
            f"size: generated {gen_w}x{gen_h} (multiples of {multiple}, at most {spec.native_width}x"
            f"{spec.native_height} worth of pixels for {spec.key}), resized to the board's {width}x{height}"
        )
    fps = request.fps
    seconds = request.num_frames / float(fps)
    frames = spec.frames.nearest(seconds * spec.fps)
    generated_seconds = frames / spec.fps
    if seconds / generated_seconds > MAX_SLOWDOWN:
        longest = spec.frames.maximum / spec.fps * MAX_SLOWDOWN
        raise GenerationError(
            f"shot is {seconds:.2f} s ({request.num_frames} frames at {fps} fps); {spec.key} makes at most "
            f"{spec.frames.maximum} frames ({spec.frames.maximum / spec.fps:.2f} s at {spec.fps} fps). "
            f"Make the shot at most {longest:.1f} s, or split it into several shots"
        )
    if frames != request.num_frames or FrameRate(spec.fps) != fps:
        speed = generated_seconds / seconds
        adjustments.append(
            f"frames: the shot needs {request.num_frames} frames at {fps} fps ({seconds:.3f} s); {spec.key} "
            f"makes {spec.frames} frames at {spec.fps} fps, so {frames} were generated ({generated_seconds:.3f} s) "
            f"and retimed to {request.num_frames}" + (f" (motion {speed:.2f}x)" if abs(speed - 1) > 0.005 else "")
        )
    return Shape(gen_w, gen_h, frames, spec.fps, tuple(adjustments))


def retime(frames: np.ndarray, count: int) -> np.ndarray:
    """Exactly ``count`` frames spanning the clip first to last (so first/last keyframes stay put)."""
    source = len(frames)
    if count == 1 or source == 1:
        return frames[np.zeros(count, dtype=int)]
    index = np.rint(np.arange(count) * (source - 1) / (count - 1)).astype(int)
    return frames[index]


def resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize every frame to the board size (area filter down, bicubic up)."""
    if frames.shape[1:3] == (height, width):
        return frames
    import cv2

    interpolation = cv2.INTER_AREA if width < frames.shape[2] else cv2.INTER_CUBIC
    return np.stack([cv2.resize(frame, (width, height), interpolation=interpolation) for frame in frames])


def fit_keyframe(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from studio.images import fit_image

    return fit_image(np.ascontiguousarray(image[..., :3]), width, height, mode="cover")


def to_pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image))


def image_or_text_kwargs(task: str, spec: ModelSpec, cond: Conditioning) -> dict[str, Any]:
    """task_kwargs of a pipeline family whose only picture input is a first frame (``image``):
    nothing for t2v, the first keyframe for i2v, any other task refused naming the model."""
    if task == "i2v":
        return {"image": to_pil(cond.first)}
    if task != "t2v":
        raise GenerationError(f"{spec.key} has no way to take {task} input")
    return {}


@dataclass(frozen=True)
class Conditioning:
    """The request's images, fitted to the generation size and placed on model frames."""

    task: str
    first: np.ndarray | None = None
    last: np.ndarray | None = None
    mids: tuple[tuple[int, np.ndarray], ...] = ()
    video: np.ndarray | None = None
    """Camera-guided mode: the animatic render of the card's camera move (T, H, W, 3)."""
    strength: float = 1.0

    def images_at(self, frames: int) -> tuple[tuple[int, np.ndarray], ...]:
        """All keyframe images with their model frame index, first to last."""
        placed = []
        if self.first is not None:
            placed.append((0, self.first))
        placed.extend(self.mids)
        if self.last is not None:
            placed.append((frames - 1, self.last))
        return tuple(sorted(placed, key=lambda item: item[0]))


def choose_task(request: ShotRequest, spec: ModelSpec) -> str:
    """The task the request needs, refused clearly when the model cannot do it."""
    has_first = request.keyframe("first") is not None or request.previous_last_frame is not None
    has_last = request.keyframe("last") is not None
    has_mid = any(k.role == "mid" for k in request.keyframes)
    if request.options.get("camera_guided"):
        task = "v2v"
        if not has_first:
            raise GenerationError(
                "camera-guided mode moves the camera over a picture: give the shot a first keyframe "
                "(or turn on continuity from a rendered previous shot)"
            )
    elif has_mid or (has_last and not has_first):
        task = "keyframes"
    elif has_last:
        task = "flf2v"
    elif has_first:
        task = "i2v"
    else:
        task = "t2v"
    if spec.supports(task):
        return task
    if task == "flf2v" and spec.supports("keyframes"):
        return "keyframes"
    able = [s.key for s in CATALOG.values() if s.supports(task)]
    if "t2v" not in spec.tasks and task == "t2v":
        raise GenerationError(
            f"{spec.key} animates a picture: give the shot a first keyframe (or continuity), or pick a "
            f"text-to-video model such as {', '.join(able[:3])}"
        )
    raise GenerationError(
        f"{spec.key} cannot do {TASK_NAMES[task]} (it does: {', '.join(TASK_NAMES[t] for t in spec.tasks)}); "
        f"models that can: {', '.join(able)}" + (
            "; or remove the shot's keyframes" if task in ("flf2v", "keyframes") else "")
    )


# ------------------------------------------------------------------------------------------------
# The backend


@dataclass
class _Resident:
    """The one loaded model of a backend instance, and the pipelines derived from it."""

    spec: ModelSpec
    availability: Availability
    base: Any
    derived: dict[str, Any]
    offloaded_for: Any = None
    """With model offload, the pipeline whose hooks the shared modules carry now."""


class DiffusersBackend:
    """Base class of the Diffusers backends; a family subclass fills in the ``family hooks``."""

    name = "diffusers"
    family = ""
    default_model = ""
    keep_float32: tuple[str, ...] = ()
    """Components kept in float32 whatever the dtype (the Wan VAE)."""

    def __init__(
        self,
        *,
        model: str | None = None,
        like: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        memory_profile: str = "none",
        cache_dir: str | Path | None = None,
        models_dir: str | Path | None = None,
        first_block_cache: float | None = None,
        compile: bool = False,
        attention_backend: str | None = None,
    ) -> None:
        if memory_profile not in MEMORY_PROFILES:
            raise GenerationError(f"unknown memory profile {shown(memory_profile)}; use one of {', '.join(MEMORY_PROFILES)}")
        self.model = model or self.default_model
        self.like = like
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        if memory_profile in ("model_offload", "group_offload") and self.device.type == "cpu":
            raise GenerationError(
                f"memory profile {memory_profile!r} moves weights between the CPU and an accelerator, but this "
                "backend runs on the CPU (no CUDA or MPS device): use 'none' or 'vae_tiling'"
            )
        if memory_profile == "quantized":
            self.quantization = quantization_backend(self.device)
        else:
            self.quantization = None
        if first_block_cache is not None and not 0 < float(first_block_cache) < 1:
            raise GenerationError(f"first_block_cache is a threshold between 0 and 1 (e.g. 0.05), got {shown(first_block_cache)}")
        self.memory_profile = memory_profile
        self.cache_dir = cache_dir
        self.models_dir = models_dir
        self.first_block_cache = first_block_cache
        self.compile = bool(compile)
        self.attention_backend = attention_backend
        self._resident: _Resident | None = None
        self._lock = threading.Lock()
        self._decode_notes: list[str] = []
        """What the VAE-decode retry did during the current job (recorded as adjustments)."""
        self.spec(self.model)

    # -- family hooks ------------------------------------------------------------------------
    def pipeline_for(self, task: str, spec: ModelSpec) -> str:
        """The Diffusers pipeline class name that does ``task`` with this model's weights."""
        raise NotImplementedError

    def task_kwargs(self, task: str, spec: ModelSpec, shape: Shape, cond: Conditioning) -> dict[str, Any]:
        """The pipeline arguments that carry the keyframes / init video for ``task``."""
        raise NotImplementedError

    def load_kwargs(self, spec: ModelSpec, source: str, load: dict[str, Any]) -> dict[str, Any]:
        """Extra from_pretrained arguments (e.g. components loaded apart in float32)."""
        return {}

    def call_defaults(self, spec: ModelSpec, shape: Shape) -> dict[str, Any]:
        """Family-wide call arguments (e.g. LTX's frame_rate)."""
        return {}

    def request_kwargs(self, request: ShotRequest, task: str, spec: ModelSpec, shape: Shape,
                       cond: Conditioning) -> tuple[dict[str, Any], dict[str, Any]]:
        """Call arguments that need the whole request (e.g. SANA-WM's camera trajectory), and what
        of them to record in the take's metadata."""
        return {}, {}

    def prepare_pipeline(self, pipe: Any, request: ShotRequest, spec: ModelSpec) -> dict[str, Any]:
        """Set the loaded pipeline up for this request (e.g. a camera-move LoRA); returns what to
        record of it in the take's metadata."""
        return {}

    def apply_request_loras(self, pipe: Any, request: ShotRequest, spec: ModelSpec,
                            keep: tuple[tuple[str, float], ...] = ()) -> dict[str, Any]:
        """The board's and shot's LoRAs on the pipeline (unloaded when a job no longer asks for
        them; backends.loras), active together with ``keep`` (the backend's own adapters, e.g. a
        camera-move LoRA prepare_pipeline loaded), recorded in the take."""
        from studio.backends.loras import LoraError, activate, apply_loras

        loaded = getattr(self, "_user_loras", ())
        if not request.loras and not loaded:
            if hasattr(pipe, "load_lora_weights"):
                activate(pipe, keep)  # the backend's adapters on, or every adapter off
            return {}
        try:
            self._user_loras = apply_loras(pipe, tuple(request.loras), loaded, spec.key, self.cache_dir, keep)
        except LoraError as error:
            self._user_loras = ()
            raise GenerationError(str(error)) from None
        return {"loras": [lora.record() for lora in request.loras]}

    def output_frames(self, output: Any) -> Any:
        """The generated clip from a pipeline's output: the first video of the batch (T, H, W, 3)."""
        return output.frames[0]

    def text_length(self, pipe: Any, requested: int) -> int:
        """Prompt tokens to encode; a family whose transformer fixes it overrides this."""
        return requested

    max_sequence_length = 512

    # -- 1. model ----------------------------------------------------------------------------
    def spec(self, model: str | None) -> ModelSpec:
        try:
            spec = resolve_model(model or self.model, like=self.like)
        except ModelError as error:
            raise GenerationError(str(error)) from None
        if spec.family != self.family:
            raise GenerationError(
                f"{spec.key} is a {spec.family} model; the {self.name!r} backend runs {self.family} models "
                f"({', '.join(k for k, s in CATALOG.items() if s.family == self.family)}). "
                f"Use the {spec.family!r} backend for it"
            )
        return spec

    def availability(self, spec: ModelSpec) -> Availability:
        found = locate(spec, self.cache_dir, self.models_dir)
        if not found.ready:
            raise GenerationError(found.explain())
        return found

    # -- 4. loading --------------------------------------------------------------------------
    def pipeline(self, spec: ModelSpec, class_name: str) -> Any:
        """The loaded pipeline for ``class_name``, loading ``spec`` first if another model is resident."""
        resident = self._resident
        if resident is None or resident.spec != spec:
            self.unload()
            availability = self.availability(spec)
            base = self._load(spec, availability)
            resident = self._resident = _Resident(spec, availability, base, {spec.pipeline: base}, base)
        if class_name not in resident.derived:
            resident.derived[class_name] = self._derive(resident.base, class_name)
        pipe = resident.derived[class_name]
        if self.memory_profile == "model_offload" and resident.offloaded_for is not pipe:
            pipe.enable_model_cpu_offload(device=self.device)  # re-hook the shared modules for this pipeline
            resident.offloaded_for = pipe
        return pipe

    def unload(self) -> None:
        """Drop the resident model and give its memory back."""
        self._resident = None
        self._user_loras = ()
        gc.collect()
        _empty_accelerator_cache()

    def _load(self, spec: ModelSpec, availability: Availability) -> Any:
        import diffusers

        pipeline_class = getattr(diffusers, spec.pipeline)
        if availability.in_hf_cache:
            source = spec.source
            load: dict[str, Any] = {"cache_dir": self.cache_dir, "revision": availability.revision,
                                    "local_files_only": True}
        else:
            source, load = str(availability.path), {}
        load |= self.load_kwargs(spec, source, load)
        try:
            if self.quantization is not None:
                load["quantization_config"] = quantization_config(self.quantization, self.dtype)
            pipe = pipeline_class.from_pretrained(source, dtype=self.dtype, **load)
        except (OSError, ValueError) as error:
            raise GenerationError(
                f"could not load {spec.key} from {availability.path}: {error}. If the download was "
                f"interrupted, run `studio models download {spec.key}` again"
            ) from None
        self._keep_float32(pipe)
        self._place(pipe)
        transformer = getattr(pipe, "transformer", None)
        if transformer is not None:
            if self.attention_backend:
                transformer.set_attention_backend(self.attention_backend)
            if self.first_block_cache is not None:
                from diffusers import FirstBlockCacheConfig

                transformer.enable_cache(FirstBlockCacheConfig(threshold=float(self.first_block_cache)))
            if self.compile:
                transformer.compile_repeated_blocks(fullgraph=True)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def _keep_float32(self, pipe: Any) -> None:
        import torch

        for name in self.keep_float32:
            component = getattr(pipe, name, None)
            if component is not None:
                component.to(dtype=torch.float32)

    def _place(self, pipe: Any) -> None:
        """Apply the memory profile (offload only where there is an accelerator: checked in __init__)."""
        profile = self.memory_profile
        if profile == "model_offload":
            pipe.enable_model_cpu_offload(device=self.device)
        elif profile == "group_offload":
            pipe.enable_group_offload(onload_device=self.device, offload_type="leaf_level",
                                      use_stream=self.device.type == "cuda")
        else:
            pipe.to(self.device)
        if profile != "none" and getattr(pipe, "vae", None) is not None and hasattr(pipe.vae, "enable_tiling"):
            pipe.vae.enable_tiling()

    def _derive(self, base: Any, class_name: str) -> Any:
        """Another pipeline on the same weights, as ``from_pipe`` builds it but without its cast.

        diffusers' from_pipe ends with ``new_pipeline.to(dtype)``, which casts the *shared* modules
        in place: the float32 Wan VAE and the transformer's float32 norms would be rounded through
        bf16 for every pipeline already loaded. So the derived pipeline is constructed from the base's
        components and config directly; no weight is copied or cast.
        """
        import diffusers

        pipeline_class = getattr(diffusers, class_name)
        parameters = inspect.signature(pipeline_class.__init__).parameters
        shared = {name: value for name, value in base.components.items() if name in parameters}
        try:
            pipe = pipeline_class(**shared)
        except TypeError as error:
            raise GenerationError(f"{class_name} cannot run on these weights: {error}") from None
        pipe.set_progress_bar_config(disable=True)
        return pipe

    # -- the job -----------------------------------------------------------------------------
    def generate(self, request: ShotRequest, progress: Progress, cancel: threading.Event) -> Clip:
        with self._lock:
            return self._generate(request, progress, cancel)

    def _generate(self, request: ShotRequest, progress: Progress, cancel: threading.Event) -> Clip:
        started = time.perf_counter()
        options = dict(request.options)
        self._decode_notes = []
        # 1. model and task
        spec = self.spec(request.model)
        task = choose_task(request, spec)
        # 2. shape (a shot longer than the model makes at once is planned as overlapping windows)
        shape = self.plan(request, spec, task, options.get("max_area"))
        steps = int(options.get("steps", spec.steps))
        guidance = float(options.get("guidance", spec.guidance))
        strength = float(options.get("strength", 0.6))
        if steps < 1:
            raise GenerationError(f"steps must be at least 1, got {steps}")
        if task == "v2v" and not 0 < strength <= 1:
            raise GenerationError(f"strength must be above 0 and at most 1 (e.g. 0.6), got {strength}")
        # 3. conditioning (camera-guided mode renders the camera move first)
        cond = self._conditioning(request, spec, shape, task, strength, cancel)
        prompt, phrase = full_prompt(request)
        # 4. pipeline
        if cancel.is_set():
            raise GenerationCancelled("cancelled before the model was loaded")
        class_name = self.pipeline_for(task, spec)
        import torch

        try:
            pipe = self.pipeline(spec, class_name)
        except torch.OutOfMemoryError:
            # moving a large model onto the device is the commonest out-of-memory of all
            self.unload()
            gc.collect()
            _empty_accelerator_cache()
            raise OutOfMemory("while loading the model: " + self._oom_message(shape)) from None
        prepared = self.prepare_pipeline(pipe, request, spec)
        move = active_move_adapter(prepared)
        prepared |= self.apply_request_loras(pipe, request, spec, keep=(move,) if move else ())

        kwargs: dict[str, Any] = {
            "prompt": prompt,
            "negative_prompt": request.negative_prompt or None,
            "height": shape.height,
            "width": shape.width,
            "num_frames": shape.frames,
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "generator": torch.Generator(device="cpu").manual_seed(request.seed),
            "output_type": "np",
            "max_sequence_length": int(options.get("max_sequence_length", self.max_sequence_length)),
        }
        kwargs["max_sequence_length"] = self.text_length(pipe, kwargs["max_sequence_length"])
        kwargs |= self.call_defaults(spec, shape)
        kwargs |= self.task_kwargs(task, spec, shape, cond)
        extra_kwargs, extra_record = self.request_kwargs(request, task, spec, shape, cond)
        kwargs |= extra_kwargs
        if class_name in VIDEO_INPUT_PIPELINES:
            kwargs.pop("num_frames")  # video-to-video pipelines take the length of the init video
        # 5. run (in windows, each conditioned on the last, when the shot is longer than one call)
        if shape.windows:
            frames, audio = self.run_long(pipe, kwargs, task, spec, shape, cond, progress, cancel)
        else:
            frames, audio = self._run(pipe, kwargs, progress, cancel, shape)
        # 6. fit to the board (picture and sound alike), record
        frames, sound = self.fit(frames, audio, pipe, shape, request)
        settings = {
            "steps": steps, "guidance": guidance, "width": shape.width, "height": shape.height,
            "frames": shape.frames, "fps": shape.fps, "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."), "memory_profile": self.memory_profile,
            "first_block_cache": self.first_block_cache, "compile": self.compile,
            "attention_backend": self.attention_backend, "max_sequence_length": kwargs["max_sequence_length"],
        }
        if task == "v2v":
            settings |= {"camera_guided": True, "strength": strength}
        availability = self._resident.availability if self._resident else None
        metadata = {
            "backend": self.name,
            "model": spec.key,
            "model_source": spec.source,
            "model_revision": availability.revision if availability and availability.revision else "local folder",
            "pipeline": type(pipe).__name__,
            "task": task,
            "prompt": prompt,
            "camera_phrase": phrase,
            "negative_prompt": request.negative_prompt,
            "seed": request.seed,
            "settings": settings,
            "keyframes": [
                {"role": k.role, "frame": k.frame, "model_frame": shape.model_frame(k.frame, request.num_frames)}
                for k in request.keyframes
            ],
            "continuity": request.previous_last_frame is not None,
            "adjustments": list(shape.adjustments) + self._decode_notes,
            "elapsed_s": round(time.perf_counter() - started, 3),
        }
        if shape.windows:
            metadata["windows"] = [list(window) for window in shape.windows]
        metadata |= extra_record | prepared
        return Clip(frames=frames, fps=request.fps, metadata=metadata, audio=sound)

    def plan(self, request: ShotRequest, spec: ModelSpec, task: str, max_area: int | None) -> Shape:
        """The generation shape; a shot longer than the model makes at once becomes overlapping
        windows (studio.backends.long_shots) where the model can continue a picture."""
        from studio.backends.long_shots import plan_long

        return plan_long(request, spec, task, max_area) or plan_shape(request, spec, max_area)

    def run_long(self, pipe: Any, kwargs: dict[str, Any], task: str, spec: ModelSpec, shape: Shape,
                 cond: Conditioning, progress: Progress, cancel: threading.Event) -> tuple[np.ndarray, Any]:
        """A windowed shot: one call per window, each starting on the last frame of the one before
        (long_shots.run_windows); a family whose pipeline extends a video itself overrides this."""
        from studio.backends.long_shots import run_windows

        return run_windows(self, pipe, kwargs, task, spec, shape, cond, progress, cancel)

    def fit(self, frames: np.ndarray, audio: Any, pipe: Any, shape: Shape,
            request: ShotRequest) -> tuple[np.ndarray, ClipAudio | None]:
        """Frames resized and retimed to the board; a model's sound (any pipeline whose output has
        ``audio``) kept in sync with them: stretched by the same factor as the picture when it was
        retimed, then cut or padded to the clip's exact length."""
        frames = retime(resize_frames(frames, request.width, request.height), request.num_frames)
        if audio is None:
            return frames, None
        rate = self.audio_rate(pipe)
        samples = audio_samples(audio)
        generated = Fraction(shape.frames, shape.fps)
        wanted = Fraction(request.num_frames) / request.fps.fraction
        if generated != wanted:  # the picture was retimed: the sound follows it (pitch changes with it)
            length = max(1, round(samples.shape[1] * wanted / generated))
            positions = np.linspace(0, samples.shape[1] - 1, length)
            samples = np.stack([np.interp(positions, np.arange(samples.shape[1]), row) for row in samples]).astype(np.float32)
        samples, _ = fit_audio(samples, rate, request.num_frames, request.fps)
        return frames, ClipAudio(samples=samples, rate=rate)

    def audio_rate(self, pipe: Any) -> int:
        """The sample rate of a pipeline's sound: its vocoder's output rate (LTX-2)."""
        vocoder = getattr(pipe, "vocoder", None)
        rate = getattr(getattr(vocoder, "config", None), "output_sampling_rate", None)
        if not rate:
            raise GenerationError(f"{type(pipe).__name__} returned audio but says no sample rate")
        return int(rate)

    def _conditioning(self, request: ShotRequest, spec: ModelSpec, shape: Shape, task: str,
                      strength: float, cancel: threading.Event) -> Conditioning:
        size = (shape.width, shape.height)
        first_key = request.keyframe("first")
        first = first_key.image if first_key is not None else request.previous_last_frame
        last_key = request.keyframe("last")
        mids = tuple(
            (shape.model_frame(k.frame, request.num_frames), fit_keyframe(k.image, *size))
            for k in request.keyframes if k.role == "mid"
        )
        cond = Conditioning(
            task=task,
            first=None if first is None else fit_keyframe(first, *size),
            last=None if last_key is None else fit_keyframe(last_key.image, *size),
            mids=mids,
        )
        if task == "v2v":
            assert cond.first is not None
            cond = dataclasses.replace(cond, video=self.camera_video(request, shape, cond.first, cancel),
                                       strength=strength)
        return cond

    def camera_video(self, request: ShotRequest, shape: Shape, first: np.ndarray,
                     cancel: threading.Event) -> np.ndarray:
        """The card's exact camera move over the first keyframe, at the model's size, fps and length."""
        from studio.backends import create_backend

        guide = dataclasses.replace(
            request, num_frames=shape.frames, width=shape.width, height=shape.height,
            fps=FrameRate(shape.fps), keyframes=(KeyframeImage("first", 0, first),),
            previous_last_frame=None, options={}, model=None,
        )
        clip = create_backend("animatic").generate(guide, lambda done, total, message: None, cancel)
        if cancel.is_set():
            raise GenerationCancelled("cancelled while rendering the camera guide")
        if clip.frames.shape != (shape.frames, shape.height, shape.width, 3):
            raise GenerationError(f"the animatic camera guide came back shaped {clip.frames.shape}")
        return clip.frames

    def _run(self, pipe: Any, kwargs: dict[str, Any], progress: Progress,
             cancel: threading.Event, shape: Shape) -> tuple[np.ndarray, Any]:
        """One pipeline call: progress each step, cancel from inside the loop, OOM -> advice.
        Returns the frames and the pipeline's audio (None for a model without sound)."""
        started = time.perf_counter()
        planned = kwargs["num_inference_steps"]

        def report(pipeline: Any, step: int) -> None:
            total = int(getattr(pipeline, "_num_timesteps", None) or planned)
            done = step + 1
            elapsed = time.perf_counter() - started
            left = elapsed / done * (total - done)
            progress(done, total, f"step {done}/{total}, {elapsed:.1f} s elapsed, about {left:.0f} s left")

        with _decode_retry(pipe, self._decode_notes):
            output = call_pipeline(pipe, kwargs, report, cancel, lambda: self._oom_message(shape))
        frames = np.asarray(self.output_frames(output), dtype=np.float32)
        audio = getattr(output, "audio", None)
        return np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8), None if audio is None else audio[0]

    def _oom_message(self, shape: Shape) -> str:
        where = f"{shape.width}x{shape.height}, {shape.frames} frames"
        suggestion = NEXT_PROFILE.get(self.memory_profile)
        if suggestion:
            return (f"out of GPU memory with memory profile {self.memory_profile!r} ({where}); try memory "
                    f"profile {suggestion!r}, or a smaller board size or a shorter shot")
        return (f"out of GPU memory even with memory profile {self.memory_profile!r} ({where}); use a smaller "
                "board size, a shorter shot, or a smaller model")


def audio_samples(audio: Any) -> np.ndarray:
    """One clip's sound from a pipeline (a tensor or array, (channels, n) or (n,)) as float32 (channels, n)."""
    if hasattr(audio, "detach"):
        audio = audio.detach().float().cpu().numpy()
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None]
    if samples.ndim != 2 or not samples.shape[1]:
        raise GenerationError(f"the pipeline returned audio shaped {samples.shape}; expected (channels, samples)")
    if samples.shape[0] > 2:
        samples = samples[:2]
    return np.clip(np.nan_to_num(samples), -1.0, 1.0)


QUANTIZED_COMPONENTS: tuple[str, ...] = ("transformer", "transformer_2")
"""What the quantized profile stores in 8 bits: the denoisers (most of the weights). Text encoders
and VAEs stay in the working dtype: 8-bit text embeddings and decodes cost visible quality."""


def quantization_backend(device: "torch.device") -> str:
    """The 8-bit weight backend the quantized profile uses here: torchao (int8 weight-only, CPU or
    GPU) when installed, else bitsandbytes (LLM.int8, CUDA only); a clear error when neither fits."""
    import importlib.util

    if importlib.util.find_spec("torchao") is not None:
        return "torchao"
    if importlib.util.find_spec("bitsandbytes") is not None:
        if device.type != "cuda":
            raise GenerationError(
                "memory profile 'quantized' found bitsandbytes, which needs a CUDA GPU; this backend runs on "
                f"{device.type}. Install torchao (pip install 'previz-studio[quantize]') or use 'vae_tiling'")
        return "bitsandbytes"
    raise GenerationError(
        "memory profile 'quantized' stores the model's weights in 8 bits and needs torchao "
        "(pip install 'previz-studio[quantize]') or, on a CUDA GPU, bitsandbytes; neither is installed")


def quantization_config(backend: str, dtype: "torch.dtype") -> Any:
    """diffusers' pipeline-level config: 8-bit weights for the denoiser(s) only."""
    from diffusers import BitsAndBytesConfig, PipelineQuantizationConfig, TorchAoConfig

    if backend == "torchao":
        from torchao.quantization import Int8WeightOnlyConfig

        return PipelineQuantizationConfig(quant_mapping={
            name: TorchAoConfig(Int8WeightOnlyConfig()) for name in QUANTIZED_COMPONENTS})
    return PipelineQuantizationConfig(quant_mapping={
        name: BitsAndBytesConfig(load_in_8bit=True) for name in QUANTIZED_COMPONENTS})


@contextlib.contextmanager
def _decode_retry(pipe: Any, notes: list[str]) -> Iterator[None]:
    """Within one pipeline call: if the VAE decode runs out of memory, the latents it was given
    are kept, tiled decoding is turned on and the decode is tried once more, instead of losing
    every denoising step already done. Only the decode is retried; an OOM elsewhere propagates."""
    import torch

    vae = getattr(pipe, "vae", None)
    if vae is None or not hasattr(vae, "enable_tiling") or not hasattr(vae, "decode"):
        yield
        return
    original = vae.decode

    def decode(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except torch.OutOfMemoryError:
            if getattr(vae, "use_tiling", False):
                raise  # already tiled: nothing smaller to try here
            gc.collect()
            _empty_accelerator_cache()
            vae.enable_tiling()
            notes.append("vae decode ran out of memory; the latents were kept and decoded again in tiles")
            return original(*args, **kwargs)

    vae.decode = decode
    try:
        yield
    finally:
        del vae.decode  # the instance attribute goes; the class's method shows through again


def call_pipeline(pipe: Any, kwargs: dict[str, Any], report: Callable[[Any, int], None],
                  cancel: threading.Event, oom_message: Callable[[], str]) -> Any:
    """One pipeline call as every diffusers backend makes it (video and still): ``report(pipeline,
    step)`` after each step and cancel from inside the loop; a cancel, an out-of-memory (with
    ``oom_message()``'s advice) or any other failure comes out as the backends' own error, with
    the pipeline's offload hooks freed."""
    import torch

    def on_step_end(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        report(pipeline, step)
        if cancel.is_set():
            raise _Cancelled
        return tensors

    try:
        return pipe(**kwargs, callback_on_step_end=on_step_end)
    except _Cancelled:
        pipe.maybe_free_model_hooks()
        raise GenerationCancelled("cancelled; nothing was kept") from None
    except torch.OutOfMemoryError:
        pipe.maybe_free_model_hooks()
        gc.collect()
        _empty_accelerator_cache()
        raise OutOfMemory(oom_message()) from None
    except (ValueError, TypeError, RuntimeError, IndexError) as error:
        pipe.maybe_free_model_hooks()
        raise GenerationError(f"{type(pipe).__name__} failed: {error}") from error


def _empty_accelerator_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif torch.backends.mps.is_available():
        torch.mps.empty_cache()


def full_prompt(request: ShotRequest) -> tuple[str, str]:
    """The card's framing, prompt and camera move as one prompt (the same words every diffusion
    backend uses), plus the camera phrase on its own for the take's record."""
    from studio.camera import camera_prompt

    phrase = camera_prompt(tuple(request.camera)).strip()
    parts = [part.strip().rstrip(".") for part in (request.framing, request.prompt, phrase)]
    return ". ".join(part for part in parts if part), phrase
