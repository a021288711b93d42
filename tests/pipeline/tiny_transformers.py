"""Tiny random transformer-family inpainting pipelines (Z-Image, FLUX.2 [klein]), built offline.

Their config classes at test sizes, a byte-level Qwen tokenizer written from scratch (with the
chat template both pipelines apply), ``save_pretrained``, then loaded back by the project's own
``diffusers:<folder>`` path. Pictures are noise; shapes, batching, sizes and paste-back are real.
"""

from __future__ import annotations

import json
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def has(*names: str) -> bool:
    import diffusers

    return all(hasattr(diffusers, n) for n in names)


def qwen_tokenizer(folder: Path):
    """A byte-level BPE Qwen2 tokenizer: the 256 byte symbols and the chat special tokens."""
    from transformers import Qwen2Tokenizer

    from tests.pipeline.factories import _bytes_to_unicode

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {s: i for i, s in enumerate(_bytes_to_unicode().values())}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = Qwen2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                               unk_token="<|endoftext|>", pad_token="<|endoftext|>",
                               eos_token="<|im_end|>", bos_token=None)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _qwen3_config(tokenizer, layers: int):
    from transformers import Qwen3Config

    return Qwen3Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                       num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                       head_dim=8, max_position_embeddings=1024,
                       pad_token_id=tokenizer.pad_token_id)


def build_tiny_z_image_inpaint(folder: Path) -> Path:
    """Z-Image: a single-stream DiT over 16-channel latents, Qwen3 text features."""
    import torch
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        ZImageInpaintPipeline,
        ZImageTransformer2DModel,
    )
    from transformers import Qwen3Model

    tokenizer = qwen_tokenizer(folder.parent / (folder.name + "-tokenizer"))
    torch.manual_seed(0)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=32, n_layers=1,
        n_refiner_layers=1, n_heads=2, n_kv_heads=2, cap_feat_dim=16, axes_dims=[4, 6, 6],
        axes_lens=[256, 64, 64])
    vae = AutoencoderKL(block_out_channels=(16, 16, 16, 16), latent_channels=16,
                        down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=1,
                        norm_num_groups=8, sample_size=128, scaling_factor=0.3611,
                        shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False)
    pipe = ZImageInpaintPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=vae,
        text_encoder=Qwen3Model(_qwen3_config(tokenizer, 2)), tokenizer=tokenizer,
        transformer=transformer)
    pipe.save_pretrained(str(folder))
    return folder


def build_tiny_flux2_klein_inpaint(folder: Path) -> Path:
    """FLUX.2 [klein]: an MM-DiT over packed latents, Qwen3 features from layers 9, 18, 27."""
    import torch
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinInpaintPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3ForCausalLM

    tokenizer = qwen_tokenizer(folder.parent / (folder.name + "-tokenizer"))
    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=48,
        timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False)
    vae = AutoencoderKLFlux2(block_out_channels=(16, 16, 16, 16), latent_channels=4,
                             layers_per_block=1, norm_num_groups=8, sample_size=128)
    pipe = Flux2KleinInpaintPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
        text_encoder=Qwen3ForCausalLM(_qwen3_config(tokenizer, 28)), tokenizer=tokenizer,
        transformer=transformer, is_distilled=True)
    pipe.save_pretrained(str(folder))
    return folder
