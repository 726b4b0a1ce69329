"""The quantized memory profile (8-bit denoiser weights) and the VAE-decode retry on out-of-memory,
on tiny random-weight Wan pipelines loaded through from_pretrained."""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.backends import create_backend
from studio.backends.base import GenerationError, OutOfMemory, ShotRequest
from studio.board import MEMORY_PROFILES, CameraMove, FrameRate

import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")

HAS_TORCHAO = importlib.util.find_spec("torchao") is not None


@pytest.fixture(scope="module")
def wan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_wan_t2v(tmp_path_factory.mktemp("tiny") / "wan-t2v")


def request(**changes: Any) -> ShotRequest:
    base = ShotRequest(shot_id="s1", shot_number=1, prompt="a lighthouse at night", negative_prompt="",
                       num_frames=9, width=32, height=32, fps=FrameRate(16), seed=7,
                       camera=(CameraMove("static"),), options={"steps": 2, "max_sequence_length": 16})
    return dataclasses.replace(base, **changes)


def test_quantized_is_a_memory_profile_next_to_the_offload_ones() -> None:
    assert MEMORY_PROFILES.index("quantized") < MEMORY_PROFILES.index("model_offload")


@pytest.mark.skipif(not HAS_TORCHAO, reason="torchao is not installed (pip install 'previz-studio[quantize]')")
def test_quantized_profile_stores_the_denoiser_in_8_bits(wan_dir: Path) -> None:
    plain = create_backend("wan", model=str(wan_dir))
    quantized = create_backend("wan", model=str(wan_dir), memory_profile="quantized")
    clip = quantized.generate(request(), lambda *a: None, threading.Event())
    reference = plain.generate(request(), lambda *a: None, threading.Event())
    pipe = quantized._resident.base
    linears = [m for m in pipe.transformer.modules() if isinstance(m, torch.nn.Linear)]
    int8 = sum(m.weight.numel() for m in linears if "Int8" in type(m.weight).__name__)
    assert int8 > 0.7 * sum(m.weight.numel() for m in linears)  # torchao leaves layers it cannot tile as they are
    assert all(type(m.weight).__name__ == "Parameter" for m in pipe.text_encoder.modules()
               if isinstance(m, torch.nn.Linear))  # the text encoder keeps its dtype
    assert clip.frames.shape == reference.frames.shape == (9, 32, 32, 3)
    assert clip.metadata["settings"]["memory_profile"] == "quantized"
    # 8-bit weights change the numbers a little, not the picture
    assert np.abs(clip.frames.astype(int) - reference.frames.astype(int)).mean() < 20


def test_quantized_without_a_backend_says_what_to_install(wan_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(GenerationError, match="torchao.*bitsandbytes"):
        create_backend("wan", model=str(wan_dir), memory_profile="quantized")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bitsandbytes 8-bit weights need a CUDA GPU")
def test_quantized_with_bitsandbytes_on_cuda(wan_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchao" else real(name, *a))
    backend = create_backend("wan", model=str(wan_dir), memory_profile="quantized", device="cuda")
    assert backend.quantization == "bitsandbytes"
    clip = backend.generate(request(), lambda *a: None, threading.Event())
    assert clip.frames.shape == (9, 32, 32, 3)


def test_bitsandbytes_alone_on_a_cpu_is_refused_clearly(wan_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "bitsandbytes" else None)
    with pytest.raises(GenerationError, match="bitsandbytes, which needs a CUDA GPU"):
        create_backend("wan", model=str(wan_dir), memory_profile="quantized", device="cpu")


def oom_until_tiled(monkeypatch: pytest.MonkeyPatch, always: bool = False) -> list[bool]:
    """Make the Wan VAE's decode run out of memory unless tiling is on (or always); returns the
    tiling state of every decode attempt."""
    from diffusers import AutoencoderKLWan

    attempts: list[bool] = []
    original = AutoencoderKLWan._decode

    def decode(self: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(bool(self.use_tiling))
        if always or not self.use_tiling:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 12.00 GiB")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AutoencoderKLWan, "_decode", decode)
    return attempts


def test_a_vae_decode_out_of_memory_keeps_the_latents_and_decodes_tiled(wan_dir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    backend = create_backend("wan", model=str(wan_dir))
    expected = backend.generate(request(), lambda *a: None, threading.Event()).frames
    backend._resident.base.vae.disable_tiling()
    attempts = oom_until_tiled(monkeypatch)
    steps: list[int] = []
    clip = backend.generate(request(), lambda done, total, message: steps.append(done), threading.Event())
    assert attempts == [False, True]  # one failed decode, one tiled retry
    assert steps == [1, 2]  # the denoising ran once: the retry reused its latents
    assert np.array_equal(clip.frames, expected)  # the same latents decoded (frames this small are one tile)
    assert any("decoded again in tiles" in note for note in clip.metadata["adjustments"])
    assert "decode" not in vars(backend._resident.base.vae)  # the wrapper is gone after the call


def test_an_out_of_memory_in_the_tiled_decode_too_is_reported(wan_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = create_backend("wan", model=str(wan_dir))
    backend.generate(request(), lambda *a: None, threading.Event())
    backend._resident.base.vae.disable_tiling()
    attempts = oom_until_tiled(monkeypatch, always=True)
    with pytest.raises(OutOfMemory, match="out of GPU memory"):
        backend.generate(request(), lambda *a: None, threading.Event())
    assert attempts == [False, True]
    monkeypatch.undo()
    assert backend.generate(request(), lambda *a: None, threading.Event()).frames.shape == (9, 32, 32, 3)
