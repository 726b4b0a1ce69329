"""Tiny random-weight image pipelines (SANA-Sprint, FLUX, FLUX Kontext, SDXL, Z-Image, a scribble
ControlNet), built without the hub.

Components are made as diffusers' own fast tests make them (a few thousand parameters), with a
tokenizer built in memory, then ``save_pretrained``; the image backend loads the folder back
through the same ``from_pretrained`` path real weights take.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tiny_pipelines import tiny_t5, tiny_tokenizer


def _clip_tokenizer():
    """The word-level tokenizer with CLIP's 77-token window."""
    tokenizer = tiny_tokenizer()
    tokenizer.model_max_length = 77
    return tokenizer


def _clip_config(**extra):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(bos_token_id=0, eos_token_id=1, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05,
                          num_attention_heads=4, num_hidden_layers=2, pad_token_id=0,
                          vocab_size=len(tiny_tokenizer()), hidden_act="gelu", projection_dim=32, **extra)


def build_sana_sprint(folder: Path) -> Path:
    from diffusers import AutoencoderDC, SanaSprintPipeline, SanaTransformer2DModel, SCMScheduler
    from transformers import Gemma2Config, Gemma2Model

    torch.manual_seed(0)
    transformer = SanaTransformer2DModel(
        patch_size=1, in_channels=4, out_channels=4, num_layers=1, num_attention_heads=2, attention_head_dim=4,
        num_cross_attention_heads=2, cross_attention_head_dim=4, cross_attention_dim=8, caption_channels=8,
        sample_size=32, qk_norm="rms_norm_across_heads", guidance_embeds=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderDC(
        in_channels=3, latent_channels=4, attention_head_dim=2,
        encoder_block_types=("ResBlock", "EfficientViTBlock"), decoder_block_types=("ResBlock", "EfficientViTBlock"),
        encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
        encoder_qkv_multiscales=((), (5,)), decoder_qkv_multiscales=((), (5,)),
        encoder_layers_per_block=(1, 1), decoder_layers_per_block=[1, 1], downsample_block_type="conv",
        upsample_block_type="interpolate", decoder_norm_types="rms_norm", decoder_act_fns="silu",
        scaling_factor=0.41407,
    )
    torch.manual_seed(0)
    text_encoder = Gemma2Model(Gemma2Config(
        head_dim=16, hidden_size=8, initializer_range=0.02, intermediate_size=64, max_position_embeddings=8192,
        model_type="gemma2", num_attention_heads=2, num_hidden_layers=1, num_key_value_heads=2,
        vocab_size=len(tiny_tokenizer()), attn_implementation="eager",
    ))
    pipe = SanaSprintPipeline(tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae,
                              transformer=transformer, scheduler=SCMScheduler())
    pipe.save_pretrained(folder)
    return folder


def _flux_components() -> dict:
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32, axes_dims_rope=[4, 4, 8],
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_config())
    torch.manual_seed(0)
    vae = AutoencoderKL(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
                        latent_channels=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
                        shift_factor=0.0609, scaling_factor=1.5035)
    return {"scheduler": FlowMatchEulerDiscreteScheduler(), "text_encoder": text_encoder, "text_encoder_2": tiny_t5(),
            "tokenizer": _clip_tokenizer(), "tokenizer_2": tiny_tokenizer(), "transformer": transformer, "vae": vae,
            "image_encoder": None, "feature_extractor": None}


def build_flux(folder: Path, kontext: bool = False) -> Path:
    """FLUX.1 (or, with ``kontext``, the same tiny weights saved as a FLUX Kontext edit model)."""
    from diffusers import FluxKontextPipeline, FluxPipeline

    pipeline_class = FluxKontextPipeline if kontext else FluxPipeline
    pipeline_class(**_flux_components()).save_pretrained(folder)
    return folder


def build_sdxl(folder: Path) -> Path:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(2, 4), layers_per_block=2, time_cond_proj_dim=None, sample_size=32, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4), use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80, cross_attention_dim=64, norm_num_groups=1,
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                       beta_schedule="scaled_linear", timestep_spacing="trailing")
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4, sample_size=128)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(_clip_config())
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(_clip_config())
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                     tokenizer=_clip_tokenizer(), tokenizer_2=_clip_tokenizer(), unet=unet,
                                     scheduler=scheduler)
    pipe.save_pretrained(folder)
    return folder


def build_zimage(folder: Path) -> Path:
    """Z-Image (Turbo's architecture): a Qwen3 text encoder reading a chat template."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImagePipeline, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(0)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=32, n_layers=2, n_refiner_layers=1,
        n_heads=2, n_kv_heads=2, norm_eps=1e-5, qk_norm=True, cap_feat_dim=16, rope_theta=256.0, t_scale=1000.0,
        axes_dims=[8, 4, 4], axes_lens=[256, 32, 32],
    )
    with torch.no_grad():  # made with torch.empty: fixed so no NaN sneaks in (as diffusers' test does)
        transformer.x_pad_token.copy_(torch.ones_like(transformer.x_pad_token))
        transformer.cap_pad_token.copy_(torch.ones_like(transformer.cap_pad_token))
    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, block_out_channels=[32, 64], layers_per_block=1,
                        latent_channels=16, norm_num_groups=32, sample_size=32, scaling_factor=0.3611,
                        shift_factor=0.1159)
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    torch.manual_seed(0)
    text_encoder = Qwen3Model(Qwen3Config(hidden_size=16, intermediate_size=16, num_hidden_layers=2,
                                          num_attention_heads=2, num_key_value_heads=2, vocab_size=len(tokenizer),
                                          max_position_embeddings=512))
    ZImagePipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
                   text_encoder=text_encoder, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def build_controlnet(sdxl_folder: Path, folder: Path) -> Path:
    """A scribble-style ControlNet for the tiny SDXL, made from its UNet (random control weights)."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(sdxl_folder, subfolder="unet")
    torch.manual_seed(1)
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8))
    with torch.no_grad():
        for parameter in controlnet.parameters():
            if not parameter.abs().sum():  # the zero convolutions: random, so the lines matter
                parameter.copy_(torch.randn(parameter.shape) * 0.5)
    controlnet.save_pretrained(folder)
    return folder


def random_lora(pipe, folder: Path, *, rank: int = 2, seed: int = 0, scale: float = 1.0) -> Path:
    """A LoRA of random weights for ``pipe``'s denoiser (transformer or unet), saved as diffusers
    saves one (``pytorch_lora_weights.safetensors``); returns the file."""
    from peft import LoraConfig, get_peft_model_state_dict

    denoiser_name = "transformer" if getattr(pipe, "transformer", None) is not None else "unet"
    denoiser = getattr(pipe, denoiser_name)
    targets = sorted({name.rsplit(".", 1)[-1] for name, module in denoiser.named_modules()
                      if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in ("to_q", "to_k", "to_v")})
    config = LoraConfig(r=rank, lora_alpha=rank, target_modules=targets, init_lora_weights=False)
    denoiser.add_adapter(config, adapter_name="made")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in denoiser.named_parameters():
            if "lora_" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    state = get_peft_model_state_dict(denoiser, adapter_name="made")
    denoiser.delete_adapters("made")
    folder.mkdir(parents=True, exist_ok=True)
    pipe_class = type(pipe)
    pipe_class.save_lora_weights(folder, **{f"{denoiser_name}_lora_layers": state})
    return folder / "pytorch_lora_weights.safetensors"
