"""Segmenters: the classical one on a synthetic studio set, the registry, rembg, auto."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from pipeline import (
    ConfigError,
    ModelNotFound,
    PipelineConfig,
    UnknownBackend,
    prepare,
    process_image,
)
from pipeline.backends import clear_cache, get_segmenter, known_segmenters
from pipeline.backends.classical import ClassicalSegmenter, border_uniformity
from pipeline.flags import Flag
from tests.pipeline.factories import png_bytes, studio_photo, synthetic_studio_set


def _busy_photo() -> Image.Image:
    """Noise with a blue block: no backdrop a border flood fill could follow."""
    busy = np.random.default_rng(1).integers(0, 256, (200, 240, 3), dtype=np.uint8)
    busy[60:140, 80:160] = (20, 40, 200)
    return Image.fromarray(busy)


def _iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    p, t = predicted > 127, truth > 0.5
    return float((p & t).sum() / (p | t).sum())


def test_classical_mean_iou_on_synthetic_studio_set():
    segmenter = ClassicalSegmenter()
    scores = {name: _iou(segmenter.segment(rgb).alpha, alpha)
              for name, rgb, alpha in synthetic_studio_set()}
    assert len(scores) == 18
    assert np.mean(list(scores.values())) >= 0.94, scores
    # Each backdrop on its own clears the bar too (white, sweep, sweep with shadow).
    for backdrop in ("white/", "sweep/", "sweep-shadow/"):
        subset = [v for k, v in scores.items() if k.startswith(backdrop)]
        assert np.mean(subset) >= 0.94, (backdrop, subset)


def test_classical_alpha_is_soft_at_the_edge_and_source_sized():
    _, rgb, truth = synthetic_studio_set()[1]  # a ball with an anti-aliased edge, on white
    alpha = ClassicalSegmenter().segment(rgb).alpha
    assert alpha.shape == truth.shape and alpha.dtype == np.uint8
    assert alpha[208, 240] == 255 and alpha[5, 5] == 0
    soft = (alpha > 0) & (alpha < 255)
    assert soft.sum() > 300  # an anti-aliased edge, not a staircase
    # Where the truth is soft, the estimate is close to it.
    edge = (truth > 0.1) & (truth < 0.9)
    assert np.abs(alpha[edge] / 255.0 - truth[edge]).mean() < 0.2


def test_border_uniformity_tells_studio_from_busy():
    assert border_uniformity(np.asarray(studio_photo())) == 1.0
    rng = np.random.default_rng(0)
    busy = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    assert border_uniformity(busy) < 0.2


def test_unknown_segmenter_lists_known_names():
    with pytest.raises(UnknownBackend) as info:
        get_segmenter("magic")
    assert info.value.message == (
        "Unknown segmenter 'magic'; known: classical, rembg:<model>, "
        "rembg-file:<path to .onnx>, auto, removebg, photoroom."
    )
    assert known_segmenters() == ["classical", "rembg:<model>", "rembg-file:<path to .onnx>",
                                  "auto", "removebg", "photoroom"]


def test_config_rejects_unknown_segmenter():
    with pytest.raises(ConfigError):
        PipelineConfig(segmenter="deep-magic")


def test_segmenter_is_created_once_per_process():
    assert get_segmenter("classical") is get_segmenter("classical")


def test_unknown_rembg_model_lists_models():
    with pytest.raises(ConfigError) as info:
        get_segmenter("rembg:no-such-model")
    assert "known models:" in info.value.message
    assert "u2net," in info.value.message and "birefnet-general" in info.value.message


def test_missing_rembg_model_names_model_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    clear_cache()
    with pytest.raises(ModelNotFound) as info:
        get_segmenter("rembg:u2netp")
    assert "u2netp.onnx" in info.value.message
    assert str(tmp_path) in info.value.message
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded


def test_rembg_file_loads_a_local_onnx_model(tiny_onnx, monkeypatch):
    monkeypatch.delenv("U2NET_HOME", raising=False)
    segmenter = get_segmenter(f"rembg-file:{tiny_onnx}")
    assert segmenter.name == f"rembg-file:{tiny_onnx}"
    rgb = np.asarray(studio_photo((320, 240)))
    alpha = segmenter.segment(rgb).alpha
    assert alpha.shape == (240, 320)
    assert alpha[120, 160] > 100 and alpha[3, 3] < 30  # the product, not the white backdrop
    assert "U2NET_HOME" not in __import__("os").environ  # restored after the session


def test_rembg_file_through_process_image(tiny_onnx):
    config = PipelineConfig(segmenter=f"rembg-file:{tiny_onnx}", frame_preset="transparent",
                            scene_presets=(), enhance=False)
    result = process_image(png_bytes(studio_photo((320, 240))), config)
    assert result.segmenter == f"rembg-file:{tiny_onnx}"
    mask = np.asarray(Image.open(io.BytesIO(result.mask_png)))
    assert mask.shape == (240, 320)


def test_rembg_file_missing_path_is_model_not_found(tmp_path):
    with pytest.raises(ModelNotFound):
        get_segmenter(f"rembg-file:{tmp_path / 'nope.onnx'}")


def test_auto_uses_classical_on_a_clean_backdrop():
    result = process_image(png_bytes(studio_photo()), PipelineConfig(
        segmenter="auto", frame_preset="transparent", scene_presets=()))
    assert result.segmenter == "classical"
    assert result.notes == []


def test_auto_falls_back_to_classical_and_records_it(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    clear_cache()
    result = process_image(png_bytes(_busy_photo()), PipelineConfig(
        segmenter="auto", auto_model="u2netp", frame_preset="transparent", scene_presets=()))
    assert result.segmenter == "classical"
    assert result.notes[0].startswith("auto segmenter fell back to classical: rembg model "
                                      "'u2netp' is not installed")


def test_transparent_input_uses_its_own_alpha():
    image = Image.new("RGBA", (100, 80), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (30, 20, 70, 60))
    result = process_image(png_bytes(image), PipelineConfig(
        frame_preset="transparent", scene_presets=()))
    assert result.segmenter == "input-alpha"
    mask = np.asarray(Image.open(io.BytesIO(result.mask_png)))
    assert mask.sum() == 40 * 40 * 255


def test_classical_says_when_it_is_not_confident_and_the_image_is_flagged():
    doubtful = ClassicalSegmenter().segment(np.asarray(_busy_photo()))
    assert doubtful.confident is False
    assert doubtful.notes == ["classical: the border flood fill found no separable backdrop"]
    flag = Flag("mask_uncertain", "The background could not be separated with confidence.")
    result = process_image(png_bytes(_busy_photo()), PipelineConfig(scene_presets=()))
    assert flag in result.flags and flag in result.outputs[0].flags
    # A clean studio backdrop: confident, and no such flag.
    assert ClassicalSegmenter().segment(np.asarray(studio_photo())).confident is True
    clean = process_image(png_bytes(studio_photo()), PipelineConfig(scene_presets=()))
    assert flag not in clean.flags and flag not in clean.outputs[0].flags


def test_auto_is_a_registered_backend_and_prepare_notes_its_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    clear_cache()
    auto = get_segmenter("auto", auto_model="u2netp")
    assert auto.name == "auto" and auto is get_segmenter("auto", auto_model="u2netp")
    assert prepare(PipelineConfig(segmenter="auto", auto_model="u2netp")) == [
        "auto segmenter will fall back to classical: rembg model 'u2netp' is not installed: "
        f"u2netp.onnx was not found in {tmp_path}/models/u2netp or {tmp_path}. Weights are "
        "never downloaded at run time; pre-fetch them when building the image (U2NET_HOME / "
        "REMBG_HOME choose the folder)."
    ]
    assert prepare(PipelineConfig(segmenter="classical")) == []
    assert list(tmp_path.iterdir()) == []  # nothing was downloaded


def test_auto_uses_its_model_on_a_busy_photo_once_it_is_installed(tiny_onnx, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    clear_cache()
    config = PipelineConfig(segmenter="auto", auto_model="u2netp", frame_preset="transparent",
                            scene_presets=())
    assert process_image(png_bytes(_busy_photo()), config).segmenter == "classical"
    shutil.copy(tiny_onnx, tmp_path / "u2netp.onnx")  # installed while the worker runs
    result = process_image(png_bytes(_busy_photo()), config)
    assert result.segmenter == "rembg:u2netp"
    assert result.outputs[0].metrics["segmenter"] == "rembg:u2netp"
    assert not any(note.startswith("auto segmenter") for note in result.notes)
    assert prepare(config) == []
