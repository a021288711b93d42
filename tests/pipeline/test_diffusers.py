"""Scene generation through the real ``diffusers:<folder>`` path, with tiny random pipelines.

The pipelines are built and saved by the session fixture ``tiny_models`` and loaded back the
way production loads a model folder. Their pictures are noise; sizes, batching, seeds, deadlines,
the out-of-memory retry, compositing and fidelity are real.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from pipeline import (
    ConfigError,
    DeviceUnavailable,
    GenerationTimeout,
    ModelNotFound,
    OutOfMemory,
    PipelineConfig,
    prepare,
    process_image,
)
from pipeline.backends import get_scene_generator
from tests.pipeline.factories import png_bytes, studio_photo

torch = pytest.importorskip("torch")
CUDA = torch.cuda.is_available()


def _config(folder, **overrides) -> PipelineConfig:
    values = {"scene_generator": f"diffusers:{folder}", "frame_preset": "custom:512x512:0.8",
              "steps": 2, "enhance": False}
    values.update(overrides)
    return PipelineConfig(**values)


def _generator(folder, **options):
    values = {"device": "cpu", "dtype": "float32", "scheduler": None, "lora": None,
              "lora_scale": 1.0}
    values.update(options)
    return get_scene_generator(f"diffusers:{folder}", **values)


class _Spy:
    """Wraps a pipeline: records each call, can fail the first ``fail`` calls with OOM."""

    def __init__(self, pipe, fail: int = 0) -> None:
        self._pipe = pipe
        self.calls: list[dict] = []
        self.fail = fail

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.fail:
            self.fail -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self._pipe(**kwargs)

    def __getattr__(self, name):
        return getattr(self._pipe, name)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_inpainting_scenes_have_exact_product_pixels(tiny_models, kind):
    config = _config(tiny_models[kind], variations=2, seed=7)
    result = process_image(png_bytes(studio_photo()), config)
    scenes = [o for o in result.outputs if o.kind == "scene"]
    assert [(o.preset, o.seed) for o in scenes] == [("studio-sweep", 7), ("studio-sweep", 8)]
    for scene in scenes:
        assert scene.generator == f"diffusers:{tiny_models[kind]}"
        assert (scene.width, scene.height) == (512, 512)
        assert Image.open(io.BytesIO(scene.data)).size == (512, 512)
        assert scene.metrics["product_max_abs_diff"] == 0
        assert scene.metrics["product_pixels_compared"] > 5_000
    assert scenes[0].data != scenes[1].data
    # The same product pixels as the framed output, where both are opaque.
    framed = np.asarray(Image.open(io.BytesIO(result.outputs[0].data)))
    assert framed.shape == (512, 512, 3)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_variations_are_one_batch_at_the_native_size(tiny_models, kind, monkeypatch):
    generator = _generator(tiny_models[kind])
    spy = _Spy(generator.pipe)
    monkeypatch.setattr(generator, "pipe", spy)
    process_image(png_bytes(studio_photo()), _config(
        tiny_models[kind], variations=3, frame_preset="custom:600x400:0.8"))
    assert len(spy.calls) == 1
    call = spy.calls[0]
    assert call["num_images_per_prompt"] == 3
    assert len(call["generator"]) == 3
    assert generator.native_size == 256  # sample_size 32 × VAE factor 8
    assert (call["width"], call["height"]) == (256, 168)  # 600x400 at 256, multiples of 8
    assert call["image"].size == (256, 168) and call["mask_image"].mode == "L"
    mask = np.asarray(call["mask_image"])
    assert set(np.unique(mask)) == {0, 255}
    assert mask[0, 0] == 255  # the backdrop is repainted ...
    assert mask[84, 128] == 0  # ... the (dilated) product is kept


def test_scene_size_setting_overrides_native_size(tiny_models, monkeypatch):
    generator = _generator(tiny_models["sdxl"])
    spy = _Spy(generator.pipe)
    monkeypatch.setattr(generator, "pipe", spy)
    result = process_image(png_bytes(studio_photo()), _config(tiny_models["sdxl"],
                                                              scene_size=128))
    assert (spy.calls[0]["width"], spy.calls[0]["height"]) == (128, 128)
    assert (result.outputs[1].width, result.outputs[1].height) == (512, 512)


def test_deadline_is_enforced_between_steps(tiny_models, monkeypatch):
    import pipeline.backends.diffusers_scenes as module

    clock = iter(range(1, 1000))
    monkeypatch.setattr(module.time, "monotonic", lambda: float(next(clock)))
    generator = _generator(tiny_models["sd"])
    from pipeline.presets import SCENE_PRESETS
    from pipeline.runner import scene_layer
    from pipeline.stages.frame import crop_product

    product = np.zeros((40, 40, 4), np.uint8)
    product[...] = (200, 20, 20, 255)
    layer = scene_layer(crop_product(product), (256, 256), SCENE_PRESETS["studio-sweep"])
    config = _config(tiny_models["sd"], steps=4)
    # t=1 at the start check, t=2 after step 1, t=3 after step 2: past a deadline of 2.5.
    with pytest.raises(GenerationTimeout) as info:
        generator.generate(product=layer, preset=SCENE_PRESETS["studio-sweep"], seeds=[0],
                           deadline=2.5, config=config)
    assert info.value.message == "Scene generation passed its deadline after 2 of 4 steps."
    assert info.value.retryable is True


def test_out_of_memory_retries_once_degraded(tiny_models, monkeypatch):
    generator = _generator(tiny_models["sd"], scheduler="EulerDiscreteScheduler")
    monkeypatch.setattr(generator, "_degraded", False)
    spy = _Spy(generator.pipe, fail=1)
    monkeypatch.setattr(generator, "pipe", spy)
    result = process_image(png_bytes(studio_photo()), _config(
        tiny_models["sd"], variations=2, scheduler="EulerDiscreteScheduler"))
    assert [c["num_images_per_prompt"] for c in spy.calls] == [2, 1, 1]  # batch, then one by one
    assert generator._degraded is True
    assert len([o for o in result.outputs if o.kind == "scene"]) == 2


def test_out_of_memory_twice_fails_without_more_retries(tiny_models, monkeypatch):
    generator = _generator(tiny_models["sd"], scheduler="DDIMScheduler")
    spy = _Spy(generator.pipe, fail=5)
    monkeypatch.setattr(generator, "pipe", spy)
    with pytest.raises(OutOfMemory) as info:
        process_image(png_bytes(studio_photo()), _config(
            tiny_models["sd"], variations=2, scheduler="DDIMScheduler"))
    assert len(spy.calls) == 2  # the batch, then the first degraded try; nothing after
    assert info.value.retryable is False


def test_unknown_scheduler_lists_compatible_ones(tiny_models):
    with pytest.raises(ConfigError) as info:
        _generator(tiny_models["sd"], scheduler="WarpDriveScheduler")
    assert "EulerDiscreteScheduler" in info.value.message


def test_missing_model_folder_and_uncached_hub_id(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFound):
        _generator(tmp_path / "no-such-model")
    with pytest.raises(ModelNotFound) as info:
        _generator("photosync-tests/not-a-real-inpainting-model")
    assert "hf download photosync-tests/not-a-real-inpainting-model" in info.value.message


def test_float16_on_cpu_is_refused(tiny_models):
    with pytest.raises(ConfigError):
        _generator(tiny_models["sd"], dtype="float16")


@pytest.mark.skipif(CUDA, reason="this host has a GPU")
def test_cuda_without_gpu_refuses_to_start(tiny_models):
    config = _config(tiny_models["sd"], device="cuda", dtype="float16")
    with pytest.raises(DeviceUnavailable) as info:
        prepare(config)
    assert "refusing to fall back to the CPU" in info.value.message


def test_prepare_loads_the_generator_once(tiny_models):
    config = _config(tiny_models["sdxl"])
    assert prepare(config) == []
    assert _generator(tiny_models["sdxl"]) is _generator(tiny_models["sdxl"])


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_cuda_fp16_four_variations_at_1024(tiny_models, kind):
    config = _config(tiny_models[kind], device="cuda", dtype="float16", variations=4,
                     scene_size=1024, frame_preset="custom:1024x1024:0.8", steps=4)
    prepare(config)
    process_image(png_bytes(studio_photo()), config)  # warm-up at the production size
    started = time.perf_counter()
    result = process_image(png_bytes(studio_photo((1024, 1024))), config)
    elapsed = time.perf_counter() - started
    scenes = [o for o in result.outputs if o.kind == "scene"]
    assert len(scenes) == 4
    assert all(o.metrics["product_max_abs_diff"] == 0 for o in scenes)
    print(f"\n{kind} cuda fp16: cutout + 4 scenes at 1024²: {elapsed:.2f} s per product")
