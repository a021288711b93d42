"""Test inputs made in memory and tiny models made on disk, for the pipeline tests.

Nothing here downloads anything. The diffusers pipelines are random-weight miniatures of SD and
SDXL inpainting (docs/pipeline.md, "Testing models without downloading any"), saved with
``save_pretrained`` and loaded back through the project's own ``diffusers:<folder>`` path. The
CLIP tokenizer is written from scratch (the one piece diffusers' own tests take from the hub).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

#: The sample photos in shared/, beside the repository; else the same 15 photos the demo store
#: ships (photosync/demo/products), so tests on real photos run in every checkout.
_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "products"
SAMPLES = _SHARED if _SHARED.is_dir() else Path(__file__).resolve().parents[2] / "photosync" \
    / "demo" / "products"


def png_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def studio_photo(size: tuple[int, int] = (400, 300), *, product=(40, 80, 200),
                 backdrop=(255, 255, 255)) -> Image.Image:
    """A product (filled ellipse on a rectangle) centred on a plain backdrop."""
    from PIL import ImageDraw

    image = Image.new("RGB", size, backdrop)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.3, h * 0.2, w * 0.7, h * 0.8), fill=product)
    draw.rectangle((w * 0.42, h * 0.1, w * 0.58, h * 0.3), fill=tuple(c // 2 for c in product))
    return image


# -- offline CLIP tokenizer ------------------------------------------------------------------


def _bytes_to_unicode() -> dict[int, str]:
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def build_clip_tokenizer(folder: Path):
    """A byte-level CLIP BPE tokenizer with a tiny vocabulary, built without the hub."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(_bytes_to_unicode().values())
    merges = ["p r", "o d", "u c", "s t", "i o", "t h", "th e</w>"]
    vocab: dict[str, int] = {}
    for token in symbols + [s + "</w>" for s in symbols]:
        vocab.setdefault(token, len(vocab))
    for merge in merges:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "model_max_length": 77,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }))
    return CLIPTokenizer.from_pretrained(str(folder))


def _text_encoder(tokenizer, *, projection: bool = False):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    config = CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        hidden_act="gelu",
    )
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


def _vae():
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        block_out_channels=(16, 16, 32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=256,
    )


def _scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                  beta_schedule="scaled_linear", steps_offset=1,
                                  timestep_spacing="leading")


def build_tiny_sd_inpaint(folder: Path) -> Path:
    """A random SD-style inpainting pipeline (9-channel UNet) saved to ``folder``."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline, UNet2DConditionModel

    tokenizer = build_clip_tokenizer(folder.parent / (folder.name + "-tokenizer"))
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=9,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        norm_num_groups=8,
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=_vae(), text_encoder=_text_encoder(tokenizer), tokenizer=tokenizer, unet=unet,
        scheduler=_scheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(folder))
    return folder


def build_tiny_sdxl_inpaint(folder: Path) -> Path:
    """A random SDXL-style inpainting pipeline (two text encoders, text_time embeds)."""
    import torch
    from diffusers import StableDiffusionXLInpaintPipeline, UNet2DConditionModel

    tokenizer = build_clip_tokenizer(folder.parent / (folder.name + "-tokenizer"))
    time_dim, projection_dim = 8, 32
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=9,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=6 * time_dim + projection_dim,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    pipe = StableDiffusionXLInpaintPipeline(
        vae=_vae(), text_encoder=_text_encoder(tokenizer),
        text_encoder_2=_text_encoder(tokenizer, projection=True), tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=_scheduler(),
        requires_aesthetics_score=False, force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(str(folder))
    return folder


# -- tiny ONNX segmentation model -------------------------------------------------------------


def build_tiny_onnx_segmenter(path: Path, *, size: int | None = None, family: str | None = "u2net",
                              channels_last: bool = False) -> Path:
    """image -> map: 'not white' = -(R + G + B), a real graph (a 1x1 convolution).

    rembg-style pre-processing normalises with the family's mean/std and min-max scales the
    output, so on a white backdrop this yields a usable product mask without any weights.
    ``size`` fixes the input (and output) to size x size (None: any size, symbolic);
    ``family`` is written to the model's metadata (None: no metadata); ``channels_last``
    makes the input (1, H, W, 3).
    """
    import onnx
    from onnx import TensorProto, helper

    h, w = (size, size) if size else ("h", "w")
    weights = helper.make_tensor("w", TensorProto.FLOAT, [1, 3, 1, 1], [-1.0, -1.0, -1.0])
    nodes = [helper.make_node("Conv", ["image" if channels_last else "input", "w"], ["mask"],
                              kernel_shape=[1, 1])]
    shape = [1, h, w, 3] if channels_last else [1, 3, h, w]
    if channels_last:
        nodes.insert(0, helper.make_node("Transpose", ["input"], ["image"], perm=[0, 3, 1, 2]))
    graph = helper.make_graph(
        nodes, "tiny-segmenter",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, h, w])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if family:
        helper.set_model_props(model, {"family": family})
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def build_soft_onnx_segmenter(path: Path, *, size: int = 320, inside: float = 0.98) -> Path:
    """A model whose mask is ``inside`` (~0.98) over the product, as rembg's min-max normalised
    maps are: sigmoid(4·(darkness + 4)) · inside, plus one pixel at the centre that reaches 1.0
    (the maximum the normalisation scales to). U²-Net family, fixed size x size input."""
    import onnx
    from onnx import TensorProto, helper

    peak = np.zeros((1, 1, size, size), np.float32)
    peak[0, 0, size // 2, size // 2] = 1.0 - inside
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, [1, 3, 1, 1], [-1.0, -1.0, -1.0]),
        helper.make_tensor("b", TensorProto.FLOAT, [1], [4.0]),
        helper.make_tensor("k", TensorProto.FLOAT, [], [4.0]),
        helper.make_tensor("inside", TensorProto.FLOAT, [], [inside]),
        helper.make_tensor("peak", TensorProto.FLOAT, list(peak.shape), peak.ravel().tolist()),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["dark"], kernel_shape=[1, 1]),
        helper.make_node("Mul", ["dark", "k"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p"]),
        helper.make_node("Mul", ["p", "inside"], ["soft"]),
        helper.make_node("Add", ["soft", "peak"], ["mask"]),
    ]
    graph = helper.make_graph(
        nodes, "soft-segmenter",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, size, size])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"family": "u2net"})
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


# -- synthetic studio set with exact masks ---------------------------------------------------


def _soft_shape(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A product silhouette as float alpha in [0, 1], drawn 4x larger and reduced (soft edges)."""
    from PIL import ImageDraw

    w, h = size
    big = Image.new("L", (w * 4, h * 4), 0)
    draw = ImageDraw.Draw(big)
    s = 4
    cx, cy = w * s / 2 + rng.uniform(-0.05, 0.05) * w * s, h * s * 0.52
    if kind == "bottle":
        draw.rounded_rectangle((cx - 0.12 * w * s, cy - 0.2 * h * s, cx + 0.12 * w * s,
                                cy + 0.3 * h * s), radius=int(0.05 * w * s), fill=255)
        draw.rectangle((cx - 0.04 * w * s, cy - 0.34 * h * s, cx + 0.04 * w * s,
                        cy - 0.18 * h * s), fill=255)
    elif kind == "ball":
        r = 0.28 * min(w, h) * s
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    elif kind == "bag":
        draw.rounded_rectangle((cx - 0.3 * w * s, cy - 0.1 * h * s, cx + 0.3 * w * s,
                                cy + 0.3 * h * s), radius=int(0.04 * w * s), fill=255)
        draw.arc((cx - 0.16 * w * s, cy - 0.36 * h * s, cx + 0.16 * w * s, cy + 0.1 * h * s),
                 180, 360, fill=255, width=int(0.025 * w * s))
    elif kind == "box":
        corners = [(-0.25, -0.15), (0.1, -0.25), (0.28, -0.12), (0.25, 0.28), (-0.22, 0.3)]
        draw.polygon([(cx + dx * w * s, cy + dy * h * s) for dx, dy in corners], fill=255)
    elif kind == "shoe":
        draw.ellipse((cx - 0.32 * w * s, cy + 0.0 * h * s, cx + 0.32 * w * s, cy + 0.25 * h * s),
                     fill=255)
        draw.ellipse((cx - 0.3 * w * s, cy - 0.2 * h * s, cx + 0.02 * w * s, cy + 0.2 * h * s),
                     fill=255)
    else:
        raise ValueError(kind)
    small = big.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, np.float32) / 255.0


def _product_texture(size, colour, rng) -> np.ndarray:
    """Product colour with shading (top-lit) and a little texture, float RGB."""
    w, h = size
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    shade = 1.08 - 0.3 * y + 0.08 * np.sin(x * 9)
    noise = rng.normal(0, 3, (h, w, 1)).astype(np.float32)
    return np.clip(np.array(colour, np.float32) * shade + noise, 0, 255)


def _backdrop(kind: str, size, rng) -> np.ndarray:
    w, h = size
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    if kind == "white":
        base = np.full((h, w, 3), 252.0, np.float32)
    else:
        top, bottom = np.array([232, 233, 236], np.float32), np.array([168, 170, 175],
                                                                         np.float32)
        t = 1 / (1 + np.exp(-(y - 0.55) * 9))  # the sweep's bend
        base = top * (1 - t) + bottom * t + 18 * np.exp(-((x - 0.3) ** 2 + y**2) / 0.2)
        base = np.broadcast_to(base, (h, w, 3)).copy()
    return base + rng.normal(0, 1.2, (h, w, 1)).astype(np.float32)


def synthetic_studio_set(seed: int = 7) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, rgb uint8, exact alpha float) for every product × backdrop combination.

    Products: bottle, ball, bag with a thin handle, box, shoe, in dark, saturated and light
    colours. Backdrops: white, a grey sweep, and a grey sweep with a soft contact shadow.
    """
    import cv2

    rng = np.random.default_rng(seed)
    size = (480, 400)
    products = [("bottle", (30, 90, 60)), ("ball", (40, 110, 220)), ("bag", (25, 25, 30)),
                ("box", (200, 60, 40)), ("shoe", (120, 100, 80)), ("bottle", (150, 150, 155))]
    out = []
    for backdrop in ("white", "sweep", "sweep-shadow"):
        for kind, colour in products:
            alpha = _soft_shape(kind, size, rng)
            fg = _product_texture(size, colour, rng)
            bg = _backdrop("white" if backdrop == "white" else "sweep", size, rng)
            if backdrop == "sweep-shadow":
                rows = np.flatnonzero(alpha.max(axis=1) > 0.5)
                cols = np.flatnonzero(alpha.max(axis=0) > 0.5)
                shadow = np.zeros(alpha.shape, np.float32)
                cy = rows[-1]
                cv2.ellipse(shadow, (int(cols.mean()), int(cy)),
                            (int((cols[-1] - cols[0]) * 0.55), int(size[1] * 0.04)), 0, 0, 360,
                            1.0, -1)
                shadow = cv2.GaussianBlur(shadow, (0, 0), 9)
                bg = bg * (1 - 0.45 * shadow[..., None])
            rgb = fg * alpha[..., None] + bg * (1 - alpha[..., None])
            out.append((f"{backdrop}/{kind}-{colour[0]}", np.clip(rgb + 0.5, 0, 255)
                        .astype(np.uint8), alpha))
    return out
