"""The model catalog: which diffusion video models the app knows, what each can do, where its weights are.

Offline first. Listing the catalog, checking which weights are on disk and resolving a model name
never touch the network: the Hugging Face cache is read through ``try_to_load_from_cache`` and
the files on disk. Weights are fetched only by :func:`download_model`, which the user calls on
purpose (``studio models download ID``).

Nothing here imports torch or diffusers, so the CLI can list models instantly.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from studio.common import Progress, shown

TASKS: tuple[str, ...] = ("t2v", "i2v", "flf2v", "keyframes", "v2v")
"""t2v: prompt only; i2v: first frame; flf2v: first + last frame; keyframes: images at any frame
index; v2v: an init video (camera-guided mode)."""

TASK_NAMES = MappingProxyType({
    "t2v": "text to video",
    "i2v": "image to video (first frame)",
    "flf2v": "first + last frame",
    "keyframes": "keyframes mid-shot",
    "v2v": "video to video (camera-guided)",
})


class ModelError(ValueError):
    """A model name, folder or download is wrong; the message says what would work."""


@dataclass(frozen=True)
class FrameRule:
    """Valid frame counts ``multiple * k + 1`` between ``minimum`` and ``maximum``."""

    multiple: int
    minimum: int
    maximum: int

    def nearest(self, frames: float) -> int:
        """The valid count closest to ``frames`` (ties go up), clamped to the model's range."""
        k = int((frames - 1) / self.multiple + 0.5)
        return max(self.minimum, min(self.maximum, k * self.multiple + 1))

    def is_valid(self, frames: int) -> bool:
        return self.minimum <= frames <= self.maximum and (frames - 1) % self.multiple == 0

    def __str__(self) -> str:
        return f"{self.multiple}k+1, {self.minimum}..{self.maximum}"


class Catalogued:
    """What a video model (ModelSpec) and an image model (image_models.ImageModelSpec) both answer
    from their weights' source, native size and tasks."""

    source: str
    native_width: int
    native_height: int
    tasks: tuple[str, ...]

    @property
    def is_hub(self) -> bool:
        return not _looks_like_path(self.source)

    @property
    def native_area(self) -> int:
        return self.native_width * self.native_height

    def supports(self, task: str) -> bool:
        return task in self.tasks


@dataclass(frozen=True)
class ModelSpec(Catalogued):
    """One model: where its weights live and the constraints its pipeline needs."""

    key: str
    family: str
    """Backend name that runs it: "wan", "ltx", "cogvideox", "sana_wm", "hunyuan", "kandinsky", "ltx2",
    "skyreels"."""
    source: str
    """A Hugging Face hub id ("org/name") or a local folder in Diffusers format."""
    title: str
    pipeline: str
    """The Diffusers class the weights load as; other tasks derive from it with ``from_pipe``."""
    tasks: tuple[str, ...]
    native_width: int
    native_height: int
    size_multiple: int
    frames: FrameRule
    fps: int
    steps: int
    guidance: float
    download_gb: float = 0.0
    revision: str | None = None
    note: str = ""
    memory_gb: float = 0.0
    """GPU memory for every component's weights in bf16 with no offload, estimated from parameter
    counts (activations come on top; model offload needs about the largest component)."""



def _wan(key: str, source: str, title: str, pipeline: str, tasks: tuple[str, ...], size: tuple[int, int],
         gb: float, *, multiple: int = 16, fps: int = 16, max_frames: int = 81, steps: int = 50,
         guidance: float = 5.0, note: str = "") -> ModelSpec:
    return ModelSpec(key, "wan", source, title, pipeline, tasks, size[0], size[1], multiple,
                     FrameRule(4, 5, max_frames), fps, steps, guidance, gb, note=note)


def _ltx(key: str, source: str, title: str, pipeline: str, tasks: tuple[str, ...], gb: float,
         steps: int, note: str = "") -> ModelSpec:
    return ModelSpec(key, "ltx", source, title, pipeline, tasks, 704, 480, 32,
                     FrameRule(8, 9, 257), 25, steps, 3.0, gb, note=note)


def _cog(key: str, source: str, title: str, pipeline: str, tasks: tuple[str, ...], gb: float,
         guidance: float = 6.0) -> ModelSpec:
    return ModelSpec(key, "cogvideox", source, title, pipeline, tasks, 720, 480, 16,
                     FrameRule(8, 9, 49), 8, 50, guidance, gb)


def _spec(key: str, family: str, source: str, title: str, pipeline: str, tasks: tuple[str, ...],
          size: tuple[int, int], multiple: int, frames: FrameRule, fps: int, steps: int, guidance: float,
          gb: float, memory_gb: float, note: str = "") -> ModelSpec:
    return ModelSpec(key, family, source, title, pipeline, tasks, size[0], size[1], multiple, frames, fps,
                     steps, guidance, gb, note=note, memory_gb=memory_gb)


_MEMORY_GB = MappingProxyType({
    # bf16 weights: transformer + text encoder(s) + VAE, from the models' published parameter counts
    "wan2.1-t2v-1.3b": 14.0, "wan2.1-t2v-14b": 40.0, "wan2.1-i2v-480p": 41.0, "wan2.1-i2v-720p": 41.0,
    "wan2.1-flf2v-720p": 41.0, "wan2.2-ti2v-5b": 22.0, "wan2.1-vace-1.3b": 15.0, "wan2.1-vace-14b": 42.0,
    "ltx-video": 14.0, "ltx-video-0.9.5": 14.0, "cogvideox-2b": 14.0, "cogvideox-5b": 20.0,
    "cogvideox-5b-i2v": 20.0,
})

CATALOG: Mapping[str, ModelSpec] = MappingProxyType({spec.key: dataclasses.replace(
    spec, memory_gb=spec.memory_gb or _MEMORY_GB.get(spec.key, 0.0)) for spec in (
    _wan("wan2.1-t2v-1.3b", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Wan 2.1 text-to-video 1.3B",
         "WanPipeline", ("t2v", "v2v"), (832, 480), 29.0, note="about 8 GB of VRAM with model offload"),
    _wan("wan2.1-t2v-14b", "Wan-AI/Wan2.1-T2V-14B-Diffusers", "Wan 2.1 text-to-video 14B",
         "WanPipeline", ("t2v", "v2v"), (1280, 720), 78.0),
    _wan("wan2.1-i2v-480p", "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", "Wan 2.1 image-to-video 14B 480P",
         "WanImageToVideoPipeline", ("i2v",), (832, 480), 82.0),
    _wan("wan2.1-i2v-720p", "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers", "Wan 2.1 image-to-video 14B 720P",
         "WanImageToVideoPipeline", ("i2v",), (1280, 720), 82.0),
    _wan("wan2.1-flf2v-720p", "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers", "Wan 2.1 first+last frame 14B 720P",
         "WanImageToVideoPipeline", ("i2v", "flf2v"), (1280, 720), 82.0),
    _wan("wan2.2-ti2v-5b", "Wan-AI/Wan2.2-TI2V-5B-Diffusers", "Wan 2.2 text/image-to-video 5B",
         "WanPipeline", ("t2v", "i2v"), (1280, 704), 34.0, multiple=32, fps=24, max_frames=121),
    _wan("wan2.1-vace-1.3b", "Wan-AI/Wan2.1-VACE-1.3B-diffusers", "Wan 2.1 VACE 1.3B (keyframes anywhere)",
         "WanVACEPipeline", ("t2v", "i2v", "flf2v", "keyframes"), (832, 480), 30.0, steps=30),
    _wan("wan2.1-vace-14b", "Wan-AI/Wan2.1-VACE-14B-diffusers", "Wan 2.1 VACE 14B (keyframes anywhere)",
         "WanVACEPipeline", ("t2v", "i2v", "flf2v", "keyframes"), (1280, 720), 80.0, steps=30),
    _ltx("ltx-video", "Lightricks/LTX-Video", "LTX-Video 0.9 (text/image-to-video)",
         "LTXPipeline", ("t2v", "i2v"), 28.0, 50),
    _ltx("ltx-video-0.9.5", "Lightricks/LTX-Video-0.9.5", "LTX-Video 0.9.5 with conditions (keyframes, video)",
         "LTXConditionPipeline", ("t2v", "i2v", "flf2v", "keyframes", "v2v"), 28.0, 40),
    _cog("cogvideox-2b", "THUDM/CogVideoX-2b", "CogVideoX 2B text-to-video", "CogVideoXPipeline",
         ("t2v", "v2v"), 13.0),
    _cog("cogvideox-5b", "THUDM/CogVideoX-5b", "CogVideoX 5B text-to-video", "CogVideoXPipeline",
         ("t2v", "v2v"), 22.0),
    _cog("cogvideox-5b-i2v", "THUDM/CogVideoX-5b-I2V", "CogVideoX 5B image-to-video",
         "CogVideoXImageToVideoPipeline", ("i2v",), 22.0),
    # Wan 2.2 A14B: two 14B experts in one pipeline (transformer for high noise, transformer_2 below
    # the boundary timestep); only one runs at a time, both are resident without offload.
    _spec("wan2.2-t2v-a14b", "wan", "Wan-AI/Wan2.2-T2V-A14B-Diffusers", "Wan 2.2 text-to-video A14B (two experts)",
          "WanPipeline", ("t2v", "v2v"), (1280, 720), 16, FrameRule(4, 5, 81), 16, 40, 4.0, 126.0, 68.0,
          note="two 14B experts (high / low noise); model_offload keeps one on the GPU at a time"),
    _spec("wan2.2-i2v-a14b", "wan", "Wan-AI/Wan2.2-I2V-A14B-Diffusers", "Wan 2.2 image-to-video A14B (two experts)",
          "WanImageToVideoPipeline", ("i2v",), (1280, 720), 16, FrameRule(4, 5, 81), 16, 40, 3.5, 126.0, 68.0,
          note="two 14B experts (high / low noise); model_offload keeps one on the GPU at a time"),
    # HunyuanVideo 1.5 (8.3B; Qwen2.5-VL 7B + ByT5 text encoders, SigLIP image encoder for I2V)
    _spec("hunyuanvideo-1.5-480p-t2v", "hunyuan", "hunyuanvideo-community/HunyuanVideo-1.5-480p_t2v",
          "HunyuanVideo 1.5 text-to-video 480p", "HunyuanVideo15Pipeline", ("t2v",), (848, 480), 16,
          FrameRule(4, 5, 121), 24, 50, 6.0, 33.0, 34.0),
    _spec("hunyuanvideo-1.5-480p-i2v", "hunyuan", "hunyuanvideo-community/HunyuanVideo-1.5-480p_i2v",
          "HunyuanVideo 1.5 image-to-video 480p", "HunyuanVideo15ImageToVideoPipeline", ("i2v",), (848, 480), 16,
          FrameRule(4, 5, 121), 24, 50, 6.0, 34.0, 35.0),
    # Kandinsky 5.0 Video Lite (2B; Qwen2.5-VL 7B + CLIP text encoders, HunyuanVideo VAE)
    _spec("kandinsky-5-lite-t2v", "kandinsky", "kandinskylab/Kandinsky-5.0-T2V-Lite-sft-5s-Diffusers",
          "Kandinsky 5.0 Video Lite text-to-video (5 s)", "Kandinsky5T2VPipeline", ("t2v",), (768, 512), 16,
          FrameRule(4, 5, 121), 24, 50, 5.0, 25.0, 22.0),
    _spec("kandinsky-5-lite-t2v-distilled", "kandinsky",
          "kandinskylab/Kandinsky-5.0-T2V-Lite-distilled16steps-5s-Diffusers",
          "Kandinsky 5.0 Video Lite text-to-video, 16-step distilled (drafts)", "Kandinsky5T2VPipeline", ("t2v",),
          (768, 512), 16, FrameRule(4, 5, 121), 24, 16, 1.0, 25.0, 22.0),
    _spec("kandinsky-5-lite-i2v", "kandinsky", "kandinskylab/Kandinsky-5.0-I2V-Lite-5s-Diffusers",
          "Kandinsky 5.0 Video Lite image-to-video (5 s)", "Kandinsky5I2VPipeline", ("i2v",), (768, 512), 16,
          FrameRule(4, 5, 121), 24, 50, 5.0, 25.0, 22.0),
    # LTX-2 (19B audio+video transformer, Gemma 3 12B text encoder): video with sound (backend by 15b)
    _spec("ltx-2", "ltx2", "Lightricks/LTX-2", "LTX-2 video with synchronized audio", "LTX2Pipeline",
          ("t2v", "i2v"), (768, 512), 32, FrameRule(8, 9, 257), 24, 30, 3.0, 80.0, 62.0,
          note="returns audio with the frames; camera-move LoRAs (see MOVE_LORAS)"),
    _spec("ltx-2.3-distilled", "ltx2", "diffusers/LTX-2.3-Distilled-Diffusers",
          "LTX-2.3 distilled, 8 steps at CFG 1 (drafts)", "LTX2Pipeline", ("t2v", "i2v"), (768, 512), 32,
          FrameRule(8, 9, 257), 24, 8, 1.0, 80.0, 62.0, note="the draft model of ltx-2"),
    # SANA-WM (1.6B camera-controlled DiT, Gemma 2 2B text encoder, LTX-2 VAE): the card's camera path
    _spec("sana-wm", "sana_wm", "Efficient-Large-Model/SANA-WM_bidirectional-diffusers",
          "SANA-WM camera-controlled image-to-video (explicit camera path)", "SanaWMPipeline", ("i2v",),
          (1280, 704), 32, FrameRule(8, 9, 161), 16, 60, 5.0, 12.0, 12.0,
          note="follows the card's exact camera path (per-frame c2w + intrinsics); needs a first frame"),
    # SkyReels-V2 diffusion forcing (Wan architecture): long shots in overlapping windows (backend by 15b)
    _spec("skyreels-v2-df-1.3b-540p", "skyreels", "Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers",
          "SkyReels-V2 diffusion forcing 1.3B 540P (long shots)", "SkyReelsV2DiffusionForcingPipeline",
          ("t2v", "i2v"), (960, 544), 16, FrameRule(4, 5, 97), 24, 30, 6.0, 29.0, 14.0,
          note="97 frames per window; longer shots extend with overlap_history"),
    _spec("skyreels-v2-df-14b-540p", "skyreels", "Skywork/SkyReels-V2-DF-14B-540P-Diffusers",
          "SkyReels-V2 diffusion forcing 14B 540P (long shots)", "SkyReelsV2DiffusionForcingPipeline",
          ("t2v", "i2v"), (960, 544), 16, FrameRule(4, 5, 97), 24, 30, 6.0, 78.0, 40.0,
          note="97 frames per window; longer shots extend with overlap_history"),
)})
"""Every model the app knows by name. Sizes are width x height; download sizes are approximate."""

_LIKE_BY_PIPELINE = MappingProxyType({
    "WanPipeline": "wan2.1-t2v-1.3b", "WanVideoToVideoPipeline": "wan2.1-t2v-1.3b",
    "WanImageToVideoPipeline": "wan2.1-i2v-480p", "WanVACEPipeline": "wan2.1-vace-1.3b",
    "LTXPipeline": "ltx-video", "LTXImageToVideoPipeline": "ltx-video",
    "LTXConditionPipeline": "ltx-video-0.9.5",
    "CogVideoXPipeline": "cogvideox-5b", "CogVideoXVideoToVideoPipeline": "cogvideox-5b",
    "CogVideoXImageToVideoPipeline": "cogvideox-5b-i2v",
    "HunyuanVideo15Pipeline": "hunyuanvideo-1.5-480p-t2v",
    "HunyuanVideo15ImageToVideoPipeline": "hunyuanvideo-1.5-480p-i2v",
    "Kandinsky5T2VPipeline": "kandinsky-5-lite-t2v", "Kandinsky5I2VPipeline": "kandinsky-5-lite-i2v",
    "LTX2Pipeline": "ltx-2", "LTX2ImageToVideoPipeline": "ltx-2", "LTX2ConditionPipeline": "ltx-2",
    "SanaWMPipeline": "sana-wm",
    "SkyReelsV2DiffusionForcingPipeline": "skyreels-v2-df-1.3b-540p",
    "SkyReelsV2DiffusionForcingImageToVideoPipeline": "skyreels-v2-df-1.3b-540p",
})


def _looks_like_path(source: str) -> bool:
    if source.startswith(("/", ".", "~")) or os.sep in source.replace("/", "", 1):
        return True
    return _is_folder(Path(source).expanduser())


def _is_folder(path: Path) -> bool:
    """is_dir() that answers False for a name the filesystem refuses (too long), not a crash."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _read_model_index(folder: Path) -> dict[str, Any]:
    index = folder / "model_index.json"
    try:
        return json.loads(index.read_text())
    except FileNotFoundError:
        raise ModelError(f"{folder} is not a Diffusers model folder: it has no model_index.json") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ModelError(f"{index} cannot be read: {error}") from None


def custom_model(source: str, like: str, key: str | None = None, title: str | None = None) -> ModelSpec:
    """A local folder or hub id that works like catalog model ``like`` (same family, tasks, sizes)."""
    base = get_spec(like)
    return dataclasses.replace(
        base, key=key or source, source=source, revision=None, download_gb=0.0,
        title=title or f"{source} (like {base.key})", note=f"custom model, same family as {base.key}",
    )


def infer_spec(folder: Path) -> ModelSpec:
    """Describe a local Diffusers folder that is not in the catalog from its model_index.json.

    Wan's I2V class serves three models; the transformer config tells them apart (a position
    embedding for two images means first+last frame, ``expand_timesteps`` means Wan 2.2 TI2V).
    """
    index = _read_model_index(folder)
    class_name = str(index.get("_class_name", ""))
    if class_name not in _LIKE_BY_PIPELINE:
        raise ModelError(
            f"{folder} holds a {class_name or 'unknown'} pipeline; supported: {', '.join(sorted(_LIKE_BY_PIPELINE))}"
        )
    like = _LIKE_BY_PIPELINE[class_name]
    if class_name in ("WanImageToVideoPipeline", "WanPipeline"):
        transformer = _read_json(folder / "transformer" / "config.json")
        if index.get("expand_timesteps"):
            like = "wan2.2-ti2v-5b"
        elif (index.get("transformer_2") or [None])[0] is not None:  # two experts: Wan 2.2 A14B
            like = "wan2.2-i2v-a14b" if class_name == "WanImageToVideoPipeline" else "wan2.2-t2v-a14b"
        elif transformer.get("pos_embed_seq_len"):
            like = "wan2.1-flf2v-720p"
    spec = custom_model(str(folder), like)
    return dataclasses.replace(spec, pipeline=class_name) if class_name in (
        "WanImageToVideoPipeline", "WanVACEPipeline", "LTXConditionPipeline") else spec


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def get_spec(name: str) -> ModelSpec:
    """A catalog model by key or hub id (case-insensitive); unknown names list the known ones."""
    if name in CATALOG:
        return CATALOG[name]
    lowered = name.lower()
    for spec in CATALOG.values():
        if lowered in (spec.key.lower(), spec.source.lower()):
            return spec
    raise ModelError(
        f"unknown model {shown(name)}; known models: {', '.join(CATALOG)}. "
        "A local Diffusers folder also works, and any other hub id with like=<one of these>."
    )


def resolve_model(name: str, like: str | None = None) -> ModelSpec:
    """Turn what a user typed (catalog key, hub id, local folder) into a spec, offline."""
    if not name or not isinstance(name, str):
        raise ModelError(f"a model name is needed, got {shown(name)}; known models: {', '.join(CATALOG)}")
    if like is None:
        try:
            return get_spec(name)
        except ModelError:
            pass
    folder = Path(name).expanduser()
    if _looks_like_path(name):
        if not _is_folder(folder):
            raise ModelError(f"model folder {shown(name)} does not exist")
        return custom_model(str(folder), like) if like else infer_spec(folder)
    if like is not None:
        return custom_model(name, like)
    return get_spec(name)


# ------------------------------------------------------------------------------------------------
# What is on disk


@dataclass(frozen=True)
class Availability:
    """Where a model's weights are on this machine, or what is missing."""

    spec: ModelSpec
    path: Path | None
    """The folder to load from (a Hugging Face cache snapshot or a local folder)."""
    revision: str | None
    """The cache snapshot's commit hash, or None for a plain folder."""
    missing: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.path is not None and not self.missing

    @property
    def in_hf_cache(self) -> bool:
        return self.revision is not None

    def explain(self) -> str:
        """One plain sentence for the user: ready, partial or missing, and what to do."""
        if self.ready:
            return f"{self.spec.key}: on disk at {self.path}"
        fetch = (f"run `studio models download {self.spec.key}` (about {self.spec.download_gb:g} GB)"
                 if self.spec.is_hub else "copy the whole Diffusers folder there")
        if self.path is None:
            return f"{self.spec.key}: weights not on disk ({self.spec.source}); {fetch}"
        return f"{self.spec.key}: incomplete at {self.path} (missing {', '.join(self.missing)}); {fetch}"


def missing_files(folder: Path) -> tuple[str, ...]:
    """Components of a Diffusers folder that are absent or lack their weights (interrupted download)."""
    if not (folder / "model_index.json").is_file():
        return ("model_index.json",)
    index = _read_model_index(folder)
    missing: list[str] = []
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        part = folder / name
        if not part.is_dir() or not any(p.exists() for p in part.iterdir()):
            missing.append(name)
            continue
        if (part / "config.json").exists() and value[1] not in ("CLIPImageProcessor",):
            missing.extend(f"{name}/{shard}" for shard in _missing_weights(part))
    return tuple(missing)


def _missing_weights(part: Path) -> list[str]:
    for index_file in sorted(part.glob("*.index.json")):
        shards = set(_read_json(index_file).get("weight_map", {}).values())
        return sorted(s for s in shards if not (part / s).exists())
    weights = [p for p in part.iterdir() if p.suffix in (".safetensors", ".bin") and p.exists()]
    return [] if weights else ["weights"]


def locate(spec: ModelSpec, cache_dir: Path | str | None = None, models_dir: Path | str | None = None) -> Availability:
    """Find a model's weights without the network: its own folder, a models folder, or the HF cache."""
    if not spec.is_hub:
        folder = Path(spec.source).expanduser()
        return Availability(spec, folder if folder.is_dir() else None, None,
                            missing_files(folder) if folder.is_dir() else ())
    if models_dir is not None:
        org, _, name = spec.source.partition("/")
        for candidate in (Path(models_dir) / name, Path(models_dir) / org / name):
            if (candidate / "model_index.json").is_file():
                return Availability(spec, candidate, None, missing_files(candidate))
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(spec.source, "model_index.json", cache_dir=cache_dir, revision=spec.revision)
    if not isinstance(found, str):
        return Availability(spec, None, None)
    snapshot = Path(found).parent
    return Availability(spec, snapshot, snapshot.name, missing_files(snapshot))


def list_models(cache_dir: Path | str | None = None, models_dir: Path | str | None = None) -> list[Availability]:
    """Every catalog model with where (or whether) it is on disk."""
    return [locate(spec, cache_dir, models_dir) for spec in CATALOG.values()]


# ------------------------------------------------------------------------------------------------
# Downloading (only on request)

DOWNLOAD_PATTERNS: tuple[str, ...] = ("model_index.json", "*/*")
"""Diffusers-format files only: some repos (LTX-Video) also hold original checkpoints at the root."""


def download_model(name: str, progress: Progress | None = None,
                   cache_dir: Path | str | None = None) -> Path:
    """Fetch a catalog (or hub) model into the Hugging Face cache; returns the snapshot folder.

    This is the one function in the app that goes to the network, and only when the user asks.
    """
    spec = resolve_model(name)
    if not spec.is_hub:
        raise ModelError(f"{name} is a local folder; there is nothing to download")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            spec.source, revision=spec.revision, cache_dir=cache_dir,
            allow_patterns=list(DOWNLOAD_PATTERNS), tqdm_class=_progress_tqdm(progress, spec.key),
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as error:
        raise ModelError(f"could not download {spec.source}: {error}. Check the network and try again; "
                         "a partial download resumes where it stopped.") from None
    return Path(folder)


def _progress_tqdm(progress: Progress | None, label: str) -> Any:
    """A tqdm class that forwards byte counts to ``progress`` (None keeps hub's own bars)."""
    if progress is None:
        return None
    from tqdm.auto import tqdm

    class _Forwarding(tqdm):  # type: ignore[misc, valid-type]
        """Counts bytes itself: a disabled tqdm (HF_HUB_DISABLE_PROGRESS_BARS) does not."""

        def update(self, n: float | None = 1) -> bool | None:
            self.forwarded = getattr(self, "forwarded", 0) + (n or 0)
            progress(int(self.forwarded), int(self.total or 0), f"downloading {label}")
            return super().update(n)

    return _Forwarding
