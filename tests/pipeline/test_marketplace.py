"""Marketplace defaults that pass their own check, on real studio photos: no shadow unless one is
asked for, 2000 px, fill 0.85, >= 99.5% #FFFFFF outside the product, measured on the file as
written (a lossy format's ringing counts)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline import PipelineConfig, process_image
from pipeline.flags import codes
from pipeline.presets import FRAME_PRESETS
from tests.pipeline.factories import SAMPLES

GOOD = ("mb03-black-0.jpg", "mg01-bk-0.jpg", "luma-yoga-brick.jpg")


def _framed(name: str, **config):
    result = process_image((SAMPLES / name).read_bytes(),
                           PipelineConfig(scene_presets=(), **config))
    return result.outputs[0]


@pytest.mark.parametrize("name", GOOD)
def test_marketplace_defaults_are_compliant_on_good_photos(name):
    framed = _framed(name, frame_preset="marketplace")
    assert framed.metrics["shadow"] == "none"
    assert (framed.width, framed.height) == (2000, 2000)
    assert framed.metrics["background_purity"] >= 0.995
    assert framed.metrics["fill_ratio"] >= 0.85 - 0.002
    assert framed.flags == []
    # Checked independently on the bytes: pure white outside the product's box.
    pixels = np.asarray(Image.open(io.BytesIO(framed.data)).convert("RGB"))
    not_white = np.argwhere((pixels != 255).any(axis=2))
    (y0, x0), (y1, x1) = not_white.min(axis=0), not_white.max(axis=0)
    assert max(x1 - x0 + 1, y1 - y0 + 1) / 2000 == pytest.approx(0.85, abs=0.003)
    outside = np.ones(pixels.shape[:2], bool)
    outside[y0:y1 + 1, x0:x1 + 1] = False
    assert (pixels[outside] == 255).all()


def test_a_shadow_on_marketplace_only_when_asked_and_then_flagged():
    asked = _framed("mg01-bk-0.jpg", frame_preset="marketplace", shadow="contact")
    assert asked.metrics["shadow"] == "contact"
    assert "shadow_not_white" in codes(asked.flags)
    # white-square is a storefront image: its own default keeps the contact shadow, and its
    # purity outside the shadow still has to be pure white.
    storefront = _framed("mg01-bk-0.jpg", frame_preset="white-square")
    assert storefront.metrics["shadow"] == "contact"
    assert storefront.metrics["background_purity_outside_shadow"] >= 0.995
    assert storefront.flags == []
    assert FRAME_PRESETS["white-square"].width >= 1500
    assert FRAME_PRESETS["marketplace"].width >= 1500


def test_purity_is_measured_on_the_encoded_file():
    """JPEG ringing around the product leaves off-white pixels the array never had; the check
    reads the file, so a lossy marketplace output is flagged rather than passed."""
    png = _framed("luma-stability-ball.jpg", frame_preset="marketplace")
    jpeg = _framed("luma-stability-ball.jpg", frame_preset="marketplace", output_format="jpeg")
    assert png.metrics["background_purity"] == 1.0 and png.flags == []
    assert jpeg.metrics["format"] == "jpeg"
    assert jpeg.metrics["background_purity"] < 0.995
    assert codes(jpeg.flags) == ["not_pure_white"]
    # The same canvas before encoding is the PNG's: the off-white pixels are the file's own.
    before = np.asarray(Image.open(io.BytesIO(png.data)).convert("RGB")) == 255
    after = np.asarray(Image.open(io.BytesIO(jpeg.data)).convert("RGB")) == 255
    lost = before.all(axis=2) & ~after.all(axis=2)
    assert lost.mean() > 0.002  # ringing: pure white in the array, off-white in the file
