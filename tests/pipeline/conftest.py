"""Fixtures for the pipeline tests (builders live in ``tests.pipeline.factories``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pipeline.factories import (
    build_tiny_onnx_segmenter,
    build_tiny_sd_inpaint,
    build_tiny_sdxl_inpaint,
    encode,
    png_bytes,
    studio_photo,
)


@pytest.fixture
def studio_jpeg() -> bytes:
    return encode(studio_photo(), "JPEG", quality=95)


@pytest.fixture
def studio_png() -> bytes:
    return png_bytes(studio_photo())


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Both tiny inpainting pipelines, built once per session (well under a second each)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = tmp_path_factory.mktemp("tiny-diffusers")
    return {
        "sd": build_tiny_sd_inpaint(root / "sd-inpaint"),
        "sdxl": build_tiny_sdxl_inpaint(root / "sdxl-inpaint"),
    }


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    return build_tiny_onnx_segmenter(tmp_path_factory.mktemp("onnx") / "tiny-seg.onnx")
