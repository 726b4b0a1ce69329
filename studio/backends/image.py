"""Still images through Diffusers: keyframes from text, from a sketch, or from reference pictures.

The image backend is the video backends' sibling: it loads through the same code
(:class:`~studio.backends.diffusers_common.DiffusersBackend`: offline weight lookup, one resident
model, derived pipelines that share its weights, memory profiles, attention backend, cache), and
reads down in the order a job runs:

1. resolve the model (image catalog key, hub id or local folder) and its weights, offline;
2. pick the task: text to image, image to image (a sketch, at a strength), or an edit with
   reference pictures (a cast member's face, a location);
3. plan the size: the board's aspect ratio, multiples the model needs, within its native pixels;
4. load the pipeline once; apply the request's LoRAs (unloading the ones no longer asked for);
5. one pipeline call per seed (so each variation can be made again alone), progress per step,
   cancel raised from the step callback, out-of-memory turned into advice;
6. fit each picture to the board's size and record what made it.

Strength 0 means "keep the sketch as drawn": no denoising step runs and the sketch itself is the
result (diffusers refuses a zero-step img2img).
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.backends.base import GenerationCancelled, GenerationError, OutOfMemory
from studio.backends.diffusers_common import (
    MAX_ASPECT,
    DiffusersBackend,
    call_pipeline,
    fit_keyframe,
    to_pil,
)
from studio.backends.loras import LoraRequest
from studio.common import Progress, shown
from studio.image_models import IMAGE_TASKS, ImageModelSpec, resolve_image_model
from studio.models import ModelError


@dataclass(frozen=True)
class ImageRequest:
    """Everything one batch of keyframe variations needs, decoded (no file paths)."""

    prompt: str
    width: int
    height: int
    seeds: tuple[int, ...]
    negative_prompt: str = ""
    model: str | None = None
    init_image: np.ndarray | None = None
    """RGB uint8: the sketch or rough for image to image."""
    strength: float = 0.6
    references: tuple[np.ndarray, ...] = ()
    """RGB uint8 reference pictures (cast, location) for an edit model."""
    loras: tuple[LoraRequest, ...] = ()
    control: str | None = None
    """Follow the sketch's lines with a ControlNet: "auto" (the catalog's scribble ControlNet for the
    model), or a ControlNet folder / hub id; None: plain image to image."""
    options: dict[str, Any] = field(default_factory=dict)
    """steps, guidance, max_sequence_length, max_area, control_scale: recorded with every picture."""


@dataclass(frozen=True)
class ImageResult:
    """One picture per seed (RGB uint8 at the request's size) and what made them."""

    images: tuple[np.ndarray, ...]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int
    adjustments: tuple[str, ...]


def plan_image_size(width: int, height: int, spec: ImageModelSpec, max_area: int | None = None) -> ImageSize:
    """The board's aspect ratio in multiples of the model's size step, within its native pixels
    (never larger than the board: the picture is kept at the board's size)."""
    aspect = width / height
    if not 1 / MAX_ASPECT <= aspect <= MAX_ASPECT:
        raise GenerationError(f"{width}x{height} is too wide or tall for {spec.key}; use a board between 1:4 and 4:1")
    budget = max_area or spec.native_area
    scale = min(1.0, math.sqrt(budget / (width * height)))
    multiple = spec.size_multiple
    gen_w = max(multiple, int(width * scale / multiple) * multiple)
    gen_h = max(multiple, int(height * scale / multiple) * multiple)
    if abs(math.log((gen_w / gen_h) / aspect)) > math.log(1.25):
        raise GenerationError(f"{width}x{height} cannot be made by {spec.key}: sizes must be multiples of {multiple}, "
                              f"and the nearest ({gen_w}x{gen_h}) changes the picture's shape; use a larger board")
    adjustments = []
    if (gen_w, gen_h) != (width, height):
        adjustments.append(f"size: generated {gen_w}x{gen_h} (multiples of {multiple}, about {spec.native_width}x"
                           f"{spec.native_height} worth of pixels for {spec.key}), fitted to the board's {width}x{height}")
    return ImageSize(gen_w, gen_h, tuple(adjustments))


def choose_image_task(request: ImageRequest, spec: ImageModelSpec) -> str:
    if request.references:
        task = "edit"
    elif request.init_image is not None:
        task = "i2i"
    else:
        task = "t2i"
    if spec.supports(task):
        return task
    if task == "edit" and spec.supports("i2i"):
        raise GenerationError(f"{spec.key} cannot use reference pictures ({IMAGE_TASKS['edit']}); pick an edit model "
                              "such as flux.1-kontext-dev or qwen-image-edit, or untag the cast and location")
    raise GenerationError(f"{spec.key} cannot do {IMAGE_TASKS[task]} (it does: "
                          f"{', '.join(IMAGE_TASKS[t] for t in spec.tasks)})")


class ImageBackend(DiffusersBackend):
    """Text-to-image, image-to-image and reference edits on one resident image model."""

    name = "image"
    family = "image"
    default_model = "sana-sprint-0.6b"

    # -- 1. model ----------------------------------------------------------------------------
    def spec(self, model: str | None) -> ImageModelSpec:  # type: ignore[override]
        try:
            return resolve_image_model(model or self.model)
        except ModelError as error:
            raise GenerationError(str(error)) from None

    def load_kwargs(self, spec: Any, source: str, load: dict[str, Any]) -> dict[str, Any]:
        return {}

    # -- the job -----------------------------------------------------------------------------
    def generate(self, request: ImageRequest, progress: Progress, cancel: threading.Event) -> ImageResult:  # type: ignore[override]
        with self._lock:
            return self._generate_images(request, progress, cancel)

    def _generate_images(self, request: ImageRequest, progress: Progress, cancel: threading.Event) -> ImageResult:
        started = time.perf_counter()
        options = dict(request.options)
        if not request.seeds:
            raise GenerationError("ask for at least one picture (one seed)")
        # 1-2. model and task
        spec = self.spec(request.model)
        task = choose_image_task(request, spec)
        steps = int(options.get("steps", spec.steps))
        guidance = float(options.get("guidance", spec.guidance))
        strength = float(request.strength)
        if steps < 1:
            raise GenerationError(f"steps must be at least 1, got {steps}")
        if task == "i2i" and not 0 <= strength <= 1:
            raise GenerationError(f"strength must be from 0 (keep the sketch) to 1 (ignore it), got {shown(strength)}")
        # 3. size (and enough steps that image to image runs at least one: diffusers runs steps x strength)
        size = plan_image_size(request.width, request.height, spec, options.get("max_area"))
        if task == "i2i" and 0 < strength <= 1 and int(steps * strength) < 1:
            needed = math.ceil(1 / strength)
            size = ImageSize(size.width, size.height, size.adjustments + (
                f"steps: {steps} at strength {strength:g} would run no denoising step; {needed} were used",))
            steps = needed
        settings = {"steps": steps, "guidance": guidance, "width": size.width, "height": size.height,
                    "device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
                    "memory_profile": self.memory_profile}
        if task == "i2i":
            settings["strength"] = strength  # with a ControlNet only 0 (keep the sketch) applies
        metadata: dict[str, Any] = {
            "backend": self.name, "model": spec.key, "model_source": spec.source, "task": task,
            "prompt": request.prompt, "negative_prompt": request.negative_prompt, "seeds": list(request.seeds),
            "settings": settings, "adjustments": list(size.adjustments), "references": len(request.references),
            "loras": [lora.record() for lora in request.loras],
        }
        control = self._controlnet_source(spec, request) if task == "i2i" else None
        if control is not None:
            settings["controlnet"] = control
            settings["control_scale"] = float(options.get("control_scale", 0.8))
        if task == "i2i" and strength == 0:
            assert request.init_image is not None
            kept = fit_keyframe(request.init_image, request.width, request.height)
            progress(1, 1, "strength 0: the sketch is kept as drawn")
            metadata |= {"pipeline": None, "model_revision": None, "elapsed_s": round(time.perf_counter() - started, 3),
                         "note": "strength 0 keeps the sketch as drawn: no denoising step ran"}
            return ImageResult(tuple(kept.copy() for _ in request.seeds), metadata)
        # 4. pipeline (+ LoRAs)
        if cancel.is_set():
            raise GenerationCancelled("cancelled before the model was loaded")
        class_name = spec.img2img if task == "i2i" else spec.pipeline
        assert class_name is not None
        import torch

        try:
            pipe = self.control_pipeline(spec, control) if control else self.pipeline(spec, class_name)
        except torch.OutOfMemoryError:
            self.unload()
            raise OutOfMemory("while loading the model: " + self._image_oom(size)) from None
        self.apply_request_loras(pipe, request, spec)  # type: ignore[arg-type]
        kwargs = self._call_kwargs(spec, task, request, size, steps, guidance, strength)
        if control:
            kwargs.pop("strength")
            kwargs["image"] = to_pil(scribble(fit_keyframe(request.init_image, size.width, size.height)))
            kwargs["controlnet_conditioning_scale"] = settings["control_scale"]
        # 5. run, one call per seed
        images = []
        total = len(request.seeds) * steps
        for index, seed in enumerate(request.seeds):
            kwargs["generator"] = torch.Generator(device="cpu").manual_seed(int(seed))
            picture = self._run_once(pipe, kwargs, progress, cancel, index * steps, total, size, index,
                                     len(request.seeds))
            # 6. fit to the board
            images.append(fit_keyframe(picture, request.width, request.height))
        availability = self._resident.availability if self._resident else None
        metadata |= {"pipeline": type(pipe).__name__,
                     "model_revision": availability.revision if availability and availability.revision else "local folder",
                     "elapsed_s": round(time.perf_counter() - started, 3)}
        return ImageResult(tuple(images), metadata)

    # -- ControlNet ---------------------------------------------------------------------------
    def _controlnet_source(self, spec: ImageModelSpec, request: ImageRequest) -> str | None:
        """Where the ControlNet for this request is, or None (plain image to image)."""
        if not request.control:
            return None
        if not spec.controlnet_pipeline:
            raise GenerationError(f"{spec.key} has no ControlNet pipeline in diffusers here; use plain image to "
                                  "image (a strength) or a model that has one, such as sdxl-turbo")
        source = spec.controlnet if request.control == "auto" else request.control
        if not source:
            raise GenerationError(f"no ControlNet is known for {spec.key}: name one (a folder or hub id)")
        return source

    def control_pipeline(self, spec: ImageModelSpec, source: str) -> Any:
        """The model's ControlNet pipeline with ``source``'s ControlNet, sharing the resident
        model's weights (the ControlNet is loaded once per source, from disk only)."""
        import diffusers

        key = f"{spec.controlnet_pipeline}:{source}"
        self.pipeline(spec, spec.pipeline)  # the base model, loaded once
        resident = self._resident
        assert resident is not None
        if key not in resident.derived:
            folder = Path(source).expanduser()
            load: dict[str, Any] = {} if folder.is_dir() else {"local_files_only": True, "cache_dir": self.cache_dir}
            try:
                controlnet = diffusers.ControlNetModel.from_pretrained(str(folder) if folder.is_dir() else source,
                                                                       dtype=self.dtype, **load)
            except (OSError, ValueError) as error:
                raise GenerationError(f"ControlNet {shown(source)} is not on this machine or not a ControlNet "
                                      f"({str(error).splitlines()[0][:200]}); download it with `hf download {source}`") from None
            controlnet.to(self.device)
            pipeline_class = getattr(diffusers, spec.controlnet_pipeline)  # type: ignore[arg-type]
            parameters = inspect.signature(pipeline_class.__init__).parameters
            shared = {name: value for name, value in resident.base.components.items() if name in parameters}
            pipe = pipeline_class(**shared, controlnet=controlnet)
            pipe.set_progress_bar_config(disable=True)
            resident.derived[key] = pipe
        return resident.derived[key]

    def _call_kwargs(self, spec: ImageModelSpec, task: str, request: ImageRequest, size: ImageSize, steps: int,
                     guidance: float, strength: float) -> dict[str, Any]:
        """The pipeline arguments: the same names across families, then each family's own."""
        kwargs: dict[str, Any] = {"prompt": request.prompt, "height": size.height, "width": size.width,
                                  "num_inference_steps": steps, "guidance_scale": guidance, "output_type": "np"}
        family = spec.arch
        if request.negative_prompt and family in ("sdxl", "sd", "zimage", "qwen_edit"):
            kwargs["negative_prompt"] = request.negative_prompt
        if "max_sequence_length" in request.options and family not in ("sdxl", "sd"):
            kwargs["max_sequence_length"] = int(request.options["max_sequence_length"])
        elif family == "flux":
            kwargs["max_sequence_length"] = 256  # FLUX.1-schnell's T5 window
        if family == "sana_sprint":
            kwargs["use_resolution_binning"] = False  # the size is planned here, at the board's aspect
        if family == "qwen_edit":
            kwargs["true_cfg_scale"] = kwargs.pop("guidance_scale")
        if task == "i2i":
            assert request.init_image is not None
            kwargs["image"] = to_pil(fit_keyframe(request.init_image, size.width, size.height))
            kwargs["strength"] = strength
        elif task == "edit":
            kwargs["image"] = to_pil(side_by_side([fit_keyframe(r, size.width, size.height)
                                                   for r in request.references]))
            if family == "flux_kontext":  # keep the planned size (Kontext would make max_area's, 1 MP)
                kwargs["_auto_resize"] = False
                kwargs["max_area"] = size.width * size.height
        return kwargs

    def _run_once(self, pipe: Any, kwargs: dict[str, Any], progress: Progress, cancel: threading.Event,
                  offset: int, total: int, size: ImageSize, index: int, count: int) -> np.ndarray:

        started = time.perf_counter()
        planned = kwargs["num_inference_steps"]

        def report(pipeline: Any, step: int) -> None:
            done = offset + min(step + 1, planned)
            progress(done, total, f"picture {index + 1}/{count}: step {step + 1}/{planned}, "
                                  f"{time.perf_counter() - started:.1f} s")

        if cancel.is_set():
            raise GenerationCancelled("cancelled; nothing was kept")
        output = call_pipeline(pipe, kwargs, report, cancel, lambda: self._image_oom(size))
        progress(offset + planned, total, f"picture {index + 1}/{count} done")
        picture = np.asarray(output.images[0], dtype=np.float32)
        return np.clip(np.rint(picture * 255.0), 0, 255).astype(np.uint8)

    def _image_oom(self, size: ImageSize) -> str:
        from studio.backends.diffusers_common import NEXT_PROFILE

        nxt = NEXT_PROFILE.get(self.memory_profile)
        where = f"{size.width}x{size.height}"
        if nxt:
            return f"out of GPU memory with memory profile {self.memory_profile!r} ({where}); try {nxt!r} or a smaller model"
        return f"out of GPU memory even with memory profile {self.memory_profile!r} ({where}); use a smaller model"


def scribble(sketch: np.ndarray) -> np.ndarray:
    """A drawn sketch as a scribble ControlNet reads it: white lines on black (dark strokes on
    light paper inverted, faint paper texture dropped)."""
    gray = sketch.astype(np.float32).mean(axis=2)
    lines = np.clip((255.0 - gray - 24.0) * 1.2, 0, 255).astype(np.uint8)
    return np.repeat(lines[..., None], 3, axis=2)


def side_by_side(pictures: list[np.ndarray]) -> np.ndarray:
    """Several reference pictures as one (a row, each squeezed to its share of the width): what a
    single-image edit model (Kontext) is given; one picture passes through unchanged."""
    if len(pictures) == 1:
        return pictures[0]
    import cv2

    height, width = pictures[0].shape[:2]
    share = max(1, width // len(pictures))
    cells = [cv2.resize(p, (share, height), interpolation=cv2.INTER_AREA) for p in pictures]
    row = np.concatenate(cells, axis=1)
    return cv2.resize(row, (width, height), interpolation=cv2.INTER_AREA)
