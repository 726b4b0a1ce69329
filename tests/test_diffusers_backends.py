"""Diffusion backends on tiny random-weight pipelines, loaded through the real from_pretrained path.

No network: every pipeline is built in memory (tests/tiny_pipelines.py), saved with
save_pretrained once per session, and loaded back by the backends exactly as real weights are.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.backends import create_backend
from studio.backends.base import GenerationCancelled, GenerationError, KeyframeImage, OutOfMemory, ShotRequest
from studio.backends.diffusers_common import plan_shape, retime
from studio.board import CameraMove, FrameRate
from studio.models import (
    CATALOG,
    ModelError,
    download_model,
    get_spec,
    list_models,
    locate,
    resolve_model,
)

import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


# ------------------------------------------------------------------------------------------------
# fixtures: tiny pipelines saved once per session


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-pipelines")


@pytest.fixture(scope="session")
def wan_t2v_dir(tiny_root: Path) -> Path:
    return tiny.build_wan_t2v(tiny_root / "wan-t2v")


@pytest.fixture(scope="session")
def wan_t2v(wan_t2v_dir: Path):
    return create_backend("wan", model=str(wan_t2v_dir))


class Recorder:
    """A progress sink that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def __call__(self, done: int, total: int, message: str) -> None:
        self.calls.append((done, total, message))


def make_request(**changes: Any) -> ShotRequest:
    request = ShotRequest(
        shot_id="s1", shot_number=1, prompt="a lighthouse keeper at night", negative_prompt="blurry",
        num_frames=12, width=32, height=32, fps=FrameRate(24), seed=7,
        camera=(CameraMove("pan_left", 0.5),), options=opts(),
    )
    return dataclasses.replace(request, **changes)


def opts(**options: Any) -> dict[str, Any]:
    """Generation options for tiny models: 2 steps, 16 text tokens (a real option: max_sequence_length)."""
    return {"steps": 2, "max_sequence_length": 16} | options


def picture(seed: int, size: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


class CallSpy:
    """Records the keyword arguments each pipeline class receives, then runs the real call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pipeline_class: type) -> None:
        self.calls: list[dict[str, Any]] = []
        original = pipeline_class.__call__

        def spy(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            return original(pipe, *args, **kwargs)

        monkeypatch.setattr(pipeline_class, "__call__", spy)


# ------------------------------------------------------------------------------------------------
# catalog and offline model discovery


def test_catalog_entries_carry_each_family_constraints() -> None:
    wan = get_spec("Wan-AI/Wan2.1-T2V-1.3B-Diffusers")
    assert (wan.key, wan.family, wan.fps, wan.size_multiple) == ("wan2.1-t2v-1.3b", "wan", 16, 16)
    assert wan.frames.nearest(32) == 33 and wan.frames.is_valid(81) and not wan.frames.is_valid(80)
    assert get_spec("ltx-video-0.9.5").frames.nearest(48) == 49
    assert get_spec("cogvideox-5b").frames.nearest(200) == 49
    assert "flf2v" in get_spec("wan2.1-flf2v-720p").tasks and "flf2v" not in get_spec("wan2.1-i2v-480p").tasks
    families = {spec.family for spec in CATALOG.values()}
    assert families == {"wan", "ltx", "cogvideox", "hunyuan", "kandinsky", "ltx2", "sana_wm", "skyreels"}


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(ModelError, match="unknown model 'wan9'.*wan2.1-t2v-1.3b"):
        resolve_model("wan9")


def test_missing_weights_say_how_to_download(tmp_path: Path) -> None:
    found = locate(get_spec("wan2.1-t2v-1.3b"), cache_dir=tmp_path)
    assert not found.ready
    assert "studio models download wan2.1-t2v-1.3b" in found.explain()
    backend = create_backend("wan", model="wan2.1-t2v-1.3b", cache_dir=str(tmp_path))
    with pytest.raises(GenerationError, match="studio models download wan2.1-t2v-1.3b"):
        backend.generate(make_request(), Recorder(), threading.Event())


@pytest.mark.slow
def test_hub_id_loads_offline_from_the_hf_cache(wan_t2v_dir: Path, tmp_path: Path) -> None:
    snapshot = tiny.install_in_hf_cache(wan_t2v_dir, "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", tmp_path)
    statuses = {a.spec.key: a for a in list_models(cache_dir=tmp_path)}
    assert statuses["wan2.1-t2v-1.3b"].ready and statuses["wan2.1-t2v-1.3b"].path == snapshot
    assert not statuses["ltx-video"].ready
    backend = create_backend("wan", model="Wan-AI/Wan2.1-T2V-1.3B-Diffusers", cache_dir=str(tmp_path))
    clip = backend.generate(make_request(), Recorder(), threading.Event())
    assert clip.metadata["model"] == "wan2.1-t2v-1.3b"
    assert clip.metadata["model_revision"] == "0" * 40


def test_interrupted_download_is_reported_incomplete(wan_t2v_dir: Path, tmp_path: Path) -> None:
    snapshot = tiny.install_in_hf_cache(wan_t2v_dir, "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", tmp_path)
    for weights in (snapshot / "transformer").glob("*.safetensors"):
        weights.unlink()
    found = locate(get_spec("wan2.1-t2v-1.3b"), cache_dir=tmp_path)
    assert not found.ready and found.missing == ("transformer/weights",)
    assert "incomplete" in found.explain()


def test_local_folder_is_recognised_from_its_model_index(wan_t2v_dir: Path) -> None:
    spec = resolve_model(str(wan_t2v_dir))
    assert spec.family == "wan" and spec.pipeline == "WanPipeline" and "t2v" in spec.tasks
    like = resolve_model("someone/finetuned-wan", like="wan2.1-t2v-14b")
    assert like.source == "someone/finetuned-wan" and like.native_width == 1280


def test_download_of_a_local_folder_is_refused(wan_t2v_dir: Path) -> None:
    with pytest.raises(ModelError, match="nothing to download"):
        download_model(str(wan_t2v_dir))


# ------------------------------------------------------------------------------------------------
# request mapping


def test_shape_snaps_and_says_so() -> None:
    spec = get_spec("wan2.1-t2v-1.3b")
    shape = plan_shape(make_request(num_frames=48, width=1920, height=1080), spec)
    assert (shape.width % 16, shape.height % 16) == (0, 0)
    assert shape.width * shape.height <= spec.native_area
    assert shape.frames == 33 and shape.fps == 16
    assert any("frames" in note for note in shape.adjustments) and any("size" in note for note in shape.adjustments)
    exact = plan_shape(make_request(num_frames=33, width=832, height=480, fps=FrameRate(16)), spec)
    assert exact.adjustments == ()


def test_impossible_sizes_and_lengths_say_what_works() -> None:
    spec = get_spec("wan2.1-t2v-1.3b")
    with pytest.raises(GenerationError, match="between 1:4 and 4:1"):
        plan_shape(make_request(width=2048, height=64), spec)
    with pytest.raises(GenerationError, match="at most 81 frames.*split"):
        plan_shape(make_request(num_frames=24 * 20), spec)


def test_retime_keeps_first_and_last_frames() -> None:
    frames = np.arange(9)[:, None, None, None] * np.ones((1, 2, 2, 3), dtype=np.uint8)
    out = retime(frames, 12)
    assert len(out) == 12 and out[0, 0, 0, 0] == 0 and out[-1, 0, 0, 0] == 8
    assert np.all(np.diff(out[:, 0, 0, 0].astype(int)) >= 0)


# ------------------------------------------------------------------------------------------------
# Wan text-to-video end to end


def test_wan_t2v_frames_size_and_metadata(wan_t2v) -> None:
    progress = Recorder()
    clip = wan_t2v.generate(make_request(num_frames=12, width=48, height=32), progress, threading.Event())
    assert clip.frames.shape == (12, 32, 48, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == FrameRate(24)
    meta = clip.metadata
    assert meta["backend"] == "wan" and meta["pipeline"] == "WanPipeline" and meta["task"] == "t2v"
    assert meta["settings"]["frames"] == 9 and meta["settings"]["steps"] == 2 and meta["seed"] == 7
    assert "pans left" in meta["prompt"] and meta["prompt"].startswith("a lighthouse keeper at night")
    assert "versions" not in meta, "library versions are the render service's record, written once"
    assert any("retimed to 12" in note for note in meta["adjustments"])
    assert meta["elapsed_s"] > 0
    assert [call[:2] for call in progress.calls] == [(1, 2), (2, 2)]
    assert "step 2/2" in progress.calls[-1][2]


@pytest.mark.slow
def test_wan_same_seed_same_frames_other_seed_differs(wan_t2v) -> None:
    first = wan_t2v.generate(make_request(), Recorder(), threading.Event()).frames
    again = wan_t2v.generate(make_request(), Recorder(), threading.Event()).frames
    other = wan_t2v.generate(make_request(seed=8), Recorder(), threading.Event()).frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_wan_vae_stays_float32_when_transformer_is_bf16(wan_t2v_dir: Path) -> None:
    backend = create_backend("wan", model=str(wan_t2v_dir), dtype="bf16")
    pipe = backend.pipeline(backend.spec(None), "WanPipeline")
    derived = backend.pipeline(backend.spec(None), "WanVideoToVideoPipeline")
    assert pipe.transformer.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32 and derived.vae is pipe.vae and derived.transformer is pipe.transformer
    assert pipe.vae.dtype == torch.float32


def test_cancel_mid_run_raises_and_backend_stays_usable(wan_t2v) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int, message: str) -> None:
        seen.append(done)
        cancel.set()

    with pytest.raises(GenerationCancelled):
        wan_t2v.generate(make_request(options=opts(steps=3)), progress, cancel)
    assert seen == [1]
    clip = wan_t2v.generate(make_request(), Recorder(), threading.Event())
    assert clip.frames.shape == (12, 32, 32, 3)


def test_out_of_memory_names_a_profile_and_next_job_runs(wan_t2v) -> None:
    def progress(done: int, total: int, message: str) -> None:
        if done == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(OutOfMemory, match="memory profile 'model_offload'"):
        wan_t2v.generate(make_request(options=opts(steps=3)), progress, threading.Event())
    assert wan_t2v.generate(make_request(), Recorder(), threading.Event()).frames.shape == (12, 32, 32, 3)


def test_out_of_memory_while_loading_the_model_is_reported_and_the_next_job_loads_again(
        wan_t2v, monkeypatch: pytest.MonkeyPatch) -> None:
    # regression: an OOM while moving the model onto the device escaped as a raw torch error
    real_pipeline = type(wan_t2v).pipeline

    def out_of_memory(self, spec, class_name):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 28.00 GiB")

    monkeypatch.setattr(type(wan_t2v), "pipeline", out_of_memory)
    with pytest.raises(OutOfMemory, match="while loading the model.*memory profile 'model_offload'"):
        wan_t2v.generate(make_request(), Recorder(), threading.Event())
    monkeypatch.setattr(type(wan_t2v), "pipeline", real_pipeline)
    assert wan_t2v.generate(make_request(), Recorder(), threading.Event()).frames.shape == (12, 32, 32, 3)


def test_bad_settings_are_refused_clearly(wan_t2v_dir: Path) -> None:
    with pytest.raises(GenerationError, match="no CUDA or MPS.*'none' or 'vae_tiling'"):
        create_backend("wan", model=str(wan_t2v_dir), memory_profile="model_offload")
    with pytest.raises(GenerationError, match="unknown memory profile 'tiny'.*group_offload"):
        create_backend("wan", model=str(wan_t2v_dir), memory_profile="tiny")
    with pytest.raises(GenerationError, match="ltx model.*'ltx' backend"):
        create_backend("wan", model="ltx-video")


def test_first_and_last_on_a_t2v_model_is_refused(wan_t2v) -> None:
    request = make_request(keyframes=(KeyframeImage("first", 0, picture(1)), KeyframeImage("last", 11, picture(2))))
    with pytest.raises(GenerationError, match="cannot do first \\+ last frame.*wan2.1-flf2v-720p"):
        wan_t2v.generate(request, Recorder(), threading.Event())


# ------------------------------------------------------------------------------------------------
# Wan image-to-video, first+last, VACE keyframes


@pytest.fixture(scope="session")
def wan_i2v(tiny_root: Path):
    return create_backend("wan", model=str(tiny.build_wan_i2v(tiny_root / "wan-i2v")))


@pytest.fixture(scope="session")
def wan_flf2v(tiny_root: Path):
    return create_backend("wan", model=str(tiny.build_wan_i2v(tiny_root / "wan-flf2v", first_last=True)))


@pytest.fixture(scope="session")
def wan_vace(tiny_root: Path):
    return create_backend("wan", model=str(tiny.build_wan_vace(tiny_root / "wan-vace")))


def test_wan_i2v_passes_the_first_keyframe(wan_i2v, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import WanImageToVideoPipeline

    spy = CallSpy(monkeypatch, WanImageToVideoPipeline)
    first = picture(1)
    clip = wan_i2v.generate(make_request(keyframes=(KeyframeImage("first", 0, first),)), Recorder(), threading.Event())
    assert clip.frames.shape == (12, 32, 32, 3) and clip.metadata["task"] == "i2v"
    image = np.asarray(spy.calls[0]["image"])
    assert image.shape == (32, 32, 3)
    assert np.abs(image.astype(int) - tiny_fit(first)).mean() < 1
    assert "last_image" not in spy.calls[0]


def tiny_fit(image: np.ndarray, size: int = 32) -> np.ndarray:
    from studio.images import fit_image

    return fit_image(image, size, size).astype(int)


def test_continuity_frame_becomes_the_first_frame(wan_i2v, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import WanImageToVideoPipeline

    spy = CallSpy(monkeypatch, WanImageToVideoPipeline)
    previous = picture(5)
    clip = wan_i2v.generate(make_request(previous_last_frame=previous), Recorder(), threading.Event())
    assert clip.metadata["continuity"] is True and clip.metadata["task"] == "i2v"
    assert np.array_equal(np.asarray(spy.calls[0]["image"]), tiny_fit(previous).astype(np.uint8))


def test_i2v_model_without_a_picture_says_what_to_give(wan_i2v) -> None:
    with pytest.raises(GenerationError, match="animates a picture: give the shot a first keyframe"):
        wan_i2v.generate(make_request(), Recorder(), threading.Event())


def test_wan_flf2v_passes_first_and_last(wan_flf2v, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import WanImageToVideoPipeline

    spy = CallSpy(monkeypatch, WanImageToVideoPipeline)
    first, last = picture(1), picture(2)
    request = make_request(keyframes=(KeyframeImage("first", 0, first), KeyframeImage("last", 11, last)))
    clip = wan_flf2v.generate(request, Recorder(), threading.Event())
    assert clip.metadata["task"] == "flf2v" and clip.frames.shape == (12, 32, 32, 3)
    assert np.array_equal(np.asarray(spy.calls[0]["last_image"]), tiny_fit(last).astype(np.uint8))
    assert np.array_equal(np.asarray(spy.calls[0]["image"]), tiny_fit(first).astype(np.uint8))


def test_mid_keyframe_on_flf2v_model_is_refused(wan_flf2v) -> None:
    request = make_request(keyframes=(KeyframeImage("first", 0, picture(1)), KeyframeImage("mid", 6, picture(3))))
    with pytest.raises(GenerationError, match="cannot do keyframes mid-shot.*wan2.1-vace-1.3b"):
        wan_flf2v.generate(request, Recorder(), threading.Event())


def test_wan_vace_places_keyframes_at_their_frames(wan_vace, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import WanVACEPipeline

    spy = CallSpy(monkeypatch, WanVACEPipeline)
    first, mid, last = picture(1), picture(3), picture(2)
    request = make_request(num_frames=16, keyframes=(
        KeyframeImage("first", 0, first), KeyframeImage("mid", 8, mid), KeyframeImage("last", 15, last)))
    clip = wan_vace.generate(request, Recorder(), threading.Event())
    assert clip.frames.shape == (16, 32, 32, 3) and clip.metadata["task"] == "keyframes"
    call = spy.calls[0]
    assert call["num_frames"] == 9 and len(call["video"]) == 9 and len(call["mask"]) == 9
    mid_frame = clip.metadata["keyframes"][1]["model_frame"]
    assert mid_frame == 4  # shot frame 8 of 16 -> round(8 * 8 / 15)
    kept = [index for index, mask in enumerate(call["mask"]) if np.asarray(mask).max() == 0]
    assert kept == [0, mid_frame, 8]
    assert np.array_equal(np.asarray(call["video"][mid_frame]), tiny_fit(mid).astype(np.uint8))
    assert np.asarray(call["video"][1]).mean() == 127


# ------------------------------------------------------------------------------------------------
# LTX-Video


@pytest.fixture(scope="session")
def ltx(tiny_root: Path):
    return create_backend("ltx", model=str(tiny.build_ltx(tiny_root / "ltx-condition")))


@pytest.fixture(scope="session")
def ltx_plain(tiny_root: Path):
    return create_backend("ltx", model=str(tiny.build_ltx(tiny_root / "ltx", condition=False)))


def test_ltx_t2v_and_i2v_on_plain_weights(ltx_plain, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import LTXImageToVideoPipeline

    clip = ltx_plain.generate(make_request(), Recorder(), threading.Event())
    assert clip.frames.shape == (12, 32, 32, 3) and clip.metadata["pipeline"] == "LTXPipeline"
    assert clip.metadata["settings"]["frames"] == 9 and clip.metadata["settings"]["fps"] == 25  # 0.5 s
    spy = CallSpy(monkeypatch, LTXImageToVideoPipeline)
    first = picture(4)
    clip = ltx_plain.generate(make_request(keyframes=(KeyframeImage("first", 0, first),)), Recorder(), threading.Event())
    assert clip.metadata["task"] == "i2v" and spy.calls[0]["frame_rate"] == 25
    assert np.array_equal(np.asarray(spy.calls[0]["image"]), tiny_fit(first).astype(np.uint8))
    with pytest.raises(GenerationError, match="cannot do first \\+ last frame.*ltx-video-0.9.5"):
        ltx_plain.generate(make_request(keyframes=(KeyframeImage("first", 0, first), KeyframeImage("last", 11, first))),
                           Recorder(), threading.Event())


def test_ltx_conditions_put_keyframes_at_their_frames(ltx, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import LTXConditionPipeline

    spy = CallSpy(monkeypatch, LTXConditionPipeline)
    first, mid, last = picture(1), picture(3), picture(2)
    request = make_request(keyframes=(
        KeyframeImage("first", 0, first), KeyframeImage("mid", 6, mid), KeyframeImage("last", 11, last)))
    progress = Recorder()
    clip = ltx.generate(request, progress, threading.Event())
    assert clip.frames.shape == (12, 32, 32, 3) and clip.metadata["task"] == "keyframes"
    conditions = spy.calls[0]["conditions"]
    assert [c.frame_index for c in conditions] == [0, 4, 8]  # shot frames 0, 6, 11 of 12 -> 9 LTX frames
    assert np.array_equal(np.asarray(conditions[1].image), tiny_fit(mid).astype(np.uint8))
    assert [c[:2] for c in progress.calls] == [(1, 2), (2, 2)]


def test_ltx_same_seed_same_frames(ltx) -> None:
    request = make_request(keyframes=(KeyframeImage("first", 0, picture(1)),))
    first = ltx.generate(request, Recorder(), threading.Event()).frames
    again = ltx.generate(request, Recorder(), threading.Event()).frames
    assert np.array_equal(first, again)


# ------------------------------------------------------------------------------------------------
# CogVideoX


@pytest.fixture(scope="session")
def cog_t2v(tiny_root: Path):
    return create_backend("cogvideox", model=str(tiny.build_cogvideox(tiny_root / "cog-t2v")))


@pytest.fixture(scope="session")
def cog_i2v(tiny_root: Path):
    return create_backend("cogvideox", model=str(tiny.build_cogvideox(tiny_root / "cog-i2v", image_to_video=True)))


@pytest.mark.slow
def test_cogvideox_t2v_retimes_8fps_to_the_board(cog_t2v) -> None:
    progress = Recorder()
    clip = cog_t2v.generate(make_request(num_frames=24), progress, threading.Event())
    assert clip.frames.shape == (24, 32, 32, 3) and clip.metadata["pipeline"] == "CogVideoXPipeline"
    assert clip.metadata["settings"]["frames"] == 9 and clip.metadata["settings"]["fps"] == 8  # 1 s
    assert [c[:2] for c in progress.calls] == [(1, 2), (2, 2)]
    again = cog_t2v.generate(make_request(num_frames=24), Recorder(), threading.Event())
    assert np.array_equal(clip.frames, again.frames)


def test_cogvideox_i2v_passes_the_first_keyframe(cog_i2v, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import CogVideoXImageToVideoPipeline

    spy = CallSpy(monkeypatch, CogVideoXImageToVideoPipeline)
    first = picture(9)
    clip = cog_i2v.generate(make_request(num_frames=24, keyframes=(KeyframeImage("first", 0, first),)),
                            Recorder(), threading.Event())
    assert clip.frames.shape == (24, 32, 32, 3) and clip.metadata["task"] == "i2v"
    assert np.array_equal(np.asarray(spy.calls[0]["image"]), tiny_fit(first).astype(np.uint8))


# ------------------------------------------------------------------------------------------------
# camera-guided mode: the animatic's render of the exact camera move is the init video


def animatic_guide(request: ShotRequest, frames: int, fps: int) -> np.ndarray:
    """What the animatic backend renders for the card's camera over its first keyframe."""
    guide = dataclasses.replace(request, num_frames=frames, fps=FrameRate(fps), options={},
                                keyframes=(KeyframeImage("first", 0, tiny_fit(request.keyframes[0].image).astype(np.uint8)),))
    return create_backend("animatic").generate(guide, Recorder(), threading.Event()).frames


def guided_request(strength: float = 0.7, num_frames: int = 12) -> ShotRequest:
    return make_request(num_frames=num_frames, camera=(CameraMove("dolly_in", 0.8),),
                        keyframes=(KeyframeImage("first", 0, picture(11)),),
                        options=opts(camera_guided=True, strength=strength))


def test_camera_guided_wan_uses_the_animatic_as_init_video(wan_t2v, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import WanVideoToVideoPipeline

    spy = CallSpy(monkeypatch, WanVideoToVideoPipeline)
    request = guided_request(strength=0.7)
    progress = Recorder()
    clip = wan_t2v.generate(request, progress, threading.Event())
    assert clip.frames.shape == (12, 32, 32, 3)
    assert clip.metadata["task"] == "v2v" and clip.metadata["settings"]["strength"] == 0.7
    call = spy.calls[0]
    assert call["strength"] == 0.7 and "num_frames" not in call
    video = np.stack([np.asarray(frame) for frame in call["video"]])
    assert np.array_equal(video, animatic_guide(request, 9, 16))
    assert not np.array_equal(video[0], video[-1])  # the dolly moves the picture
    assert progress.calls[-1][:2] == (1, 1)  # strength 0.7 of 2 steps leaves 1 denoising step


def test_camera_guided_needs_a_picture_and_a_sane_strength(wan_t2v) -> None:
    with pytest.raises(GenerationError, match="camera-guided mode.*first keyframe"):
        wan_t2v.generate(make_request(options=opts(camera_guided=True)), Recorder(), threading.Event())
    with pytest.raises(GenerationError, match="strength must be above 0 and at most 1"):
        wan_t2v.generate(guided_request(strength=1.5), Recorder(), threading.Event())


def test_camera_guided_cogvideox_video_to_video(cog_t2v, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import CogVideoXVideoToVideoPipeline

    spy = CallSpy(monkeypatch, CogVideoXVideoToVideoPipeline)
    request = guided_request(strength=0.5, num_frames=24)
    clip = cog_t2v.generate(request, Recorder(), threading.Event())
    assert clip.frames.shape == (24, 32, 32, 3) and clip.metadata["pipeline"] == "CogVideoXVideoToVideoPipeline"
    video = np.stack([np.asarray(frame) for frame in spy.calls[0]["video"]])
    assert spy.calls[0]["strength"] == 0.5
    assert np.array_equal(video, animatic_guide(request, 9, 8))


def test_camera_guided_ltx_video_condition(ltx, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import LTXConditionPipeline

    spy = CallSpy(monkeypatch, LTXConditionPipeline)
    request = guided_request(strength=0.8)
    clip = ltx.generate(request, Recorder(), threading.Event())
    assert clip.frames.shape == (12, 32, 32, 3) and clip.metadata["task"] == "v2v"
    (condition,) = spy.calls[0]["conditions"]
    assert condition.strength == 0.8 and condition.frame_index == 0 and condition.image is None
    video = np.stack([np.asarray(frame) for frame in condition.video])
    assert np.array_equal(video, animatic_guide(request, 9, 25))


# ------------------------------------------------------------------------------------------------
# CLI and the Python API (render service) on the tiny weights


def test_cli_models_list_shows_what_is_on_disk(wan_t2v_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    tiny.install_in_hf_cache(wan_t2v_dir, "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", tmp_path)
    assert main(["models", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "on disk" in rows["wan2.1-t2v-1.3b"] and "missing" in rows["ltx-video"]
    assert "run `studio models download cogvideox-5b`" in out


def test_cli_models_download_draws_progress(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub

    from studio.cli import main

    asked: dict[str, Any] = {}

    def fake_snapshot_download(repo_id: str, **kwargs: Any) -> str:
        asked.update(kwargs, repo_id=repo_id)
        bar = kwargs["tqdm_class"](total=2_000_000_000, disable=True)
        bar.update(1_000_000_000)
        bar.update(1_000_000_000)
        return str(tmp_path / "snapshot")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert main(["models", "download", "ltx-video-0.9.5", "--cache-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert asked["repo_id"] == "Lightricks/LTX-Video-0.9.5" and "model_index.json" in asked["allow_patterns"]
    assert "100.0%" in captured.err and "2.00/2.00 GB" in captured.err
    assert main(["models", "download", "wan9"]) == 1
    assert "unknown model 'wan9'" in capsys.readouterr().err


def test_render_service_makes_a_take_with_the_wan_backend(wan_t2v_dir: Path, tmp_path: Path) -> None:
    from studio.board import Board, Shot
    from studio.media import probe_stream
    from studio.services.render import render_shot
    from studio.storage import Project

    board = Board(width=32, height=32, shots=(Shot(id="s1", prompt="a ship at sea", duration=12),))
    project = Project.create(tmp_path / "film", board)
    take = render_shot(project, "s1", backend="wan", settings={"model": str(wan_t2v_dir)}, options=opts())
    info = probe_stream(project.resolve(take.path))
    assert (info.frames, info.width, info.height) == (12, 32, 32)
    assert take.backend == "wan" and project.load().shot("s1").chosen_take == take.id
    sidecar = json.loads(project.resolve(take.sidecar_path).read_text())
    assert set(sidecar["libraries"]) >= {"torch", "diffusers", "transformers", "huggingface-hub"}
    assert "versions" not in sidecar["generation"]
