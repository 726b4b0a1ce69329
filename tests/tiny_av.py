"""Tiny random-weight pipelines for the families issue 15 adds beside tests/tiny_pipelines.py:
LTX-2 (video with sound) and SkyReels-V2 diffusion forcing (long shots).

Built as diffusers' own fast tests build them, but with a Gemma 3 made from a config and the
in-memory word tokenizer (nothing from the hub), then ``save_pretrained``: the backends load the
folder through the same ``from_pretrained`` path real weights take. The LTX-2 vocoder upsamples by
the mel hop (10 x 16 = 160), so the sound it returns is as long as the clip, as the real one's is.
"""

from __future__ import annotations

from pathlib import Path

import torch

import tiny_pipelines as tiny


def _tiny_gemma3():
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    text = Gemma3TextConfig(vocab_size=len(tiny.tiny_tokenizer()), hidden_size=32, intermediate_size=37,
                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                            max_position_embeddings=256, sliding_window=64, pad_token_id=0)
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                                image_size=28, patch_size=14)
    torch.manual_seed(0)
    return Gemma3ForConditionalGeneration(Gemma3Config(text_config=text, vision_config=vision,
                                                       mm_tokens_per_image=4)).eval()


def build_ltx2(folder: Path) -> Path:
    """LTX2Pipeline (text, and first frame through LTX2ImageToVideoPipeline on the same weights)."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    text_encoder = _tiny_gemma3()
    torch.manual_seed(0)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2,
        audio_attention_head_dim=4, audio_cross_attention_dim=8, num_layers=2, qk_norm="rms_norm_across_heads",
        caption_channels=32, rope_double_precision=False, rope_type="split",
    )
    torch.manual_seed(0)
    connectors = LTX2TextConnectors(
        caption_channels=32, text_proj_in_factor=3, video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8, video_connector_num_layers=1, video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4, audio_connector_attention_head_dim=8, audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None, connector_rope_base_seq_len=32, rope_theta=10000.0,
        rope_double_precision=False, causal_temporal_positioning=False, rope_type="split",
    )
    vae = tiny.tiny_ltx2_vae()
    torch.manual_seed(0)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, attn_resolutions=None, in_channels=2,
        resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160, is_causal=True, mel_bins=8,
    )
    torch.manual_seed(0)
    vocoder = LTX2Vocoder(
        in_channels=16, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[20, 32], upsample_factors=[10, 16],
        resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]], leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )
    pipe = LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae,
                        text_encoder=text_encoder, tokenizer=tiny.tiny_tokenizer(), connectors=connectors,
                        transformer=transformer, vocoder=vocoder)
    pipe.save_pretrained(folder)
    return folder


def build_skyreels_df(folder: Path) -> Path:
    """SkyReelsV2DiffusionForcingPipeline (Wan architecture: the tiny Wan VAE and a UMT5)."""
    from diffusers import (
        SkyReelsV2DiffusionForcingPipeline,
        SkyReelsV2Transformer3DModel,
    )

    torch.manual_seed(0)
    transformer = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    pipe = SkyReelsV2DiffusionForcingPipeline(
        tokenizer=tiny.tiny_tokenizer(), text_encoder=tiny.tiny_t5(umt5=True), transformer=transformer,
        vae=tiny._wan_vae(), scheduler=tiny._wan_scheduler(),
    )
    pipe.save_pretrained(folder)
    return folder
