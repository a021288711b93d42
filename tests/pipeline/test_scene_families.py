"""Every scene family through the real ``diffusers:<folder>`` path: SDXL inpainting (a UNet),
Z-Image and FLUX.2 [klein] (transformers), each a tiny random pipeline built offline.

The invariant for every family: the product's pixels are the original's after paste-back, and
all variations are one batch. The loader takes the native size from the pipeline's own config
(no ``unet`` assumed) and the steps and guidance from the registry.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from pipeline import GenerationTimeout, PipelineConfig, process_image
from pipeline.backends import get_scene_generator
from pipeline.models import model
from tests.pipeline.factories import png_bytes, studio_photo
from tests.pipeline.tiny_transformers import (
    build_tiny_flux2_klein_inpaint,
    build_tiny_z_image_inpaint,
    has,
)

torch = pytest.importorskip("torch")

#: family -> (registry key, the diffusers classes it needs, builder or None for the fixture's)
FAMILIES = {
    "sdxl": ("sdxl-inpainting", ("StableDiffusionXLInpaintPipeline",), None),
    "z-image": ("z-image-turbo", ("ZImageInpaintPipeline", "ZImageTransformer2DModel"),
                build_tiny_z_image_inpaint),
    "flux2-klein": ("flux2-klein-4b", ("Flux2KleinInpaintPipeline", "Flux2Transformer2DModel"),
                    build_tiny_flux2_klein_inpaint),
}


def _need(family: str) -> None:
    import diffusers

    missing = [n for n in FAMILIES[family][1] if not has(n)]
    if missing:
        pytest.skip(f"diffusers {diffusers.__version__} has no {', '.join(missing)}: "
                    f"pin a version that does to run the {family} family")


@pytest.fixture(scope="module")
def families(tiny_models, tmp_path_factory) -> dict:
    """family -> folder named like its hub repository (so the registry knows it)."""
    root = tmp_path_factory.mktemp("tiny-families")
    out = {"sdxl": tiny_models["sdxl"]}
    for family, (key, classes, build) in FAMILIES.items():
        if build is not None and all(has(n) for n in classes):
            out[family] = build(root / model(key).ref.split("/")[1])
    return out


def _config(folder, **overrides) -> PipelineConfig:
    values = {"scene_generator": f"diffusers:{folder}", "frame_preset": "custom:512x512:0.8",
              "steps": 2, "scene_size": 128, "enhance": False}
    values.update(overrides)
    return PipelineConfig(**values)


def _generator(folder):
    return get_scene_generator(f"diffusers:{folder}", device="cpu", dtype="float32",
                               scheduler=None, lora=None, lora_scale=1.0)


class _Spy:
    def __init__(self, pipe) -> None:
        self._pipe, self.calls = pipe, []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self._pipe(**kwargs)

    def __getattr__(self, name):
        return getattr(self._pipe, name)


@pytest.mark.parametrize("family", FAMILIES)
def test_product_pixels_are_the_original_after_paste_back(families, family):
    _need(family)
    result = process_image(png_bytes(studio_photo()), _config(families[family], variations=2,
                                                              seed=3))
    scenes = [o for o in result.outputs if o.kind == "scene"]
    assert [o.seed for o in scenes] == [3, 4]
    for scene in scenes:
        assert (scene.width, scene.height) == (512, 512)
        assert scene.metrics["product_max_abs_diff"] == 0
        assert scene.metrics["product_pixels_compared"] > 5_000
    assert scenes[0].data != scenes[1].data


@pytest.mark.parametrize("family", FAMILIES)
def test_all_variations_are_one_batch_with_the_registry_defaults(families, family,
                                                                  monkeypatch):
    _need(family)
    generator = _generator(families[family])
    spy = _Spy(generator.pipe)
    monkeypatch.setattr(generator, "pipe", spy)
    key = FAMILIES[family][0]
    process_image(png_bytes(studio_photo()), _config(
        families[family], variations=3, steps=None, frame_preset="custom:600x400:0.8"))
    (call,) = spy.calls
    assert call["num_images_per_prompt"] == 3 and len(call["generator"]) == 3
    if family == "sdxl":  # the fixture's folder is not named after a registry model
        assert (call["num_inference_steps"], call["guidance_scale"]) == (25, 7.0)
        assert generator.native_size == 256  # unet sample_size 32 × VAE factor 8
    else:
        spec = model(key)
        assert (call["num_inference_steps"], call["guidance_scale"]) == (spec.steps,
                                                                         spec.guidance)
        assert generator.native_size == spec.native_size == 1024
        assert not hasattr(generator.pipe, "unet")
    assert call["width"] % generator.multiple == 0 and call["height"] % generator.multiple == 0
    assert (call["width"], max(call["width"], call["height"])) == (128, 128)
    if family == "flux2-klein":
        assert "negative_prompt" not in call  # FLUX.2 takes none: not passed
    else:
        assert call["negative_prompt"]


@pytest.mark.parametrize("family", ["z-image", "flux2-klein"])
def test_a_folder_the_registry_does_not_know_loads_by_its_own_config(families, family,
                                                                      tmp_path):
    """No registry row: the class from model_index.json, the size from the pipeline."""
    _need(family)
    folder = shutil.copytree(families[family], tmp_path / "my-own-model")
    generator = _generator(folder)
    assert generator.spec is None and generator.default_steps == 25
    assert type(generator.pipe).__name__ == model(FAMILIES[family][0]).pipeline
    scale = generator.pipe.vae_scale_factor
    default = getattr(generator.pipe, "default_sample_size", None)
    assert generator.native_size == (default * scale if default else 1024)


@pytest.mark.parametrize("family", ["z-image", "flux2-klein"])
def test_deadline_is_enforced_between_steps(families, family, monkeypatch):
    _need(family)
    import pipeline.backends.diffusers_scenes as module
    from pipeline.presets import SCENE_PRESETS
    from pipeline.runner import scene_layer
    from pipeline.stages.frame import crop_product

    generator = _generator(families[family])
    clock = iter(range(1, 1000))
    monkeypatch.setattr(module.time, "monotonic", lambda: float(next(clock)))
    product = np.zeros((40, 40, 4), np.uint8)
    product[...] = (200, 20, 20, 255)
    layer = scene_layer(crop_product(product), (256, 256), SCENE_PRESETS["studio-sweep"])
    with pytest.raises(GenerationTimeout) as info:
        generator.generate(product=layer, preset=SCENE_PRESETS["studio-sweep"], seeds=[0, 1],
                           deadline=2.5, config=_config(families[family], steps=4))
    assert info.value.message == "Scene generation passed its deadline after 2 of 4 steps."
