"""Tiny random-weight Diffusers pipelines for every family the app supports, built without the hub.

Each builder makes the components the way diffusers' own fast tests do (a few thousand
parameters), a tokenizer built in memory, and ``save_pretrained``s the pipeline to a folder. The
backends then load that folder through the same ``from_pretrained`` path real weights take.
``install_in_hf_cache`` lays a folder out as a Hugging Face cache entry, so hub-id loading can be
tested offline as well.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

WORDS = (
    "a an the of in on at to and with over under through into slowly fast camera pans tilts zooms dolly "
    "truck orbit crane handheld static shot lighthouse keeper letter sea night storm ship light window "
    "door room man woman dog cat walks runs looks turns left right up down in out close wide street "
    "city forest rain sun red blue green golden dark bright . ,"
).split()

T2V_TINY_CHANNELS = 16


def tiny_tokenizer():
    """A word-level tokenizer made in memory (nothing downloaded), with T5's special tokens."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(["<pad>", "</s>", "<unk>", *dict.fromkeys(WORDS)])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512,
    )


def _vocab_size() -> int:
    return len(tiny_tokenizer())


def tiny_t5(umt5: bool = False):
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    config_class, model_class = (UMT5Config, UMT5EncoderModel) if umt5 else (T5Config, T5EncoderModel)
    config = config_class(vocab_size=_vocab_size(), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                          relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return model_class(config).eval()


# ------------------------------------------------------------------------------------------------
# Wan


def _wan_vae():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def _wan_scheduler():
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)


def _wan_transformer(in_channels: int = 16, **extra):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
        out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, **extra,
    )


def build_wan_t2v(folder: Path) -> Path:
    from diffusers import WanPipeline

    pipe = WanPipeline(tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(umt5=True), vae=_wan_vae(),
                       scheduler=_wan_scheduler(), transformer=_wan_transformer())
    pipe.save_pretrained(folder)
    return folder


def build_wan_i2v(folder: Path, first_last: bool = False) -> Path:
    """Wan 2.1 I2V (or FLF2V: a position embedding for two images' CLIP tokens)."""
    from diffusers import WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
        intermediate_size=16, patch_size=4,
    ))
    tokens = (32 // 4) ** 2 + 1
    extra = {"image_dim": 4} | ({"pos_embed_seq_len": 2 * tokens} if first_last else {})
    pipe = WanImageToVideoPipeline(
        tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(umt5=True), vae=_wan_vae(), scheduler=_wan_scheduler(),
        image_processor=CLIPImageProcessor(crop_size=32, size=32), image_encoder=encoder,
        transformer=_wan_transformer(in_channels=36, **extra),
    )
    pipe.save_pretrained(folder)
    return folder


def build_wan_vace(folder: Path) -> Path:
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    torch.manual_seed(0)
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96,
    )
    pipe = WanVACEPipeline(tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(umt5=True), vae=_wan_vae(),
                           scheduler=_wan_scheduler(), transformer=transformer)
    pipe.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------------------
# LTX-Video


def build_ltx(folder: Path, condition: bool = True) -> Path:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    pipeline_class = LTXConditionPipeline if condition else LTXPipeline
    pipe = pipeline_class(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=tiny_t5(),
                          tokenizer=tiny_tokenizer(), transformer=transformer)
    pipe.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------------------
# CogVideoX


def _cog_vae():
    from diffusers import AutoencoderKLCogVideoX

    torch.manual_seed(0)
    return AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
    )


def build_cogvideox(folder: Path, image_to_video: bool = False) -> Path:
    from diffusers import (
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
        DDIMScheduler,
    )

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8 if image_to_video else 4, out_channels=4,
        time_embed_dim=2, text_embed_dim=32, num_layers=1, sample_width=4, sample_height=4, sample_frames=9,
        patch_size=2, temporal_compression_ratio=4, max_text_seq_length=16,
        use_rotary_positional_embeddings=image_to_video,
    )
    pipeline_class = CogVideoXImageToVideoPipeline if image_to_video else CogVideoXPipeline
    pipe = pipeline_class(tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(), vae=_cog_vae(),
                          transformer=transformer, scheduler=DDIMScheduler())
    pipe.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------------------


def install_in_hf_cache(folder: Path, repo_id: str, cache_dir: Path, commit: str = "0" * 40) -> Path:
    """Lay ``folder`` out as the Hugging Face cache holds a downloaded repo (snapshot + refs/main)."""
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(folder, snapshot, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def pipeline_class_name(folder: Path) -> str:
    return json.loads((folder / "model_index.json").read_text())["_class_name"]


# ------------------------------------------------------------------------------------------------
# SANA-WM (camera-controlled I2V): the real classes, configured tiny (diffusers 0.42 exposes depth,
# width and heads in SanaWMTransformer3DModel's config), an LTX-2 VAE and a Gemma 2 text encoder


def tiny_ltx2_vae():
    """The tiny AutoencoderKLLTX2Video diffusers' LTX-2 tests use (2x spatial, 2x temporal)."""
    from diffusers import AutoencoderKLLTX2Video

    torch.manual_seed(0)
    vae = AutoencoderKLLTX2Video(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8,), decoder_block_out_channels=(8,),
        layers_per_block=(1,), decoder_layers_per_block=(1, 1), spatio_temporal_scaling=(True,),
        decoder_spatio_temporal_scaling=(True,), decoder_inject_noise=(False, False), downsample_type=("spatial",),
        upsample_residual=(False,), upsample_factor=(1,), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return vae


def tiny_gemma2():
    from transformers import Gemma2Config, Gemma2ForCausalLM

    torch.manual_seed(0)
    config = Gemma2Config(vocab_size=_vocab_size(), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                          num_attention_heads=2, num_key_value_heads=1, head_dim=8, pad_token_id=0,
                          max_position_embeddings=512)
    return Gemma2ForCausalLM(config).eval()


def build_sana_wm(folder: Path) -> Path:
    from diffusers import FlowMatchEulerDiscreteScheduler, SanaWMPipeline, SanaWMTransformer3DModel

    vae = tiny_ltx2_vae()
    torch.manual_seed(0)
    transformer = SanaWMTransformer3DModel(
        in_channels=4, num_layers=2, hidden_size=32, num_attention_heads=2, linear_head_dim=16, softmax_every_n=2,
        chunk_plucker_channels=6 * vae.temporal_compression_ratio, chunk_plucker_post_attn_blocks=2,
        caption_channels=16, image_size=32, mixed_precision="fp32",
    )
    pipe = SanaWMPipeline(tokenizer=tiny_tokenizer(), text_encoder=tiny_gemma2(), vae=vae, transformer=transformer,
                          scheduler=FlowMatchEulerDiscreteScheduler())
    pipe.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------------------
# HunyuanVideo 1.5 (T2V): diffusers' own fast-test config; the Qwen tokenizer is the in-memory word
# tokenizer with a chat template (the pipeline formats prompts as a chat), ByT5's needs no files


def build_hunyuan15_t2v(folder: Path) -> Path:
    from diffusers import (
        AutoencoderKLHunyuanVideo15,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideo15Pipeline,
        HunyuanVideo15Transformer3DModel,
    )
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import ByT5Tokenizer, Qwen2_5_VLTextConfig, Qwen2_5_VLTextModel

    torch.manual_seed(0)
    transformer = HunyuanVideo15Transformer3DModel(
        in_channels=9, out_channels=4, num_attention_heads=2, attention_head_dim=8, num_layers=1, num_refiner_layers=1,
        mlp_ratio=2.0, patch_size=1, patch_size_t=1, text_embed_dim=16, text_embed_2_dim=32, image_embed_dim=12,
        rope_axes_dim=(2, 2, 4), target_size=16, task_type="t2v",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo15(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 16), layers_per_block=1,
        spatial_compression_ratio=4, temporal_compression_ratio=2, downsample_match_channel=False,
        upsample_match_channel=False,
    )
    torch.manual_seed(0)
    text_encoder = Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(
        vocab_size=_vocab_size(), hidden_size=16, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, rope_theta=1000000.0, max_position_embeddings=2048, bos_token_id=None, eos_token_id=1,
        rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
    )).eval()
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = ("{% for message in messages %}{{ message['role'] }} : {{ message['content'] }} . "
                               "{% endfor %}")
    pipe = HunyuanVideo15Pipeline(
        text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer.eval(), vae=vae.eval(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), text_encoder_2=tiny_t5(), tokenizer_2=ByT5Tokenizer(),
        guider=ClassifierFreeGuidance(guidance_scale=1.0),
    )
    pipe.save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------------------
# Kandinsky 5 Video Lite (T2V): a tiny Qwen2.5-VL (text and vision towers), a tiny CLIP text model,
# the HunyuanVideo VAE and the Kandinsky 5 DiT; both tokenizers are the in-memory word tokenizer


def build_kandinsky5_t2v(folder: Path) -> Path:
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        Kandinsky5T2VPipeline,
        Kandinsky5Transformer3DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(0)
    text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config={"vocab_size": _vocab_size(), "hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 1024,
                     "rope_theta": 1000000.0, "bos_token_id": None, "eos_token_id": 1,
                     "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}},
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
    )).eval()
    torch.manual_seed(0)
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=_vocab_size(), hidden_size=8, intermediate_size=16,
                                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77,
                                        bos_token_id=None, eos_token_id=1, pad_token_id=0)).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=4, down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
        act_fn="silu", norm_num_groups=4, scaling_factor=0.476986, spatial_compression_ratio=8,
        temporal_compression_ratio=4, mid_block_add_attention=True,
    )
    torch.manual_seed(0)
    transformer = Kandinsky5Transformer3DModel(
        in_visual_dim=4, out_visual_dim=4, in_text_dim=16, in_text_dim2=8, time_dim=16, model_dim=32, ff_dim=64,
        num_text_blocks=1, num_visual_blocks=1, axes_dims=(4, 6, 6),
    )
    with torch.no_grad():  # the release zero-initialises its output and modulation layers: give them weights,
        for parameter in transformer.parameters():  # or the tiny model's prediction ignores every input
            if not parameter.any():
                parameter.normal_(0.0, 0.2)
    pipe = Kandinsky5T2VPipeline(transformer=transformer.eval(), vae=vae.eval(), text_encoder=text_encoder,
                                 tokenizer=tiny_tokenizer(), text_encoder_2=clip, tokenizer_2=tiny_tokenizer(),
                                 scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0))
    pipe.save_pretrained(folder)
    return folder


def build_kandinsky5_camera_lora(pipeline_folder: Path, folder: Path, name: str = "camera_lora.safetensors") -> Path:
    """A tiny LoRA for the tiny Kandinsky 5 transformer (random non-zero B, so it changes the output),
    saved with the pipeline's own save_lora_weights, as a camera-move LoRA would be shipped."""
    from diffusers import Kandinsky5T2VPipeline, Kandinsky5Transformer3DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer = Kandinsky5Transformer3DModel.from_pretrained(pipeline_folder, subfolder="transformer")
    transformer.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_query", "to_key", "to_value"],
                                       init_lora_weights=False))
    torch.manual_seed(1)
    Kandinsky5T2VPipeline.save_lora_weights(folder, transformer_lora_layers=get_peft_model_state_dict(transformer),
                                            weight_name=name)
    return folder


def build_wan22_two_experts(folder: Path) -> Path:
    """Wan 2.2 A14B's layout: a high-noise transformer and a low-noise transformer_2 split at
    ``boundary_ratio`` of the schedule, in one WanPipeline."""
    from diffusers import WanPipeline

    pipe = WanPipeline(tokenizer=tiny_tokenizer(), text_encoder=tiny_t5(umt5=True), vae=_wan_vae(),
                       scheduler=_wan_scheduler(), transformer=_wan_transformer(),
                       transformer_2=_wan_transformer(), boundary_ratio=0.875)
    with torch.no_grad():  # two different experts, so it shows which one ran
        for parameter in pipe.transformer_2.parameters():
            parameter.mul_(-1.0)
    pipe.save_pretrained(folder)
    return folder
