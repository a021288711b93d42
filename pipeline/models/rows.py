"""The rows of the model registry (``spec.py`` holds their shape, ``pipeline.models`` the lookups).

Facts come from the model cards and READMEs and from rembg 2.0.86's session classes (input
size and mean/std). ``vram_gb`` is an estimate for one 1024² image at fp16/bf16 with every
component on the GPU; ``price_usd`` is a list price per call, overridden by the operator's own
(``PHOTOSYNC_REMOVEBG_PRICE``, ``PHOTOSYNC_PHOTOROOM_PRICE``). Order matters twice: a file is
identified by the first row whose ``file_pattern`` matches its path (specific rows first), and
a tier's fallback chain follows the order of its ``fallback`` rows.
"""

from __future__ import annotations

from pipeline.models.spec import FAMILIES, IMAGENET_MEAN, IMAGENET_STD, ModelSpec, Normalization

U2NET, ISNET, BIREFNET = FAMILIES["u2net"], FAMILIES["isnet"], FAMILIES["birefnet"]
DIS5K = ("trained on DIS5K, whose terms allow only non-commercial research use: have counsel "
         "confirm that the weights' licence covers yours")
FLUX_NC = "LicenseRef-FLUX-Non-Commercial"
FLUX1_NC = "LicenseRef-FLUX.1-dev-Non-Commercial"
OPENRAIL = "LicenseRef-CreativeML-OpenRAIL++-M"


def _rembg(key: str, name: str, licence: str, norm: Normalization, **kw) -> ModelSpec:
    return ModelSpec(key, name, "cutout", "rembg", key, licence, kw.pop("commercial", True),
                     native_size=norm.size, normalization=norm, **kw)


def _scene(key: str, name: str, hub: str, licence: str, commercial: bool, size: int,
           steps: int, guidance: float, vram: float, pipeline: str, **kw) -> ModelSpec:
    return ModelSpec(key, name, "scene", "hub", hub, licence, commercial, native_size=size,
                     steps=steps, guidance=guidance, vram_gb=vram, pipeline=pipeline, **kw)


MODELS: tuple[ModelSpec, ...] = (
    # -- built in: no weights -------------------------------------------------------------
    ModelSpec("classical", "the classical segmenter", "cutout", "builtin",
              "pipeline.backends.classical", "MIT", True, tier="cpu", role="segmenter",
              note="always available; the last link of every fallback chain"),
    ModelSpec("procedural", "procedural studio scenes", "scene", "builtin",
              "pipeline.backends.procedural", "MIT", True, tier="cpu", role="scenes"),
    # -- cutouts through rembg sessions (weights in rembg's home folder) -----------------------
    _rembg("birefnet-general", "BiRefNet general", "MIT", BIREFNET, vram_gb=3.5, tier="gpu",
           role="segmenter", file_pattern=r"birefnet(?!-hr)",
           note="S-measure .911 on DIS-VD, 69 ms fp16 on an A100 (model card); " + DIS5K),
    _rembg("isnet-general-use", "IS-Net general use", "Apache-2.0", ISNET, vram_gb=1.5,
           tier="gpu", role="fallback", file_pattern=r"isnet(?!-anime)|(^|[/.-])dis([/.-]|$)",
           note="Apache-2.0 is the DIS repository's licence; its weights have no separate "
                "grant and were " + DIS5K),
    _rembg("u2net", "U²-Net", "Apache-2.0", U2NET, vram_gb=1.0, tier="cpu", role="auto model",
           file_pattern=r"u2net|silueta"),
    _rembg("u2netp", "U²-Net small", "Apache-2.0", U2NET, vram_gb=0.5),
    _rembg("u2net_human_seg", "U²-Net human segmentation", "Apache-2.0", U2NET, vram_gb=1.0),
    _rembg("silueta", "Silueta (U²-Net, smaller)", "Apache-2.0", U2NET, vram_gb=0.5),
    _rembg("isnet-anime", "IS-Net anime", "Apache-2.0",
           Normalization("isnet-anime", IMAGENET_MEAN, (1.0, 1.0, 1.0), 1024), vram_gb=1.5,
           file_pattern=r"isnet-anime"),
    _rembg("birefnet-general-lite", "BiRefNet general lite", "MIT", BIREFNET, vram_gb=2.0),
    _rembg("birefnet-general-fp16", "BiRefNet general, fp16", "MIT", BIREFNET, vram_gb=3.5,
           note="converted from birefnet-general on first use; for GPUs"),
    _rembg("birefnet-portrait", "BiRefNet portrait", "MIT", BIREFNET, vram_gb=3.5),
    _rembg("birefnet-dis", "BiRefNet DIS", "MIT", BIREFNET, vram_gb=3.5),
    _rembg("birefnet-hrsod", "BiRefNet HRSOD", "MIT", BIREFNET, vram_gb=3.5),
    _rembg("birefnet-cod", "BiRefNet COD", "MIT", BIREFNET, vram_gb=3.5),
    _rembg("birefnet-massive", "BiRefNet massive", "MIT", BIREFNET, vram_gb=3.5),
    _rembg("bria-rmbg", "BRIA RMBG-2.0", "CC-BY-NC-4.0",
           Normalization("rmbg-2.0", IMAGENET_MEAN, IMAGENET_STD, 1024),
           commercial=False, vram_gb=3.5, file_pattern=r"rmbg-?2|bria-rmbg",
           note="rembg 2.0.86's default model: never used unless named and opted in"),
    # -- cutouts as local ONNX files (rembg-file:<path>) ----------------------------------------
    ModelSpec("birefnet-hr", "BiRefNet HR (2048²)", "cutout", "file",
              "ZhengPeng7/BiRefNet_HR (ONNX export)", "MIT", True, native_size=2048,
              vram_gb=10.0, file_pattern=r"birefnet-hr",
              normalization=Normalization("birefnet", IMAGENET_MEAN, IMAGENET_STD,
                                          2048, sigmoid=True),
              note="S-measure .927 at 2048² (model card); " + DIS5K),
    ModelSpec("ben2", "BEN2 base", "cutout", "file", "PramaLLC/BEN2 (BEN2_Base.onnx)", "MIT",
              True, native_size=1024, vram_gb=3.0, normalization=ISNET, file_pattern=r"ben2",
              note=DIS5K),
    ModelSpec("rmbg-1.4", "BRIA RMBG-1.4", "cutout", "file", "briaai/RMBG-1.4 (onnx/model.onnx)",
              "LicenseRef-bria-rmbg-1.4", False, native_size=1024, vram_gb=1.5,
              normalization=ISNET, file_pattern=r"rmbg-?1\.?4"),
    # -- hosted cutout APIs (a fallback tier; the image leaves this host) ----------------------
    ModelSpec("removebg", "remove.bg API", "cutout", "api",
              "https://api.remove.bg/v1.0/removebg", "LicenseRef-remove.bg-API-terms", True,
              tier="hosted", role="segmenter", price_usd=0.20,
              note="X-Api-Key; billed in credits (1 per image, ¼ for a preview); 402 when out "
                   "of credits, 429 with Retry-After when rate limited"),
    ModelSpec("photoroom", "Photoroom Remove Background API", "cutout", "api",
              "https://sdk.photoroom.com/v1/segment", "LicenseRef-Photoroom-API-terms", True,
              tier="hosted", role="fallback", price_usd=0.02,
              note="x-api-key; Basic plan, billed per image; answers an uncertainty score"),
    # -- scenes: commercially usable ---------------------------------------------------------
    _scene("sdxl-inpainting", "SDXL 1.0 inpainting 0.1",
           "diffusers/stable-diffusion-xl-1.0-inpainting-0.1", OPENRAIL, True, 1024, 25, 8.0,
           10.0, "StableDiffusionXLInpaintPipeline", tier="gpu", role="scenes",
           note="CreativeML Open RAIL++-M: commercial use with use-based restrictions"),
    _scene("sd2-inpainting", "Stable Diffusion 2 inpainting",
           "stabilityai/stable-diffusion-2-inpainting", OPENRAIL, True, 512, 25, 7.5, 5.0,
           "StableDiffusionInpaintPipeline"),
    _scene("flux2-klein-4b", "FLUX.2 [klein] 4B", "black-forest-labs/FLUX.2-klein-4B",
           "Apache-2.0", True, 1024, 4, 1.0, 13.0, "Flux2KleinInpaintPipeline",
           note="step- and guidance-distilled; sub-second class on one GPU"),
    _scene("z-image-turbo", "Z-Image-Turbo", "Tongyi-MAI/Z-Image-Turbo", "Apache-2.0", True,
           1024, 8, 0.0, 16.0, "ZImageInpaintPipeline",
           note="ControlNet inpainting too (ZImageControlNetInpaintPipeline)"),
    _scene("qwen-image-edit", "Qwen-Image-Edit", "Qwen/Qwen-Image-Edit", "Apache-2.0", True,
           1024, 50, 4.0, 60.0, "QwenImageEditInpaintPipeline",
           note="guidance is true_cfg_scale; Lightning LoRAs run it in 4 or 8 steps"),
    # -- scenes: non-commercial (refused unless the operator opts in) ----------------------------
    _scene("flux1-dev", "FLUX.1 [dev]", "black-forest-labs/FLUX.1-dev", FLUX1_NC, False, 1024,
           28, 3.5, 33.0, "FluxInpaintPipeline"),
    _scene("flux1-fill-dev", "FLUX.1 Fill [dev]", "black-forest-labs/FLUX.1-Fill-dev", FLUX1_NC,
           False, 1024, 50, 30.0, 33.0, "FluxFillPipeline"),
    _scene("flux1-kontext-dev", "FLUX.1 Kontext [dev]", "black-forest-labs/FLUX.1-Kontext-dev",
           FLUX1_NC, False, 1024, 28, 2.5, 33.0, "FluxKontextInpaintPipeline"),
    _scene("flux2-dev", "FLUX.2 [dev]", "black-forest-labs/FLUX.2-dev", FLUX_NC, False, 1024,
           50, 4.0, 90.0, "Flux2Pipeline"),
    _scene("flux2-klein-9b", "FLUX.2 [klein] 9B", "black-forest-labs/FLUX.2-klein-9B", FLUX_NC,
           False, 1024, 4, 1.0, 30.0, "Flux2KleinInpaintPipeline"),
    _scene("sdxl-turbo", "SDXL-Turbo", "stabilityai/sdxl-turbo",
           "LicenseRef-stabilityai-nc-community", False, 512, 1, 0.0, 8.0,
           "StableDiffusionXLInpaintPipeline"),
)
