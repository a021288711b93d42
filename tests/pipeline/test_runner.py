"""process_image end to end on the CPU path: outputs, metrics, timings, exact product pixels."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import (
    FRAME_PRESETS,
    SCENE_PRESETS,
    STAGES,
    ConfigError,
    PipelineConfig,
    process_image,
)
from pipeline.flags import Flag, codes
from tests.pipeline.factories import SAMPLES, encode, png_bytes, studio_photo

REPO = Path(__file__).resolve().parents[2]


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_default_config_gives_white_square_and_one_scene(studio_jpeg):
    result = process_image(studio_jpeg, PipelineConfig())
    assert [(o.kind, o.preset) for o in result.outputs] == [
        ("framed", "white-square"), ("scene", "studio-sweep")]
    framed, scene = result.outputs
    assert (framed.width, framed.height) == (2048, 2048)
    assert (scene.width, scene.height) == (2048, 2048)
    assert framed.content_type == "image/png" and framed.extension == ".png"
    assert _decode(framed.data).shape == (2048, 2048, 3)
    assert framed.generator == "classical" and framed.seed is None
    assert scene.generator == "procedural" and scene.seed == 0
    assert result.segmenter == "classical"
    assert set(result.timings) == set(STAGES)
    assert all(t >= 0 for t in result.timings.values())
    mask = Image.open(io.BytesIO(result.mask_png))
    assert mask.mode == "L" and mask.size == (400, 300)
    assert result.source_size == (400, 300)


def test_metrics_are_json_and_product_pixels_are_exact(studio_jpeg):
    result = process_image(studio_jpeg, PipelineConfig(variations=2))
    for output in result.outputs:
        json.dumps(output.metrics)  # JSON-serialisable, no numpy scalars
        assert output.metrics["product_max_abs_diff"] == 0
        assert output.metrics["product_mean_abs_diff"] == 0.0
        assert output.metrics["product_pixels_compared"] > 10_000
        assert output.metrics["mask_components"] == 1
    framed = result.outputs[0]
    assert framed.metrics["background_purity_outside_shadow"] == 1.0
    assert abs(framed.metrics["fill_ratio"] - 0.8) <= 0.002
    assert framed.flags == [Flag(  # a 400x300 photo blown up to fill 80% of 2048²
        "low_resolution", f"The photo is low resolution: the product was enlarged "
        f"{framed.metrics['product_scale']:.1f}x for this output and may look soft.")]


def test_native_frame_without_enhancement_keeps_source_pixels_exactly():
    source = studio_photo((400, 300))
    config = PipelineConfig(frame_preset="custom:600x500:native", enhance=False,
                            scene_presets=("oak-table", "dark-luxe"), shadow="drop")
    result = process_image(png_bytes(source), config)
    mask = _decode(result.mask_png)
    rgb = np.asarray(source)
    ys, xs = np.nonzero(mask > 8)  # the product's box, as the frame stage measures it
    framed = _decode(result.outputs[0].data)
    # The product sits centred at scale 1: map source pixels into the frame and compare.
    x0, y0 = xs.min(), ys.min()
    fx = round(600 / 2 - (xs.max() - x0 + 1) / 2) - x0
    fy = round(500 / 2 - (ys.max() - y0 + 1) / 2) - y0
    inner = (mask == 255)
    inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]
    ys, xs = np.nonzero(inner)
    assert np.array_equal(framed[ys + fy, xs + fx], rgb[ys, xs])
    assert result.outputs[0].metrics["product_scale"] == 1.0


def test_scene_variations_and_custom_prompt():
    config = PipelineConfig(frame_preset="custom:512x512:0.8",
                            scene_presets=("marble-counter", "pastel-pop"),
                            custom_prompt="on warm oak wood", variations=2, seed=10)
    result = process_image(png_bytes(studio_photo()), config)
    scenes = [o for o in result.outputs if o.kind == "scene"]
    assert [(o.preset, o.seed) for o in scenes] == [
        ("marble-counter", 10), ("marble-counter", 11), ("pastel-pop", 10), ("pastel-pop", 11),
        ("custom", 10), ("custom", 11)]
    assert config.scene_count == 6
    assert scenes[-1].metrics["prompt"] == "on warm oak wood"
    assert scenes[0].data != scenes[1].data  # variations differ
    for scene in scenes:
        assert (scene.width, scene.height) == (512, 512)
        assert scene.metrics["product_max_abs_diff"] == 0


def test_transparent_preset_is_a_trimmed_png_without_shadow():
    result = process_image(png_bytes(studio_photo()), PipelineConfig(
        frame_preset="transparent", scene_presets=(), output_format="jpeg"))
    (framed,) = result.outputs
    image = _decode(framed.data)
    assert framed.content_type == "image/png" and image.shape[2] == 4
    assert image[0, 0, 3] == 0
    assert framed.metrics["shadow"] == "none"
    assert framed.width < 400 and framed.height < 300  # trimmed to the product


@pytest.mark.parametrize("fmt,mime", [("jpeg", "image/jpeg"), ("webp", "image/webp")])
def test_lossy_output_formats(fmt, mime):
    result = process_image(png_bytes(studio_photo()), PipelineConfig(
        frame_preset="custom:256x256:0.8", output_format=fmt))
    assert {o.content_type for o in result.outputs} == {mime}
    assert Image.open(io.BytesIO(result.outputs[1].data)).format == fmt.upper()


def test_marketplace_preset_fills_85_percent_and_flags_a_shadow():
    result = process_image(png_bytes(studio_photo()), PipelineConfig(
        frame_preset="marketplace", scene_presets=(), shadow="contact"))
    (framed,) = result.outputs
    assert (framed.width, framed.height) == (2000, 2000)
    assert abs(framed.metrics["fill_ratio"] - 0.85) <= 0.002
    shadow_flag = (
        f"The shadow leaves only {framed.metrics['background_purity']:.1%} of the background "
        "pure white; marketplaces may reject it (use shadow 'none').")
    assert Flag("shadow_not_white", shadow_flag) in framed.flags
    clean = process_image(png_bytes(studio_photo()), PipelineConfig(
        frame_preset="marketplace", scene_presets=(), shadow="none")).outputs[0]
    assert clean.metrics["background_purity"] == 1.0
    assert "shadow_not_white" not in codes(clean.flags)


def test_low_resolution_source_is_flagged():
    small = studio_photo((120, 90))
    (framed,) = process_image(png_bytes(small), PipelineConfig(scene_presets=())).outputs
    assert framed.metrics["product_scale"] > 2.5
    assert "low_resolution" in codes(framed.flags)
    assert any(f.message.startswith("The photo is low resolution") for f in framed.flags)


def test_presets_are_exported_for_settings_validation():
    assert {"white-square", "transparent", "marketplace"} <= set(FRAME_PRESETS)
    assert "studio-sweep" in SCENE_PRESETS
    with pytest.raises(ConfigError):
        PipelineConfig(scene_presets=("nope",))
    with pytest.raises(ConfigError):
        PipelineConfig(variations=0)
    with pytest.raises(ConfigError):
        PipelineConfig(output_format="gif")
    with pytest.raises(ConfigError):
        PipelineConfig(scene_generator="dall-e")
    assert PipelineConfig(scene_presets=["pastel-pop"]).scene_presets == ("pastel-pop",)


def test_classical_procedural_run_imports_no_model_framework():
    probe = (
        "import sys; from pipeline import PipelineConfig, process_image;"
        "from tests.pipeline.factories import png_bytes, studio_photo;"
        "process_image(png_bytes(studio_photo()),"
        " PipelineConfig(frame_preset='custom:256x256:0.8'));"
        "heavy = ('torch', 'diffusers', 'transformers', 'onnxruntime', 'rembg', 'django',"
        " 'photosync', 'pymatting', 'numba');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/data/products is not beside the repo")
def test_a_real_sample_photo_runs_clean():
    # (the bag mb01-blue-0 is flagged mask_uncertain: its handle loops could be white parts)
    data = (SAMPLES / "mg01-bk-0.jpg").read_bytes()
    result = process_image(data, PipelineConfig(frame_preset="custom:1024x1024:0.8"))
    framed = result.outputs[0]
    assert framed.flags == []
    assert 0.3 < framed.metrics["mask_area_fraction"] < 0.45
    # A good studio photo: enhancement leaves it alone, and the output shows it exactly.
    assert framed.metrics["enhanced"] is False
    assert framed.metrics["enhance_change_delta_e_mean"] == 0.0
    assert framed.metrics["output_delta_e_mean"] == 0.0


def test_jpeg_input_equals_png_input_path(studio_png):
    a = process_image(studio_png, PipelineConfig(scene_presets=(),
                                                 frame_preset="custom:300x300:0.8"))
    b = process_image(studio_png, PipelineConfig(scene_presets=(),
                                                 frame_preset="custom:300x300:0.8"))
    assert a.outputs[0].data == b.outputs[0].data  # deterministic
    assert encode  # the JPEG path is covered by the default-config test
