"""Stages on their own: colour maths, enhance, frame, shadow, composite, fidelity, encode."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline import FRAME_PRESETS, SCENE_PRESETS, ConfigError, PipelineConfig
from pipeline.backends.procedural import render_backdrop
from pipeline.presets import custom_scene, frame_preset, scene_preset
from pipeline.stages.color import delta_e_2000, srgb_to_lab
from pipeline.stages.composite import composite, solid_canvas
from pipeline.stages.encode import encode, encode_mask
from pipeline.stages.enhance import enhance
from pipeline.stages.fidelity import (
    mask_flags,
    mask_metrics,
    product_fidelity,
    white_background_metrics,
)
from pipeline.stages.frame import frame_layer, product_bbox
from pipeline.stages.shadow import make_shadow


def _cutout(width=300, height=200, colour=(30, 60, 200)) -> np.ndarray:
    """A soft-edged ellipse cutout (straight alpha) on a transparent canvas."""
    big = Image.new("L", (width * 4, height * 4), 0)
    from PIL import ImageDraw

    ImageDraw.Draw(big).ellipse((width, height, width * 3, height * 3), fill=255)
    alpha = np.asarray(big.resize((width, height), Image.Resampling.BOX))
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = alpha
    return rgba


def test_ciede2000_matches_sharma_reference_pairs():
    lab1 = np.array([[50.0, 2.6772, -79.7751], [50.0, 0.0, 0.0], [50.0, 2.5, 0.0]])
    lab2 = np.array([[50.0, 0.0, -82.7485], [50.0, -1.0, 2.0], [73.0, 25.0, -18.0]])
    assert np.round(delta_e_2000(lab1, lab2), 4).tolist() == [2.0425, 2.3669, 27.1492]


def test_srgb_white_is_lab_100():
    assert np.round(srgb_to_lab(np.array([255, 255, 255])), 3).tolist() == [100.0, 0.0, 0.0]


def _underexposed_studio_photo() -> tuple[np.ndarray, np.ndarray]:
    """A grey-ish product on a white backdrop, both at -0.5 EV (the backdrop reads 218)."""
    rng = np.random.default_rng(0)
    rgb = np.full((120, 160, 3), 218, np.uint8)
    alpha = np.zeros((120, 160), np.uint8)
    alpha[30:90, 40:120] = 255
    rgb[30:90, 40:120] = np.clip(rng.normal(90, 20, (60, 80, 3)), 0, 255).astype(np.uint8)
    return rgb, alpha


def test_enhance_lifts_an_underexposed_backdrop_within_the_safety_limit():
    rgb, alpha = _underexposed_studio_photo()
    out, report = enhance(rgb, alpha, max_delta_e=12.0)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert report.applied is True and report.evidence == "backdrop"
    assert 0.45 <= report.ev <= 0.55 and out[0, 0].min() >= 253  # the backdrop is white again
    limited, capped = enhance(rgb, alpha, max_delta_e=1.5)
    assert capped.change_delta_e_mean <= 1.5 + 1e-9 and capped.strength < 1.0
    assert not np.array_equal(limited, rgb)
    zero, none = enhance(rgb, alpha, max_delta_e=0.0)
    assert np.array_equal(zero, rgb) and none.applied is False and none.change_delta_e_mean == 0.0


def test_enhance_does_not_grey_or_lift_a_saturated_product():
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[...] = (20, 60, 210)  # a blue bag filling the frame: no neutral pixels, no backdrop
    out, report = enhance(rgb, np.full((64, 64), 255, np.uint8), max_delta_e=12.0)
    assert report.applied is False and report.gains == (1.0, 1.0, 1.0)
    assert np.array_equal(out, rgb)


def test_frame_presets_are_known_and_custom_parses():
    assert list(FRAME_PRESETS) == ["white-square", "transparent", "marketplace"]
    custom = frame_preset("custom:1200x800:75%:#F0F0F0")
    assert (custom.width, custom.height, custom.fill, custom.background) == (
        1200, 800, 0.75, (240, 240, 240))
    assert frame_preset("custom:640x640:native").fill is None
    for bad in ("custom:10x10:0.5", "custom:640x640:2", "custom:640x640:big", "square"):
        with pytest.raises(ConfigError):
            frame_preset(bad)


def test_white_square_fills_eighty_percent_centred():
    layer = frame_layer(_cutout(), FRAME_PRESETS["white-square"])
    assert layer.canvas == (2048, 2048)
    x0, y0, x1, y1 = product_bbox(layer.rgba[..., 3])
    width = x1 - x0
    assert abs(width - 0.8 * 2048) <= 2
    centre_x = layer.x + (x0 + x1) / 2
    assert abs(centre_x - 1024) <= 1


def test_transparent_preset_is_trimmed_at_source_scale():
    cutout = _cutout()
    layer = frame_layer(cutout, FRAME_PRESETS["transparent"])
    x0, y0, x1, y1 = product_bbox(cutout[..., 3])
    margin = round(max(x1 - x0, y1 - y0) * 0.02)
    assert layer.canvas == (x1 - x0 + 2 * margin, y1 - y0 + 2 * margin)
    assert layer.scale == 1.0
    assert np.array_equal(layer.rgba, cutout[y0:y1, x0:x1])


def _centroid(weights: np.ndarray, x: int, y: int) -> tuple[float, float]:
    ys, xs = np.indices(weights.shape)
    total = weights.sum()
    return x + (xs * weights).sum() / total, y + (ys * weights).sum() / total


def test_contact_shadow_lies_along_the_base():
    layer = frame_layer(_cutout(), frame_preset("custom:800x800:0.6"))
    shadow = make_shadow(layer, "contact")
    assert 0.3 < float(shadow.opacity.max()) <= 0.6
    x0, _, x1, y1 = layer.box
    darkest_row = shadow.y + int(np.argmax(shadow.opacity.max(axis=1)))
    assert abs(darkest_row - y1) <= 8
    cx, _ = _centroid(shadow.opacity, shadow.x, shadow.y)
    assert abs(cx - (x0 + x1) / 2) <= 2
    assert make_shadow(layer, "none") is None
    with pytest.raises(ValueError):
        make_shadow(layer, "neon")


def test_drop_shadow_falls_down_and_right():
    layer = frame_layer(_cutout(), frame_preset("custom:800x800:0.6"))
    shadow = make_shadow(layer, "drop")
    assert 0.2 < float(shadow.opacity.max()) <= 0.6
    px, py = _centroid(layer.rgba[..., 3].astype(float), layer.x, layer.y)
    sx, sy = _centroid(shadow.opacity, shadow.x, shadow.y)
    assert 5 < sx - px < 30 and 5 < sy - py < 30


def test_composite_keeps_opaque_product_pixels_exact_over_any_background():
    layer = frame_layer(_cutout(colour=(12, 34, 56)), frame_preset("custom:600x600:0.7"))
    background = render_backdrop(SCENE_PRESETS["oak-table"].backdrop, (600, 600), seed=3)
    image = composite(background, layer, make_shadow(layer, "contact"))
    fidelity = product_fidelity(image, layer)
    assert fidelity["product_max_abs_diff"] == 0
    assert fidelity["product_pixels_compared"] > 50_000
    x0, y0, x1, y1 = layer.box
    opaque = layer.rgba[..., 3] == 255
    assert np.array_equal(image[y0:y1, x0:x1][opaque], layer.rgba[..., :3][opaque])


def test_composite_on_transparent_canvas_keeps_alpha():
    layer = frame_layer(_cutout(), FRAME_PRESETS["transparent"])
    image = composite(solid_canvas(layer.canvas, None), layer, None)
    assert image.shape[2] == 4
    x0, y0, x1, y1 = layer.box
    visible = layer.rgba[..., 3] > 0
    assert np.array_equal(image[y0:y1, x0:x1][visible], layer.rgba[visible])
    assert (image[y0:y1, x0:x1][~visible][:, 3] == 0).all()
    assert image[0, 0, 3] == 0


def test_white_background_metrics_separate_shadow_from_impurity():
    layer = frame_layer(_cutout(), frame_preset("custom:800x800:0.8"))
    shadow = make_shadow(layer, "contact")
    image = composite(solid_canvas(layer.canvas, (255, 255, 255)), layer, shadow)
    metrics = white_background_metrics(image, layer, shadow)
    assert metrics["background_purity_outside_shadow"] == 1.0
    assert metrics["background_purity"] < 1.0
    assert metrics["fill_ratio"] == 0.8
    clean = composite(solid_canvas(layer.canvas, (255, 255, 255)), layer, None)
    assert white_background_metrics(clean, layer)["background_purity"] == 1.0


def test_mask_metrics_and_flags():
    alpha = np.zeros((100, 100), np.uint8)
    alpha[20:60, 20:60] = 255
    metrics = mask_metrics(alpha)
    assert metrics["mask_area_fraction"] == 0.16
    assert metrics["mask_components"] == 1
    assert metrics["mask_border_contact"] == 0.0
    assert mask_flags(metrics) == []
    alpha[70:100, 0:100] = 255  # a second big part glued to the bottom edge
    flags = mask_flags(mask_metrics(alpha))
    assert [f.code for f in flags] == ["mask_fragmented", "touches_edge"]
    assert flags[0].message.startswith("The cutout has 2 separate parts")
    assert flags[1].message.startswith("The product touches the photo's edge")


@pytest.mark.parametrize("fmt,mime,ext", [("png", "image/png", ".png"),
                                          ("jpeg", "image/jpeg", ".jpg"),
                                          ("webp", "image/webp", ".webp")])
def test_encode_formats(fmt, mime, ext):
    image = np.full((40, 60, 3), 200, np.uint8)
    encoded = encode(image, fmt)
    assert (encoded.content_type, encoded.extension) == (mime, ext)
    assert Image.open(io.BytesIO(encoded.data)).size == (60, 40)


def test_encode_transparent_is_always_png():
    encoded = encode(np.zeros((10, 10, 4), np.uint8), "jpeg")
    assert encoded.format == "png" and encoded.data[:4] == b"\x89PNG"


def _photo_like(channels: int) -> np.ndarray:
    """A textured backdrop with noise (and a ramp of alpha): what compresses like an output."""
    image = render_backdrop(SCENE_PRESETS["marble-counter"].backdrop, (160, 120), seed=3)
    noise = np.random.default_rng(0).integers(0, 6, image.shape, dtype=np.uint8)
    image = image // 2 + noise
    if channels == 4:
        alpha = np.repeat(np.linspace(0, 255, 160).astype(np.uint8)[None, :], 120, axis=0)
        image = np.dstack([image, alpha])
    return image


@pytest.mark.parametrize("channels,mode", [(3, "RGB"), (4, "RGBA")])
def test_png_compression_trades_bytes_never_pixels(channels, mode):
    image = _photo_like(channels)
    sizes = {}
    for level in (0, 1, 2, 6, 9):
        data = encode(image, "png", png_compression=level).data
        decoded = Image.open(io.BytesIO(data))
        assert decoded.mode == mode
        assert np.array_equal(np.asarray(decoded), image), level  # channel order included
        sizes[level] = len(data)
    assert sizes[0] > image.nbytes  # stored: every byte of every row, plus framing
    assert sizes[0] > sizes[1] >= sizes[2] >= sizes[6] >= sizes[9]
    alpha = image[..., 0]
    mask = Image.open(io.BytesIO(encode_mask(alpha, 9)))
    assert mask.mode == "L" and np.array_equal(np.asarray(mask), alpha)


def test_png_compression_is_a_zlib_level():
    with pytest.raises(ValueError, match="0..9"):
        encode(np.zeros((4, 4, 3), np.uint8), "png", png_compression=10)
    with pytest.raises(ConfigError, match="png_compression must be 0..9"):
        PipelineConfig(png_compression=-1)


def test_the_setting_reaches_the_pipeline(settings):
    from photosync.services.generation_config import worker_pipeline_config

    assert worker_pipeline_config().png_compression == 2
    settings.PHOTOSYNC_PNG_COMPRESSION = 7
    assert worker_pipeline_config().png_compression == 7


def test_a_kept_backdrop_is_handed_out_fresh_each_time():
    backdrop = SCENE_PRESETS["oak-table"].backdrop
    first = render_backdrop(backdrop, (300, 200), seed=5)
    kept = first.copy()
    first[...] = 0  # a caller painting on its background must not paint on the next one's
    second = render_backdrop(backdrop, (300, 200), seed=5)
    assert np.array_equal(second, kept) and second.flags.writeable
    small = render_backdrop(backdrop, (64, 48), seed=5)  # rendered at canvas size: a copy too
    small[...] = 0
    assert render_backdrop(backdrop, (64, 48), seed=5).any()


def test_scene_presets_are_data_with_prompts():
    assert "studio-sweep" in SCENE_PRESETS and len(SCENE_PRESETS) >= 6
    for preset in SCENE_PRESETS.values():
        assert preset.prompt and preset.negative_prompt and preset.title
    with pytest.raises(ConfigError) as info:
        scene_preset("moon-base")
    assert "studio-sweep" in info.value.message


def test_custom_prompt_picks_a_matching_backdrop():
    scene = custom_scene("on a dark marble slab")
    assert scene.name == "custom" and scene.prompt == "on a dark marble slab"
    assert scene.backdrop in (SCENE_PRESETS["dark-luxe"].backdrop,
                              SCENE_PRESETS["marble-counter"].backdrop)


def test_procedural_backdrops_are_deterministic_and_vary_by_seed():
    backdrop = SCENE_PRESETS["marble-counter"].backdrop
    first = render_backdrop(backdrop, (320, 240), seed=1)
    assert first.shape == (240, 320, 3)
    assert np.array_equal(first, render_backdrop(backdrop, (320, 240), seed=1))
    assert not np.array_equal(first, render_backdrop(backdrop, (320, 240), seed=2))
    for preset in SCENE_PRESETS.values():  # every preset renders, none is flat
        image = render_backdrop(preset.backdrop, (200, 200), seed=0)
        assert image.std() > 2.0, preset.name


def test_decontaminate_unmixes_edge_colours_and_keeps_opaque_pixels():
    from pipeline.stages.cutout import decontaminate

    product, backdrop = np.array([40, 80, 200], float), np.array([250, 250, 250], float)
    alpha = np.zeros((40, 40), np.uint8)
    alpha[10:30, 10:30] = 255
    alpha[10:30, 30] = 128  # a soft right edge
    a = alpha[..., None] / 255.0
    rgb = np.clip(product * a + backdrop * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    out = decontaminate(rgb, alpha)
    assert np.array_equal(out[alpha == 255], rgb[alpha == 255])
    assert np.array_equal(out[alpha == 0], rgb[alpha == 0])
    edge = out[10:30, 30].astype(int)
    assert np.abs(edge - product).max() <= 2  # the backdrop's white is gone from the edge
    assert np.abs(rgb[10:30, 30].astype(int) - product).max() > 50  # it was there before
