"""Fidelity that cannot pass vacuously under a model segmenter.

rembg-style masks put the product's inside at alpha ~0.98, never 255. A tiny ONNX model built
here (factories.build_soft_onnx_segmenter) does exactly that; through it, the confident core is
snapped opaque, pasted unchanged into every scene, and the check compares >= 95% of it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline import PipelineConfig, process_image
from pipeline.backends import clear_cache, get_segmenter
from pipeline.flags import codes
from pipeline.presets import scene_preset
from pipeline.runner import RunContext, _enhance, scene_layer
from pipeline.segmenting import segment
from pipeline.stages.cutout import EDGE_BAND_PX, decontaminate
from pipeline.stages.frame import crop_product
from pipeline.stages.load import load_image
from tests.pipeline.factories import build_soft_onnx_segmenter, decode, encode, studio_photo


@pytest.fixture(autouse=True)
def _fresh_backends():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def soft_model(tmp_path):
    return f"rembg-file:{build_soft_onnx_segmenter(tmp_path / 'soft.onnx')}"


PHOTO = encode(studio_photo((400, 300)), "PNG")


def _config(segmenter: str) -> PipelineConfig:
    return PipelineConfig(segmenter=segmenter, frame_preset="custom:600x600:0.8",
                          scene_presets=("studio-sweep",), variations=3)


def test_the_model_mask_is_soft_inside_as_rembg_masks_are(soft_model):
    alpha = get_segmenter(soft_model).segment(np.asarray(studio_photo((400, 300)))).alpha
    inside = alpha[100:200, 150:250]  # well inside the product's ellipse
    assert 245 <= int(np.median(inside)) <= 252
    # 255 only at the peak and in thin resize overshoots along the edge
    assert (alpha == 255).sum() < 0.05 * (alpha >= 128).sum() and (alpha[:20] == 0).all()


def test_product_pixels_are_identical_in_every_scene_and_the_check_covers_them(soft_model):
    config = _config(soft_model)
    result = process_image(PHOTO, config)
    framed, *scenes = result.outputs
    assert len(scenes) == 3
    for output in result.outputs:
        assert output.metrics["product_compared_share"] >= 0.95, output.preset
        assert output.metrics["product_max_abs_diff"] == 0
        assert "fidelity_low_coverage" not in codes(output.flags)
    assert framed.metrics["mask_core_snapped_px"] > 10_000
    # Independently: rebuild the prepared product layer and read the encoded scenes.
    run = RunContext.start(config)
    with run.energy:
        run.loaded = load_image(PHOTO, max_bytes=10**8, max_pixels=10**8)
        run.rgb = np.ascontiguousarray(run.loaded.rgba[..., :3])
        segment(run)
        _enhance(run)
    layer = scene_layer(crop_product(run.cutout), (600, 600), scene_preset("studio-sweep"))
    x0, y0, x1, y1 = layer.box
    opaque = layer.rgba[..., 3] == 255
    product = layer.rgba[..., 3] >= 128
    # The core: product pixels more than the resize's reach (3 source px) inside the edge.
    depth = cv2.distanceTransform(product.astype(np.uint8), cv2.DIST_L2, 5)
    core = depth > 2 + 3 * max(1.0, layer.scale)
    assert core.sum() > 0.6 * product.sum()
    assert (opaque & core).sum() >= 0.95 * core.sum()
    pixels = [decode(s.data)[y0:y1, x0:x1, :3] for s in scenes]
    for patch in pixels:
        assert (patch[opaque] == layer.rgba[..., :3][opaque]).all()
    # ...while the backgrounds around it do differ between the variations.
    assert any((p[~product] != pixels[0][~product]).any() for p in pixels[1:])


def test_without_the_snap_the_check_fails_instead_of_passing(soft_model, monkeypatch):
    monkeypatch.setattr("pipeline.segmenting.snap_alpha", lambda alpha: (alpha, 0))
    result = process_image(PHOTO, _config(soft_model))
    for output in result.outputs:
        assert output.metrics["product_pixels_compared"] == 0
        assert output.metrics["product_compared_share"] == 0.0
        assert "fidelity_low_coverage" in codes(output.flags)


def test_decontamination_touches_only_the_edge_band():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    alpha = np.zeros((200, 200), np.uint8)
    alpha[40:160, 40:160] = 249  # a soft model mask, not yet snapped
    out = decontaminate(rgb, alpha)
    changed = (out != rgb).any(axis=2)
    band = np.zeros_like(changed)
    band[40:160, 40:160] = True
    band[40 + EDGE_BAND_PX:160 - EDGE_BAND_PX, 40 + EDGE_BAND_PX:160 - EDGE_BAND_PX] = False
    assert changed[band].mean() > 0.5  # the edge band is unmixed...
    assert not changed[~band].any()  # ...and nothing deeper inside or outside is touched
