"""Wan 2.1 T2V 1.3B at full size on a CUDA GPU, with random weights (no download needed).

Measures, at 832x480 x 81 frames (latents 16 x 21 x 60 x 104 = 32,760 tokens), in bf16:
  1. seconds per denoising step with CFG (two transformer passes, as WanPipeline runs them) and
     without (one pass), for plain SDPA, FirstBlockCache and regional compilation, against the FLOP
     floor computed from the architecture (about 283 TFLOP per pass) at a stated peak rate;
  2. VAE decode time of the 21 latent frames (float32, as the app keeps the Wan VAE);
  3. peak GPU memory of one 2-step denoise + decode per memory profile (none, vae_tiling,
     model_offload, group_offload); prompt embeddings are passed in, so the 5.7B UMT5 text encoder
     is not built (it adds ~11 GB in bf16 with profile none).

  4. a per-model table (benchmarks/gpu_models.py): the denoiser of every catalog family at full size
     with random weights (Wan 2.1 1.3B / 14B, Wan 2.2 A14B expert, SkyReels-V2 DF 1.3B / 14B,
     HunyuanVideo 1.5, Kandinsky 5 Lite, SANA-WM): parameters, s/step, peak memory, seconds per
     generated second of video, and the ratio to a FLOP floor counted by torch's FlopCounterMode.

It checks itself: output shapes, the analytic FLOP count (283 +- 2 TFLOP), that no measured
pass is faster than the FLOP floor at the card's peak (which would mean a broken timer), and that
each per-model config builds the published parameter count.

    python benchmarks/gpu_wan.py [--peak-tflops 800] [--steps 5] [--models all|KEY,KEY] [--out FILE]
    python benchmarks/gpu_wan.py --tiny    # no GPU: run the per-model code on tiny configs (a self-check)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import sys
import time
from pathlib import Path

WIDTH, HEIGHT, FRAMES = 832, 480, 81
TEXT_TOKENS, TEXT_DIM = 512, 4096
WAN_1_3B = dict(
    patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
    text_dim=TEXT_DIM, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
    qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024,
)


def latent_shape() -> tuple[int, int, int, int, int]:
    return (1, 16, (FRAMES - 1) // 4 + 1, HEIGHT // 8, WIDTH // 8)


def forward_tflop() -> float:
    """Matmul FLOPs of one transformer pass (2 per multiply-add), from the architecture."""
    _, _, t, h, w = latent_shape()
    tokens = t * (h // 2) * (w // 2)
    d = WAN_1_3B["num_attention_heads"] * WAN_1_3B["attention_head_dim"]
    ffn = WAN_1_3B["ffn_dim"]
    self_attn = 2 * tokens * d * d * 4 + 2 * 2 * tokens * tokens * d
    cross_attn = 2 * tokens * d * d * 2 + 2 * TEXT_TOKENS * d * d * 2 + 2 * 2 * tokens * TEXT_TOKENS * d
    mlp = 2 * tokens * d * ffn * 2
    return WAN_1_3B["num_layers"] * (self_attn + cross_attn + mlp) / 1e12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peak-tflops", type=float, default=800.0, help="dense bf16 rate the floor assumes")
    parser.add_argument("--steps", type=int, default=5, help="timed passes per variant (after warm-up)")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    parser.add_argument("--models", default="all", help="per-model table: all, none, or catalog keys (comma-separated)")
    parser.add_argument("--tiny", action="store_true",
                        help="CPU self-check: the per-model table on tiny configs (times mean nothing)")
    args = parser.parse_args()

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gpu_models import MODELS, run_table

    only = None if args.models in ("all", "none") else set(args.models.split(","))
    unknown = (only or set()) - {bench.key for bench in MODELS}
    if unknown:
        raise SystemExit(f"unknown --models {', '.join(sorted(unknown))}; known: {', '.join(b.key for b in MODELS)}")
    if args.tiny:
        print("\n".join(["tiny configs on the CPU: a check of the script, not a measurement", "",
                         *run_table(True, args.peak_tflops, 1, only)]))
        return 0
    if not torch.cuda.is_available():
        print("gpu_wan.py needs a CUDA GPU (it times a 1.3B-parameter transformer at 832x480x81); "
              "this machine has none. Nothing was measured.", file=sys.stderr)
        return 2
    from diffusers import AutoencoderKLWan, FirstBlockCacheConfig, WanPipeline, WanTransformer3DModel

    tflop = forward_tflop()
    assert 281 <= tflop <= 285, f"FLOP model is off: {tflop:.1f} TFLOP per pass (expected ~283)"
    floor_s = tflop / args.peak_tflops
    device = torch.device("cuda")
    lines = [f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, date {dt.date.today()}",
             f"FLOP floor: {tflop:.1f} TFLOP per pass = {floor_s:.3f} s at {args.peak_tflops:g} TFLOP/s", ""]

    def timed(fn, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            torch.cuda.synchronize()
            started = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    # 1. step time per attention/caching variant
    torch.manual_seed(0)
    with torch.device(device):
        latents = torch.randn(latent_shape(), dtype=torch.bfloat16)
        text = torch.randn(1, TEXT_TOKENS, TEXT_DIM, dtype=torch.bfloat16)
        uncond = torch.randn(1, TEXT_TOKENS, TEXT_DIM, dtype=torch.bfloat16)
    lines += ["| variant | s/step no CFG | s/step CFG | floor (no CFG) | x floor |", "|---|---|---|---|---|"]
    for variant in ("sdpa", "first_block_cache", "regional_compile"):
        with torch.device(device):
            transformer = WanTransformer3DModel(**WAN_1_3B).to(torch.bfloat16).eval()
        if variant == "first_block_cache":
            transformer.enable_cache(FirstBlockCacheConfig(threshold=0.05))
        if variant == "regional_compile":
            transformer.compile_repeated_blocks(fullgraph=True)
        timestep = [torch.tensor([999.0], device=device)]

        def one(embeds: torch.Tensor) -> torch.Tensor:
            timestep[0] -= 20  # a new timestep each pass, as in a real denoising loop
            with torch.inference_mode():
                out = transformer(hidden_states=latents, timestep=timestep[0], encoder_hidden_states=embeds,
                                  return_dict=False)[0]
            assert out.shape == latents.shape
            return out

        def step_no_cfg() -> None:
            if variant == "first_block_cache":
                with transformer.cache_context("cond"):
                    one(text)
            else:
                one(text)

        def step_cfg() -> None:
            if variant == "first_block_cache":
                with transformer.cache_context("cond"):
                    one(text)
                with transformer.cache_context("uncond"):
                    one(uncond)
            else:
                one(text)
                one(uncond)

        for _ in range(2):
            step_cfg()  # warm-up (and compilation)
        no_cfg = timed(step_no_cfg, args.steps)
        cfg = timed(step_cfg, args.steps)
        if variant == "sdpa" and no_cfg < floor_s * 0.9:
            raise SystemExit(f"measured {no_cfg:.3f} s below the FLOP floor {floor_s:.3f} s: check --peak-tflops or the timer")
        lines.append(f"| {variant} | {no_cfg:.3f} | {cfg:.3f} | {floor_s:.3f} | {no_cfg / floor_s:.2f} |")
        del transformer
        gc.collect()
        torch.cuda.empty_cache()

    # 2. VAE decode (float32, the app's setting)
    with torch.device(device):
        vae = AutoencoderKLWan().to(torch.float32).eval()
    z = latents.float()
    with torch.inference_mode():
        decode_s = timed(lambda: vae.decode(z, return_dict=False)[0], 2)
        frames = vae.decode(z, return_dict=False)[0]
    assert frames.shape == (1, 3, FRAMES, HEIGHT, WIDTH), frames.shape
    lines += ["", f"VAE decode, 21 latent frames -> {FRAMES} x {WIDTH}x{HEIGHT}, float32: {decode_s:.2f} s", ""]
    del vae, frames
    gc.collect()
    torch.cuda.empty_cache()

    # 3. peak memory per memory profile (2 steps + decode, prompt embeddings given)
    from diffusers import UniPCMultistepScheduler

    lines += ["| memory profile | peak GPU memory (GiB) | wall s (2 steps + decode) |", "|---|---|---|"]
    for profile in ("none", "vae_tiling", "model_offload", "group_offload"):
        transformer = WanTransformer3DModel(**WAN_1_3B).to(torch.bfloat16).eval()
        vae = AutoencoderKLWan().to(torch.float32).eval()
        pipe = WanPipeline(tokenizer=None, text_encoder=None, vae=vae, transformer=transformer,
                           scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction",
                                                             use_flow_sigmas=True, flow_shift=3.0))
        if profile == "model_offload":
            pipe.enable_model_cpu_offload(device=device)
        elif profile == "group_offload":
            pipe.enable_group_offload(onload_device=device, offload_type="leaf_level", use_stream=True)
        else:
            pipe.to(device)
        if profile != "none":
            pipe.vae.enable_tiling()
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        video = pipe(prompt_embeds=text, negative_prompt_embeds=uncond, height=HEIGHT, width=WIDTH,
                     num_frames=FRAMES, num_inference_steps=2, output_type="np").frames
        wall = time.perf_counter() - started
        assert video.shape == (1, FRAMES, HEIGHT, WIDTH, 3), video.shape
        lines.append(f"| {profile} | {torch.cuda.max_memory_allocated() / 2**30:.1f} | {wall:.1f} |")
        del pipe, transformer, vae, video
        gc.collect()
        torch.cuda.empty_cache()

    # 4. the per-model denoiser table
    if args.models != "none":
        lines += ["", f"Per model, denoiser only, bf16, random weights, native size, CFG = 2 passes per step; "
                      f"floor at {args.peak_tflops:g} TFLOP/s from counted FLOPs:", "",
                  *run_table(False, args.peak_tflops, args.steps, only)]

    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
