"""The image model catalog: fast text-to-image models for keyframes, and image-editing models that
put a cast's reference pictures into a keyframe.

Offline first, like the video catalog (studio.models): resolving a name and finding weights read
only the disk and the Hugging Face cache; :func:`download_image_model` is the one network call,
made when the user asks (``studio models download sana-sprint-0.6b``). No torch import here.

Memory figures are approximate peaks for one 1024 px image in bf16 (fp16 for the SD family) with
memory profile ``none``; ``model_offload`` roughly halves them at some cost in speed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from studio.common import Progress, shown
from studio.models import DOWNLOAD_PATTERNS, Catalogued, ModelError, _looks_like_path, _progress_tqdm

IMAGE_TASKS = MappingProxyType({
    "t2i": "text to image",
    "i2i": "image to image (a sketch or rough, with a strength)",
    "edit": "edit with reference images (the same character or place in a new picture)",
})


@dataclass(frozen=True)
class ImageModelSpec(Catalogued):
    """One image model: where its weights live and what its pipelines need."""

    key: str
    arch: str
    """"sana_sprint", "flux", "sdxl", "sd", "zimage", "flux_kontext" or "qwen_edit": how its
    pipeline is called."""
    source: str
    title: str
    pipeline: str
    """The Diffusers class the weights load as."""
    img2img: str | None
    """The Diffusers class that runs image-to-image on the same weights (None: none in diffusers)."""
    tasks: tuple[str, ...]
    native_width: int
    native_height: int
    size_multiple: int
    steps: int
    guidance: float
    download_gb: float
    vram_gb: float
    """About how much accelerator memory one image takes with memory profile "none"."""
    controlnet: str | None = None
    """A scribble / lineart ControlNet for this model on the hub, loaded for sketches when present."""
    controlnet_pipeline: str | None = None
    revision: str | None = None
    note: str = ""

    @property
    def family(self) -> str:
        """The backend that runs it (the model listing's column)."""
        return "image"

    @property
    def memory_gb(self) -> float:  # the video listing's columns
        return self.vram_gb

    @property
    def fps(self) -> str:
        return "-"

    @property
    def frames(self) -> str:
        return "still"


IMAGE_CATALOG: Mapping[str, ImageModelSpec] = MappingProxyType({spec.key: spec for spec in (
    ImageModelSpec("sana-sprint-0.6b", "sana_sprint", "Efficient-Large-Model/Sana_Sprint_0.6B_1024px_diffusers",
                   "SANA-Sprint 0.6B (1-4 steps)", "SanaSprintPipeline", "SanaSprintImg2ImgPipeline",
                   ("t2i", "i2i"), 1024, 1024, 32, 2, 4.5, 10.0, 9.0,
                   note="Gemma-2 2B text encoder; the fastest here"),
    ImageModelSpec("sana-sprint-1.6b", "sana_sprint", "Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers",
                   "SANA-Sprint 1.6B (1-4 steps)", "SanaSprintPipeline", "SanaSprintImg2ImgPipeline",
                   ("t2i", "i2i"), 1024, 1024, 32, 2, 4.5, 13.0, 12.0),
    ImageModelSpec("flux.1-schnell", "flux", "black-forest-labs/FLUX.1-schnell", "FLUX.1 [schnell] (4 steps)",
                   "FluxPipeline", "FluxImg2ImgPipeline", ("t2i", "i2i"), 1024, 1024, 16, 4, 0.0, 34.0, 33.0,
                   note="12B transformer + T5-XXL; model_offload fits 24 GB"),
    ImageModelSpec("sdxl-turbo", "sdxl", "stabilityai/sdxl-turbo", "SDXL-Turbo (1-4 steps)",
                   "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", ("t2i", "i2i"),
                   512, 512, 8, 1, 0.0, 14.0, 8.0,
                   controlnet="xinsir/controlnet-scribble-sdxl-1.0",
                   controlnet_pipeline="StableDiffusionXLControlNetPipeline"),
    ImageModelSpec("sd-turbo", "sd", "stabilityai/sd-turbo", "SD-Turbo (1-4 steps)", "StableDiffusionPipeline",
                   "StableDiffusionImg2ImgPipeline", ("t2i", "i2i"), 512, 512, 8, 1, 0.0, 5.0, 4.0),
    ImageModelSpec("z-image-turbo", "zimage", "Tongyi-MAI/Z-Image-Turbo", "Z-Image-Turbo 6B (8 steps)",
                   "ZImagePipeline", "ZImageImg2ImgPipeline", ("t2i", "i2i"), 1024, 1024, 16, 9, 0.0, 33.0, 20.0,
                   note="Qwen3 4B text encoder; 9 scheduler steps are 8 model passes"),
    ImageModelSpec("flux.1-kontext-dev", "flux_kontext", "black-forest-labs/FLUX.1-Kontext-dev",
                   "FLUX.1 Kontext [dev] (reference edits)", "FluxKontextPipeline", None, ("edit",),
                   1024, 1024, 16, 28, 2.5, 34.0, 33.0,
                   note="keeps a character or place from the reference pictures; several are laid side by side"),
    ImageModelSpec("qwen-image-edit", "qwen_edit", "Qwen/Qwen-Image-Edit", "Qwen-Image-Edit 20B (reference edits)",
                   "QwenImageEditPipeline", None, ("edit",), 1024, 1024, 16, 50, 4.0, 58.0, 60.0,
                   note="true CFG (guidance is true_cfg_scale); group_offload for under 48 GB"),
)})
"""Every image model the app knows by name. Sizes are width x height."""

DEFAULT_IMAGE_MODEL = "sana-sprint-0.6b"
DEFAULT_EDIT_MODEL = "flux.1-kontext-dev"

_LIKE_BY_PIPELINE = MappingProxyType({
    "SanaSprintPipeline": "sana-sprint-0.6b", "SanaSprintImg2ImgPipeline": "sana-sprint-0.6b",
    "FluxPipeline": "flux.1-schnell", "FluxImg2ImgPipeline": "flux.1-schnell",
    "StableDiffusionXLPipeline": "sdxl-turbo", "StableDiffusionXLImg2ImgPipeline": "sdxl-turbo",
    "StableDiffusionPipeline": "sd-turbo", "StableDiffusionImg2ImgPipeline": "sd-turbo",
    "ZImagePipeline": "z-image-turbo", "ZImageImg2ImgPipeline": "z-image-turbo",
    "FluxKontextPipeline": "flux.1-kontext-dev", "QwenImageEditPipeline": "qwen-image-edit",
})


def get_image_spec(name: str) -> ImageModelSpec:
    """A catalog image model by key or hub id (case-insensitive); unknown names list the known ones."""
    lowered = name.lower()
    for spec in IMAGE_CATALOG.values():
        if lowered in (spec.key.lower(), spec.source.lower()):
            return spec
    raise ModelError(f"unknown image model {shown(name)}; known image models: {', '.join(IMAGE_CATALOG)}. "
                     "A local Diffusers folder of one of these pipelines also works.")


def is_image_model(name: str) -> bool:
    """Whether ``name`` is an image catalog key or hub id (a folder is told by its model_index)."""
    try:
        get_image_spec(name)
    except ModelError:
        return False
    return True


def resolve_image_model(name: str | None) -> ImageModelSpec:
    """Catalog key, hub id or local Diffusers folder -> spec, offline (None: the default model)."""
    name = name or DEFAULT_IMAGE_MODEL
    if not isinstance(name, str):
        raise ModelError(f"an image model name is needed, got {shown(name)}")
    if not _looks_like_path(name):
        return get_image_spec(name)
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise ModelError(f"image model folder {shown(name)} does not exist")
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except FileNotFoundError:
        raise ModelError(f"{folder} is not a Diffusers model folder: it has no model_index.json") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ModelError(f"{folder}/model_index.json cannot be read: {error}") from None
    class_name = str(index.get("_class_name", ""))
    if class_name not in _LIKE_BY_PIPELINE:
        raise ModelError(f"{folder} holds a {class_name or 'unknown'} pipeline, not an image model; supported: "
                         f"{', '.join(sorted(_LIKE_BY_PIPELINE))}")
    like = IMAGE_CATALOG[_LIKE_BY_PIPELINE[class_name]]
    return dataclasses.replace(like, key=str(folder), source=str(folder), title=f"{folder.name} (like {like.key})",
                               download_gb=0.0, revision=None, controlnet=None, note=f"local folder like {like.key}")


def download_image_model(name: str, progress: Progress | None = None, cache_dir: Path | str | None = None) -> Path:
    """Fetch an image catalog model into the Hugging Face cache (only on the user's request)."""
    spec = get_image_spec(name)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(spec.source, revision=spec.revision, cache_dir=cache_dir,
                                   allow_patterns=list(DOWNLOAD_PATTERNS), tqdm_class=_progress_tqdm(progress, spec.key))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as error:
        raise ModelError(f"could not download {spec.source}: {error}. Check the network and try again; "
                         "a partial download resumes where it stopped.") from None
    return Path(folder)


def image_model_rows() -> list[dict[str, Any]]:
    """The catalog as plain rows (for the UI's model picker and the API)."""
    return [{"key": s.key, "source": s.source, "title": s.title, "tasks": list(s.tasks),
             "size": f"{s.native_width}x{s.native_height}", "steps": s.steps, "vram_gb": s.vram_gb,
             "download_gb": s.download_gb} for s in IMAGE_CATALOG.values()]
