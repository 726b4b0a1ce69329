"""Per-model denoiser table for gpu_wan.py: every catalog family's transformer at full size, random weights.

For each model: the transformer as released (diffusers' class with the release's config, bf16,
random weights, so no download), fed inputs shaped as its pipeline feeds them at the model's native
size and frame count, and timed per denoising step (two passes with CFG, one for a CFG-distilled
model). Reported per model: parameters (checked against the published size), seconds per step,
peak GPU memory of weights + one step, seconds of compute per second of generated video
(steps x step time / clip seconds, at the catalog's default steps), and the ratio of one pass to
its FLOP floor. FLOPs are counted, not modelled: torch.utils.flop_counter.FlopCounterMode runs
one pass and counts every matmul and attention FLOP, so the floor holds for any architecture.

Text encoders and VAEs are not built (prompt embeddings are random tensors of the encoder's
width): the table is about the denoiser, which is where a video model spends its time.

``--tiny`` builds every model with a tiny config on the CPU and runs the same input builders and
counters: it checks the script itself where there is no GPU (no timing is meaningful there).
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

TEXT_TOKENS = 256


@dataclass(frozen=True)
class Bench:
    """One model: its transformer class and config, native shape, and how its pipeline calls it."""

    key: str
    cls: str
    config: dict[str, Any]
    tiny: dict[str, Any]
    published_b: float
    """Published parameter count of the denoiser, in billions (the config is checked against it)."""
    width: int
    height: int
    frames: int
    fps: int
    steps: int
    cfg: bool
    inputs: Callable[["Bench", int, int, int, bool, torch.device, torch.dtype], dict[str, Any]]
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _wan_inputs(bench: Bench, width: int, height: int, frames: int, tiny: bool, device: torch.device,
                dtype: torch.dtype) -> dict[str, Any]:
    config = bench.tiny if tiny else bench.config
    latent = (1, config.get("in_channels", 16), (frames - 1) // 4 + 1, height // 8, width // 8)
    return {"hidden_states": torch.randn(latent, device=device, dtype=dtype),
            "timestep": torch.tensor([999], device=device),
            "encoder_hidden_states": torch.randn(1, 512, config.get("text_dim", 4096), device=device, dtype=dtype)}


def _kandinsky_inputs(bench: Bench, width: int, height: int, frames: int, tiny: bool, device: torch.device,
                      dtype: torch.dtype) -> dict[str, Any]:
    config = bench.tiny if tiny else bench.config
    t, h, w = (frames - 1) // 4 + 1, height // 8, width // 8
    channels = config.get("in_visual_dim", 16)
    return {"hidden_states": torch.randn(1, t, h, w, channels, device=device, dtype=dtype),
            "encoder_hidden_states": torch.randn(1, TEXT_TOKENS, config.get("in_text_dim", 3584), device=device,
                                                 dtype=dtype),
            "pooled_projections": torch.randn(1, config.get("in_text_dim2", 768), device=device, dtype=dtype),
            "timestep": torch.tensor([999.0], device=device, dtype=dtype),
            "visual_rope_pos": [torch.arange(t, device=device), torch.arange(h // 2, device=device),
                                torch.arange(w // 2, device=device)],
            "text_rope_pos": torch.arange(TEXT_TOKENS, device=device),
            "scale_factor": (1.0, 2.0, 2.0), "sparse_params": None}


def _hunyuan_inputs(bench: Bench, width: int, height: int, frames: int, tiny: bool, device: torch.device,
                    dtype: torch.dtype) -> dict[str, Any]:
    config = bench.tiny if tiny else bench.config
    latent_channels = (config.get("in_channels", 65) - 1) // 2
    t, h, w = (frames - 1) // 4 + 1, height // 16, width // 16
    latents = torch.randn(1, latent_channels, t, h, w, device=device, dtype=dtype)
    cond = torch.zeros_like(latents)
    mask = torch.zeros(1, 1, t, h, w, device=device, dtype=dtype)
    return {"hidden_states": torch.cat([latents, cond, mask], dim=1),
            "timestep": torch.tensor([999.0], device=device, dtype=dtype),
            "encoder_hidden_states": torch.randn(1, TEXT_TOKENS, config.get("text_embed_dim", 3584), device=device,
                                                 dtype=dtype),
            "encoder_attention_mask": torch.ones(1, TEXT_TOKENS, device=device, dtype=torch.bool),
            "encoder_hidden_states_2": torch.randn(1, TEXT_TOKENS, config.get("text_embed_2_dim", 1472),
                                                   device=device, dtype=dtype),
            "encoder_attention_mask_2": torch.ones(1, TEXT_TOKENS, device=device, dtype=torch.bool),
            "image_embeds": torch.zeros(1, 729, config.get("image_embed_dim", 1152), device=device, dtype=dtype)}


def _sana_wm_inputs(bench: Bench, width: int, height: int, frames: int, tiny: bool, device: torch.device,
                    dtype: torch.dtype) -> dict[str, Any]:
    import numpy as np
    from diffusers.pipelines.sana_wm.cam_utils import prepare_camera

    from studio.backends.trajectory import path_at_model_frames, trajectory
    from studio.board import CameraMove

    config = bench.tiny if tiny else bench.config
    temporal, spatial = (2, 2) if tiny else (8, 32)
    track = trajectory(path_at_model_frames((CameraMove("dolly_in", 1.0),), frames, frames, bench.fps, 0),
                       width, height)
    camera = prepare_camera(np.asarray(track.c2w), np.asarray(track.intrinsics), target_size=(height, width),
                            vae_stride=(temporal, spatial, spatial))
    t = (frames - 1) // temporal + 1
    return {"hidden_states": torch.randn(1, config.get("in_channels", 128), t, height // spatial, width // spatial,
                                         device=device, dtype=dtype),
            "timestep": torch.full((1, 1, t), 999.0, device=device),
            "encoder_hidden_states": torch.randn(1, 1, 300, config.get("caption_channels", 2304), device=device,
                                                 dtype=dtype),
            "mask": torch.ones(1, 300, device=device, dtype=torch.long),
            "data_info": {"img_hw": torch.tensor([[height, width]], dtype=torch.float, device=device)},
            "camera_conditions": camera["raymap"].unsqueeze(0).to(device, dtype),
            "chunk_plucker": camera["chunk_plucker"].unsqueeze(0).to(device, dtype)}


WAN_1_3B = dict(num_attention_heads=12, ffn_dim=8960, num_layers=30)
WAN_14B: dict[str, Any] = {}  # WanTransformer3DModel's defaults are the 14B release
WAN_TINY = dict(num_attention_heads=2, attention_head_dim=12, ffn_dim=32, num_layers=2, text_dim=32, freq_dim=256,
                rope_max_seq_len=32)

MODELS: tuple[Bench, ...] = (
    Bench("wan2.1-t2v-1.3b", "WanTransformer3DModel", WAN_1_3B, WAN_TINY, 1.3, 832, 480, 81, 16, 50, True,
          _wan_inputs),
    Bench("wan2.1-t2v-14b", "WanTransformer3DModel", WAN_14B, WAN_TINY, 14.0, 1280, 720, 81, 16, 50, True,
          _wan_inputs),
    Bench("wan2.2-t2v-a14b", "WanTransformer3DModel", WAN_14B, WAN_TINY, 14.0, 1280, 720, 81, 16, 40, True,
          _wan_inputs, notes="one 14B expert runs per step (high noise, then low noise)"),
    Bench("skyreels-v2-df-1.3b-540p", "SkyReelsV2Transformer3DModel", WAN_1_3B, WAN_TINY, 1.3, 960, 544, 97, 24,
          30, True, _wan_inputs),
    Bench("skyreels-v2-df-14b-540p", "SkyReelsV2Transformer3DModel",
          dict(num_attention_heads=40, ffn_dim=13824, num_layers=40), WAN_TINY, 14.0, 960, 544, 97, 24, 30, True,
          _wan_inputs),
    Bench("hunyuanvideo-1.5-480p-t2v", "HunyuanVideo15Transformer3DModel", dict(task_type="t2v"),
          dict(num_attention_heads=2, attention_head_dim=16, num_layers=1, num_refiner_layers=1, text_embed_dim=16,
               text_embed_2_dim=8, image_embed_dim=12, rope_axes_dim=(4, 6, 6), in_channels=9, out_channels=4,
               task_type="t2v"),
          8.3, 848, 480, 121, 24, 50, True, _hunyuan_inputs),
    Bench("kandinsky-5-lite-t2v", "Kandinsky5Transformer3DModel",
          dict(in_visual_dim=16, out_visual_dim=16, in_text_dim=3584, in_text_dim2=768, model_dim=1792, ff_dim=7168,
               num_visual_blocks=32, axes_dims=(16, 24, 24)),
          dict(in_visual_dim=4, out_visual_dim=4, in_text_dim=16, in_text_dim2=8, time_dim=16, model_dim=32,
               ff_dim=64, num_text_blocks=1, num_visual_blocks=1, axes_dims=(4, 6, 6)),
          2.0, 768, 512, 121, 24, 50, True, _kandinsky_inputs),
    # the class defaults are the public SANA-WM_bidirectional release: "1600M" names its base DiT, and the
    # per-block camera branch (Plucker embedder, camera attention) brings the denoiser to 2.66B parameters
    Bench("sana-wm", "SanaWMTransformer3DModel", {},
          dict(in_channels=4, num_layers=2, hidden_size=32, num_attention_heads=2, linear_head_dim=16,
               softmax_every_n=2, chunk_plucker_channels=12, chunk_plucker_post_attn_blocks=2, caption_channels=16,
               image_size=32, mixed_precision="fp32"),
          2.66, 1280, 704, 161, 16, 60, True, _sana_wm_inputs),
)
"""The denoisers of the catalog's families (LTX-2 is left out: its transformer denoises video and
audio tokens together from packed inputs that only its pipeline builds; see BENCHMARKS.md)."""

TINY_SIZE = (32, 32, 9)


def build(bench: Bench, tiny: bool, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    import diffusers

    torch.manual_seed(0)
    with torch.device(device):
        model = getattr(diffusers, bench.cls)(**(bench.tiny if tiny else bench.config))
    return model.to(dtype).eval()


def count_flops(model: torch.nn.Module, inputs: dict[str, Any]) -> float:
    """FLOPs of one pass, counted by torch (matmuls and attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(**inputs, return_dict=False)
    return float(counter.get_total_flops())


def run_table(tiny: bool, peak_tflops: float, repeats: int, only: set[str] | None = None) -> list[str]:
    """The markdown table, one row per model (``tiny``: CPU self-check, times meaningless)."""
    device = torch.device("cpu" if tiny else "cuda")
    dtype = torch.float32 if tiny else torch.bfloat16
    lines = ["| model | params (B) | native | s/step | peak GiB | s per video s | TFLOP/pass | x floor |",
             "|---|---|---|---|---|---|---|---|"]
    for bench in MODELS:
        if only and bench.key not in only:
            continue
        width, height, frames = TINY_SIZE if tiny else (bench.width, bench.height, bench.frames)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        model = build(bench, tiny, device, dtype)
        params = sum(p.numel() for p in model.parameters()) / 1e9
        if not tiny and not 0.8 * bench.published_b <= params <= 1.25 * bench.published_b:
            raise SystemExit(f"{bench.key}: the config builds {params:.2f}B parameters, published {bench.published_b}B")
        inputs = bench.inputs(bench, width, height, frames, tiny, device, dtype)
        flops = count_flops(model, inputs)
        passes = 2 if bench.cfg else 1

        def step() -> None:
            with torch.inference_mode():
                for _ in range(passes):
                    out = model(**inputs, return_dict=False)[0]
            assert torch.isfinite(out.float()).all()

        step()  # warm-up
        times = []
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        step_s = statistics.median(times)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
        floor_s = passes * flops / (peak_tflops * 1e12)
        per_video_s = bench.steps * step_s / (frames / bench.fps)
        lines.append(f"| {bench.key} | {params:.2f} | {width}x{height}x{frames} | {step_s:.3f} | {peak:.1f} | "
                     f"{per_video_s:.1f} | {flops / 1e12:.1f} | {step_s / floor_s:.2f} |")
        del model, inputs
        gc.collect()
    return lines
