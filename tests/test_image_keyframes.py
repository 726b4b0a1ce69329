"""Keyframes from text, sketches and references on tiny random-weight image pipelines (SANA-Sprint,
FLUX, FLUX Kontext, SDXL), saved and loaded back through the real from_pretrained path; LoRAs."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.backends import BackendCache
from studio.backends.base import GenerationCancelled, GenerationError
from studio.backends.image import ImageBackend, ImageRequest
from studio.backends.loras import LoraRequest
from studio.board import Board, Lora, Shot
from studio.image_models import IMAGE_CATALOG, resolve_image_model
from studio.services import edits, keyframes
from studio.services.cast import cast_phrase, set_look
from studio.services.fields import FieldError
from studio.storage import Project

import tiny_image_pipelines as tiny_image
import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

OPTIONS = {"steps": 2, "max_sequence_length": 16}
W, H = 96, 64


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-image-pipelines")


@pytest.fixture(scope="session")
def sana_dir(image_root: Path) -> Path:
    return tiny_image.build_sana_sprint(image_root / "sana")


@pytest.fixture(scope="session")
def flux_dir(image_root: Path) -> Path:
    return tiny_image.build_flux(image_root / "flux")


@pytest.fixture(scope="session")
def kontext_dir(image_root: Path) -> Path:
    return tiny_image.build_flux(image_root / "kontext", kontext=True)


@pytest.fixture(scope="session")
def sdxl_dir(image_root: Path) -> Path:
    return tiny_image.build_sdxl(image_root / "sdxl")


@pytest.fixture(scope="session")
def zimage_dir(image_root: Path) -> Path:
    return tiny_image.build_zimage(image_root / "zimage")


@pytest.fixture(scope="session")
def backends() -> BackendCache:
    return BackendCache()


def request(model: Path | str, seeds: tuple[int, ...] = (7,), **changes: Any) -> ImageRequest:
    changes = {"options": dict(OPTIONS)} | changes
    return ImageRequest(prompt="a lighthouse keeper at night", width=W, height=H, seeds=seeds, model=str(model),
                        **changes)


def run(backend: ImageBackend, req: ImageRequest, cancel: threading.Event | None = None):
    return backend.generate(req, lambda done, total, message: None, cancel or threading.Event())


def picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# catalog


def test_catalog_has_the_fast_image_models_with_sizes_and_steps() -> None:
    for key in ("sana-sprint-0.6b", "sana-sprint-1.6b", "flux.1-schnell", "sdxl-turbo", "sd-turbo", "z-image-turbo"):
        spec = IMAGE_CATALOG[key]
        assert spec.is_hub and spec.native_width >= 512 and 1 <= spec.steps <= 9 and spec.vram_gb > 0
    assert IMAGE_CATALOG["flux.1-schnell"].steps == 4 and IMAGE_CATALOG["sana-sprint-0.6b"].steps <= 4
    assert resolve_image_model("Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers").key == "sana-sprint-1.6b"
    assert any(spec.supports("edit") for spec in IMAGE_CATALOG.values())


def test_models_list_shows_image_models_with_video_models(capsys: pytest.CaptureFixture) -> None:
    from studio.cli import main

    assert main(["models", "list", "--cache-dir", "/nonexistent-cache"]) == 0
    out = capsys.readouterr().out
    assert "wan2.1-t2v-1.3b" in out and "sana-sprint-0.6b" in out and "flux.1-schnell" in out
    assert "z-image-turbo" in out and "image" in out


def test_a_folder_of_another_pipeline_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    with pytest.raises(GenerationError, match="WanPipeline pipeline, not an image model"):
        ImageBackend(model=str(tmp_path))


def test_missing_weights_say_how_to_download(tmp_path: Path) -> None:
    backend = ImageBackend(model="sana-sprint-0.6b", cache_dir=tmp_path)
    with pytest.raises(GenerationError, match="studio models download sana-sprint-0.6b"):
        run(backend, request("sana-sprint-0.6b"))


# ------------------------------------------------------------------------------------------------
# text to image: seeds, variations, progress, cancel


@pytest.mark.parametrize("family", ["sana", "flux", "sdxl", "zimage"])
def test_same_seed_same_picture_and_variations_differ(family: str, request_fixture: Any) -> None:
    folder = request_fixture.getfixturevalue(f"{family}_dir")
    backend = ImageBackend(model=str(folder))
    first = run(backend, request(folder, seeds=(5, 6, 7)))
    again = run(backend, request(folder, seeds=(6,)))
    assert [image.shape for image in first.images] == [(H, W, 3)] * 3
    assert np.array_equal(first.images[1], again.images[0])  # variation 2 made again alone
    assert not np.array_equal(first.images[0], first.images[1])
    assert not np.array_equal(first.images[1], first.images[2])
    assert first.metadata["task"] == "t2i" and first.metadata["seeds"] == [5, 6, 7]
    assert first.metadata["settings"]["steps"] == 2


@pytest.fixture
def request_fixture(request: pytest.FixtureRequest) -> pytest.FixtureRequest:
    return request


def test_progress_reaches_every_step_and_cancel_stops(flux_dir: Path) -> None:
    backend = ImageBackend(model=str(flux_dir))
    calls: list[tuple[int, int]] = []
    backend.generate(request(flux_dir, seeds=(1, 2)), lambda d, t, m: calls.append((d, t)), threading.Event())
    assert calls[-1] == (4, 4) and all(total == 4 for _, total in calls)
    cancel = threading.Event()

    def stop(done: int, total: int, message: str) -> None:
        cancel.set()

    with pytest.raises(GenerationCancelled):
        backend.generate(request(flux_dir, seeds=(1, 2)), stop, cancel)


def test_hub_id_loads_offline_from_the_hf_cache(sana_dir: Path, tmp_path: Path) -> None:
    spec = IMAGE_CATALOG["sana-sprint-0.6b"]
    tiny.install_in_hf_cache(sana_dir, spec.source, tmp_path / "hub", commit="a" * 40)
    backend = ImageBackend(model="sana-sprint-0.6b", cache_dir=tmp_path / "hub")
    result = run(backend, request("sana-sprint-0.6b"))
    assert result.metadata["model"] == "sana-sprint-0.6b" and result.metadata["model_revision"] == "a" * 40
    assert result.metadata["pipeline"] == "SanaSprintPipeline"


# ------------------------------------------------------------------------------------------------
# sketch to image


def test_img2img_keeps_the_sketch_at_strength_zero_and_follows_it_above(sdxl_dir: Path) -> None:
    backend = ImageBackend(model=str(sdxl_dir))
    sketch = picture(1)
    kept = run(backend, request(sdxl_dir, init_image=sketch, strength=0.0))
    assert np.array_equal(kept.images[0], sketch)
    assert kept.metadata["task"] == "i2i" and kept.metadata["settings"]["strength"] == 0.0
    a = run(backend, request(sdxl_dir, init_image=sketch, strength=0.6))
    b = run(backend, request(sdxl_dir, init_image=picture(2), strength=0.6))
    again = run(backend, request(sdxl_dir, init_image=sketch, strength=0.6))
    assert a.metadata["pipeline"] == "StableDiffusionXLImg2ImgPipeline"
    assert np.array_equal(a.images[0], again.images[0]) and not np.array_equal(a.images[0], b.images[0])
    with pytest.raises(GenerationError, match="strength must be from 0"):
        run(backend, request(sdxl_dir, init_image=sketch, strength=1.5))
    turbo = run(backend, request(sdxl_dir, init_image=sketch, strength=0.3, options={**OPTIONS, "steps": 1}))
    assert turbo.metadata["settings"]["steps"] == 4 and "would run no denoising step" in turbo.metadata["adjustments"][-1]


def test_memory_profiles_apply_to_the_image_model(flux_dir: Path) -> None:
    tiled = ImageBackend(model=str(flux_dir), memory_profile="vae_tiling")
    result = run(tiled, request(flux_dir))
    assert result.metadata["settings"]["memory_profile"] == "vae_tiling" and tiled._resident.base.vae.use_tiling
    with pytest.raises(GenerationError, match="moves weights between the CPU and an accelerator"):
        ImageBackend(model=str(flux_dir), memory_profile="model_offload")


def test_a_controlnet_follows_the_sketch_lines(sdxl_dir: Path, flux_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import StableDiffusionXLControlNetPipeline

    from studio.backends.image import scribble

    controlnet = tiny_image.build_controlnet(sdxl_dir, tmp_path / "scribble")
    seen: list[dict[str, Any]] = []
    original = StableDiffusionXLControlNetPipeline.__call__
    monkeypatch.setattr(StableDiffusionXLControlNetPipeline, "__call__",
                        lambda pipe, **kw: (seen.append(kw), original(pipe, **kw))[1])
    backend = ImageBackend(model=str(sdxl_dir))
    paper = np.full((H, W, 3), 250, np.uint8)
    paper[20:24, 10:80] = 10  # a dark stroke
    other = np.full((H, W, 3), 250, np.uint8)
    other[10:60, 40:44] = 10
    a = run(backend, request(sdxl_dir, init_image=paper, strength=0.5, control=str(controlnet)))
    b = run(backend, request(sdxl_dir, init_image=other, strength=0.5, control=str(controlnet)))
    assert a.metadata["pipeline"] == "StableDiffusionXLControlNetPipeline"
    assert a.metadata["settings"]["controlnet"] == str(controlnet)
    lines = np.asarray(seen[0]["image"])
    assert lines[21, 40].min() > 200 and lines[40, 20].max() == 0  # white lines on black
    assert np.array_equal(lines, scribble(paper))
    assert not np.array_equal(a.images[0], b.images[0])  # the lines steer the picture
    with pytest.raises(GenerationError, match="has no ControlNet pipeline"):
        run(ImageBackend(model=str(flux_dir)), request(flux_dir, init_image=paper, strength=0.5, control="auto"))


# ------------------------------------------------------------------------------------------------
# references and LoRAs


def test_references_reach_the_edit_pipeline(kontext_dir: Path, flux_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import FluxKontextPipeline

    seen: list[dict[str, Any]] = []
    original = FluxKontextPipeline.__call__

    def spy(pipe: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return original(pipe, *args, **kwargs)

    monkeypatch.setattr(FluxKontextPipeline, "__call__", spy)
    backend = ImageBackend(model=str(kontext_dir))
    face = picture(3)
    result = run(backend, request(kontext_dir, references=(face,)))
    assert result.metadata["task"] == "edit" and result.metadata["references"] == 1
    assert np.array_equal(np.asarray(seen[0]["image"]), face)
    with pytest.raises(GenerationError, match="cannot use reference pictures"):
        run(ImageBackend(model=str(flux_dir)), request(flux_dir, references=(face,)))


def test_a_random_lora_changes_the_picture_and_a_mismatched_one_is_refused(sdxl_dir: Path, flux_dir: Path,
                                                                          tmp_path: Path) -> None:
    from diffusers import FluxPipeline, StableDiffusionXLPipeline

    sdxl_lora = tiny_image.random_lora(StableDiffusionXLPipeline.from_pretrained(sdxl_dir), tmp_path / "sdxl-lora")
    flux_lora = tiny_image.random_lora(FluxPipeline.from_pretrained(flux_dir), tmp_path / "flux-lora", scale=0.5)
    backend = ImageBackend(model=str(flux_dir))
    plain = run(backend, request(flux_dir))
    styled = run(backend, request(flux_dir, loras=(LoraRequest(str(flux_lora), 1.0),)))
    assert not np.array_equal(plain.images[0], styled.images[0])
    assert styled.metadata["loras"] == [{"source": str(flux_lora), "weight": 1.0}]
    assert np.array_equal(run(backend, request(flux_dir)).images[0], plain.images[0])  # unloaded when unused
    with pytest.raises(GenerationError, match=rf"LoRA '{sdxl_lora}' does not fit model {flux_dir}"):
        run(backend, request(flux_dir, loras=(LoraRequest(str(sdxl_lora), 1.0),)))
    assert np.array_equal(run(backend, request(flux_dir)).images[0], plain.images[0])  # nothing half-loaded


# ------------------------------------------------------------------------------------------------
# the service: variations kept like takes, picked as keyframes


@pytest.fixture
def project(tmp_path: Path) -> Project:
    board = Board(title="Keys", width=W, height=H, shots=(
        Shot("s1", prompt="a lighthouse keeper at night", shot_size="CU", seed=11, seed_locked=True),
        Shot("s2", prompt="the sea", seed=3),
    ))
    return Project.create(tmp_path / "film", board)


def test_variations_are_kept_with_sidecars_and_one_becomes_the_keyframe(project: Project, flux_dir: Path,
                                                                       backends: BackendCache) -> None:
    batch = keyframes.generate_keyframes(project, "s1", count=4, model=str(flux_dir), options=OPTIONS,
                                         backends=backends)
    assert len(batch.variations) == 4 and [v.seed for v in batch.variations] == [11, 12, 13, 14]
    pixels = [np.asarray(Image.open(project.resolve(v.path))) for v in batch.variations]
    assert all(p.shape == (H, W, 3) for p in pixels) and len({p.tobytes() for p in pixels}) == 4
    record = json.loads(project.resolve(batch.variations[2].sidecar_path).read_text())
    assert record["seed"] == 13 and record["model"] == str(flux_dir) and record["prompt"].startswith("close-up")
    assert record["generation"]["settings"]["steps"] == 2 and "diffusers" in record["libraries"]
    again = keyframes.generate_keyframes(project, "s1", count=1, model=str(flux_dir), seed=13, options=OPTIONS,
                                         backends=backends)
    assert np.array_equal(np.asarray(Image.open(project.resolve(again.variations[0].path))), pixels[2])
    listed = keyframes.list_variations(project, "s1")
    assert len(listed) == 5 and listed[0].id == again.variations[0].id
    board = keyframes.pick_variation(project, "s1", batch.variations[1].id, "first", actor="me")
    keyframe = board.shot("s1").keyframe("first")
    assert np.array_equal(np.asarray(Image.open(project.resolve(keyframe.path))), pixels[1])
    edits.undo(project, "me")
    assert project.load().shot("s1").keyframe("first") is None
    with pytest.raises(FieldError, match="no keyframe variation"):
        keyframes.pick_variation(project, "s1", "kv_nothere", "first")


def test_a_cancelled_batch_keeps_nothing(project: Project, flux_dir: Path, backends: BackendCache) -> None:
    cancel = threading.Event()
    with pytest.raises(GenerationCancelled):
        keyframes.generate_keyframes(project, "s1", count=2, model=str(flux_dir), options=OPTIONS,
                                     progress=lambda *a: cancel.set(), cancel=cancel, backends=backends)
    assert keyframes.list_variations(project, "s1") == []


def test_sketch_from_an_uploaded_rough_is_kept(project: Project, sdxl_dir: Path, backends: BackendCache) -> None:
    rough = picture(9)
    batch = keyframes.generate_keyframes(project, "s2", count=2, model=str(sdxl_dir), source="upload",
                                         rough=png(rough), strength=0.0, options=OPTIONS, backends=backends)
    record = batch.variations[0].record
    assert record["source"] == "upload" and record["strength"] == 0.0
    assert np.array_equal(np.asarray(Image.open(project.resolve(record["sketch"]))), rough)
    assert np.array_equal(np.asarray(Image.open(project.resolve(batch.variations[0].path))), rough)
    with pytest.raises(FieldError, match="no drawn panel or keyframe"):
        keyframes.generate_keyframes(project, "s1", count=1, model=str(sdxl_dir), source="panel", backends=backends)


def test_the_cast_is_woven_in_and_its_references_go_to_the_edit_model(project: Project, kontext_dir: Path,
                                                                      backends: BackendCache,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import FluxKontextPipeline

    face = picture(4)
    set_look(project, "cast", "ANNA", description="a woman in a red coat", add_reference=png(face))
    set_look(project, "location", "Lighthouse", description="a white tower on a cliff")
    edits.patch_shot(project, "s1", {"characters": "ANNA", "location": "lighthouse"})
    board = project.load()
    assert cast_phrase(board, board.shot("s1")) == "ANNA: a woman in a red coat. Lighthouse: a white tower on a cliff"
    seen: list[dict[str, Any]] = []
    original = FluxKontextPipeline.__call__
    monkeypatch.setattr(FluxKontextPipeline, "__call__", lambda pipe, **kw: (seen.append(kw), original(pipe, **kw))[1])
    batch = keyframes.generate_keyframes(project, "s1", count=1, model=str(kontext_dir), options=OPTIONS,
                                         backends=backends)
    record = batch.variations[0].record
    assert "a woman in a red coat" in record["prompt"] and "white tower" in seen[0]["prompt"]
    assert record["references"] == list(board.cast[0].references) and record["generation"]["task"] == "edit"
    assert np.array_equal(np.asarray(seen[0]["image"]), face)


def test_one_model_resident_the_image_model_unloads_before_a_video_model(flux_dir: Path, tmp_path: Path) -> None:
    cache = BackendCache()
    image = cache.get("image", model=str(flux_dir))
    run(image, request(flux_dir))
    assert image._resident is not None
    cache.get("wan", model=str(tiny.build_wan_t2v(tmp_path / "wan")))
    assert image._resident is None


def test_board_and_shot_loras_are_kept_in_board_json(project: Project) -> None:
    from studio.board_codec import board_from_dict, board_to_dict

    board = project.load()
    board = board.replace(loras=(Lora("style/ink", 0.7),), shots=(board.shots[0].replace(loras=(Lora("/m/a.safetensors"),)),
                                                                  board.shots[1]))
    assert board_from_dict(json.loads(json.dumps(board_to_dict(board)))) == board
    from studio.services.cast import shot_loras

    assert [(l.source, l.weight) for l in shot_loras(board, board.shots[0])] == [("style/ink", 0.7), ("/m/a.safetensors", 1.0)]
    with pytest.raises(ValueError, match="weight"):
        Lora("x/y", 9)


def test_takes_weave_the_cast_in_and_send_references_and_loras_to_wan_vace(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import WanVACEPipeline

    from studio.services.render import render_shot

    vace = tiny.build_wan_vace(tmp_path / "vace")
    lora = tiny_image.random_lora(WanVACEPipeline.from_pretrained(vace), tmp_path / "wan-lora", scale=0.1)
    project = Project.create(tmp_path / "film", Board(
        width=32, height=32, default_backend="wan", default_model=str(vace), loras=(Lora(str(lora), 0.8),),
        shots=(Shot("s1", prompt="a lighthouse keeper", duration=12, characters=("ANNA",), seed=5),)))
    face = picture(6)
    set_look(project, "cast", "Anna", description="a woman in a red coat", add_reference=png(face))
    seen: list[dict[str, Any]] = []
    original = WanVACEPipeline.__call__
    monkeypatch.setattr(WanVACEPipeline, "__call__", lambda pipe, **kw: (seen.append(kw), original(pipe, **kw))[1])
    take = render_shot(project, "s1", options={"steps": 2, "max_sequence_length": 16})
    assert "a woman in a red coat" in seen[0]["prompt"] and len(seen[0]["reference_images"]) == 1
    assert np.asarray(seen[0]["reference_images"][0]).shape == (32, 32, 3)
    record = json.loads(project.resolve(take.sidecar_path).read_text())
    assert record["loras"] == [{"source": str(lora), "weight": 0.8}] and record["references"] == 1
    assert record["generation"]["reference_images"] == 1 and record["generation"]["loras"] == record["loras"]
    assert record["prompt"] == "a lighthouse keeper"  # the card's words: staleness is judged on them


def test_the_cli_makes_lists_and_picks_variations(project: Project, flux_dir: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    from studio.cli import main

    assert main(["keyframe", str(project.root), "--shot", "s2", "--n", "2", "--model", str(flux_dir), "--seed", "9",
                 "--steps", "2"]) == 0
    made = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("kv_")]
    assert len(made) == 2
    assert main(["keyframe", str(project.root), "--shot", "s2", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(variation in listed for variation in made) and "seed 9" in listed and "seed 10" in listed
    assert main(["keyframe", str(project.root), "--shot", "s2", "--pick", made[1], "--role", "mid", "--frame", "5"]) == 0
    keyframe = project.load().shot("s2").keyframes[0]
    assert (keyframe.role, keyframe.frame) == ("mid", 5)
    assert main(["keyframe", str(project.root), "--shot", "s2", "--n", "0"]) == 1
    assert "ount: must be a whole number from 1 to 16" in capsys.readouterr().err
