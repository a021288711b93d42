"""The models bench/gpu.py measures: the registry's GPU tier, real weights where this host has
them, else the full-size architectures built from bench/configs/ with random weights.

Nothing is downloaded. A scene model with its weights in the local Hugging Face cache loads
through the production path (``diffusers:<hub id>``); otherwise its architecture is built from
the component configs kept in bench/configs/<registry key>.json (``full``, or ``tiny`` for
--smoke) and handed to the same :class:`DiffusersSceneGenerator`. The cutout is the real rembg
model where its ONNX file is in rembg's home folder, else a stand-in with BiRefNet's backbone.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CONFIGS = Path(__file__).resolve().parent / "configs"


@dataclass
class Built:
    name: str  # what the table calls it
    weights: str  # "real" | "random" | "stand-in"
    build_s: float
    run: Any  # scene generator, or a callable rgb -> mask
    params_m: float = 0.0
    native_size: int = 0


def config(key: str) -> dict:
    path = CONFIGS / f"{key}.json"
    if not path.is_file():
        raise SystemExit(f"bench/gpu.py: no architecture config {path} for {key}; add one "
                         "(its component configs from the model's repository)")
    return json.loads(path.read_text())


def _tokenizer(folder: Path, max_length: int = 77):
    """A byte-level CLIP BPE tokenizer (a tiny vocabulary), written without the hub."""
    from transformers import CLIPTokenizer

    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    symbols = [chr(c) for c in cs]
    vocab: dict[str, int] = {}
    for token in symbols + [s + "</w>" for s in symbols]:
        vocab.setdefault(token, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "model_max_length": max_length, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>"}))
    return CLIPTokenizer.from_pretrained(str(folder))


def _params_m(*modules) -> float:
    return sum(p.numel() for m in modules for p in m.parameters()) / 1e6


def scene_generator(key: str, *, device: str, dtype: str, size: str) -> Built:
    """The registry's scene model ``key``: real weights from the HF cache, else random."""
    from pipeline.backends.diffusers_scenes import DiffusersSceneGenerator
    from pipeline.errors import ModelNotFound
    from pipeline.models import model

    spec = model(key)
    started = time.perf_counter()
    if size == "full":
        try:
            gen = DiffusersSceneGenerator(spec.ref, device=device, dtype=dtype)
            return Built(key, "real", time.perf_counter() - started, gen)
        except ModelNotFound:
            pass  # not cached on this host: the architecture, random weights
    pipe, params = _build_pipeline(config(key), size=size, device=device, dtype=dtype)
    gen = DiffusersSceneGenerator(spec.ref, device=device, dtype=dtype, pipe=pipe)
    return Built(key, "random", time.perf_counter() - started, gen, params)


def _build_pipeline(cfg: dict, *, size: str, device: str, dtype: str):
    import diffusers
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    parts = cfg[size]
    torch_dtype = getattr(torch, dtype)
    tokenizer = _tokenizer(Path(tempfile.mkdtemp(prefix="bench-gpu-tok-")))
    torch.manual_seed(0)
    # Built on the target device: initialising billions of parameters there takes seconds.
    with torch.device(device):
        unet = diffusers.UNet2DConditionModel(**parts["unet"])
        vae = diffusers.AutoencoderKL(**parts["vae"])
        special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                   "pad_token_id": tokenizer.pad_token_id}
        text = CLIPTextModel(CLIPTextConfig(**parts["text_encoder"], **special))
        text_2 = CLIPTextModelWithProjection(CLIPTextConfig(**parts["text_encoder_2"],
                                                            **special))
    scheduler = getattr(diffusers, cfg["scheduler"]["class"])(**cfg["scheduler"]["config"])
    pipe = getattr(diffusers, cfg["pipeline"])(
        vae=vae, text_encoder=text, text_encoder_2=text_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=scheduler, **cfg["pipeline_config"])
    pipe.to(device, torch_dtype)  # as from_pretrained(dtype=...) loads it; the pipeline
    return pipe, _params_m(unet, vae, text, text_2)


def cutout(backend: str, *, device: str, dtype: str, size: str) -> Built:
    """The registry's GPU cutout: rembg's real model where its file is here, else a stand-in."""
    started = time.perf_counter()
    if size == "full":
        from pipeline.backends import get_segmenter
        from pipeline.errors import PipelineError

        try:
            seg = get_segmenter(backend, alpha_matting=False, device=device)
            return Built(backend, "real", time.perf_counter() - started,
                         lambda rgb: seg.segment(rgb))
        except PipelineError:
            pass  # no ONNX file here: the stand-in
    key = backend.partition(":")[2]
    import torch
    from transformers import SwinConfig, SwinModel

    parts = config(key)[size]
    torch.manual_seed(0)
    with torch.device(device):
        backbone = SwinModel(SwinConfig(**parts), add_pooling_layer=False)
        head = torch.nn.Conv2d(backbone.num_features, 1, 1)
    torch_dtype = getattr(torch, dtype)
    backbone.to(torch_dtype).eval()
    head.to(torch_dtype)
    side = parts["image_size"]

    def run(rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(rgb).to(device).permute(2, 0, 1)[None].to(torch_dtype) / 255
        x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear")
        with torch.inference_mode():
            tokens = backbone(pixel_values=x).last_hidden_state  # (1, h*w, c)
            grid = int(tokens.shape[1] ** 0.5)
            features = tokens.transpose(1, 2).reshape(1, -1, grid, grid)
            mask = torch.sigmoid(head(features))
            mask = torch.nn.functional.interpolate(mask.float(), size=rgb.shape[:2],
                                                   mode="bilinear")
        return (mask[0, 0] * 255).to(torch.uint8).cpu().numpy()

    return Built(backend, "stand-in: Swin-L backbone",
                 time.perf_counter() - started, run, _params_m(backbone, head))
