"""``rembg-file:<path>`` runs any ONNX segmentation model: input size from the model,
pre-processing from an explicit family, the model's metadata or the registry, a clear error
at load otherwise. Tiny real ONNX graphs are built here with the onnx helper API."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from pipeline import BackendUnavailable, ConfigError, PipelineConfig, prepare, process_image
from pipeline.backends import clear_cache, get_segmenter
from tests.pipeline.factories import build_tiny_onnx_segmenter, encode, studio_photo


@pytest.fixture(autouse=True)
def _fresh_backends():
    clear_cache()
    yield
    clear_cache()


def _truth(size=(400, 300)) -> np.ndarray:
    return np.asarray(studio_photo(size).convert("L")) < 250


def _iou(alpha: np.ndarray, truth: np.ndarray) -> float:
    mask = alpha > 127
    return (mask & truth).sum() / (mask | truth).sum()


@pytest.mark.parametrize("size", [320, 1024])
def test_process_runs_a_tiny_model_at_its_own_input_size(size, tmp_path):
    """The acceptance: `process --segmenter rembg-file:<tiny.onnx>` at 320² and 1024²."""
    family = "u2net" if size == 320 else "isnet"  # in the model's metadata
    model = build_tiny_onnx_segmenter(tmp_path / f"tiny-{size}.onnx", size=size, family=family)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "bag.jpg").write_bytes(encode(studio_photo(), "JPEG", quality=95))
    out, err = io.StringIO(), io.StringIO()
    call_command("process", str(inbox), "--out", str(tmp_path / "out"), "--no-progress",
                 "--segmenter", f"rembg-file:{model}", "--scenes", "0",
                 "--preset", "transparent", stdout=out, stderr=err)
    assert f"{size}×{size} NCHW input (read from the model)" in err.getvalue()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (image,) = report["images"]
    assert image["status"] == "ok" and image["segmenter"] == f"rembg-file:{model}"
    mask = np.asarray(Image.open(tmp_path / "out" / image["mask"]))
    assert mask.shape == (300, 400) and _iou(mask, _truth()) > 0.9


@pytest.mark.parametrize(("filename", "family", "how"), [
    ("u2netp.onnx", None, "from its name: U²-Net"),
    ("BiRefNet-general-epoch_244.onnx", None, "from its name: BiRefNet general"),
    ("my-model.onnx", "isnet", "from its metadata, family=isnet"),
])
def test_the_family_comes_from_the_name_or_the_metadata(tmp_path, filename, family, how):
    path = build_tiny_onnx_segmenter(tmp_path / filename, size=512, family=family)
    segmenter = get_segmenter(f"rembg-file:{path}")
    (note,) = segmenter.preload()
    assert how in note and "512×512 NCHW input (read from the model)" in note
    alpha = segmenter.segment(np.asarray(studio_photo())).alpha
    assert alpha.shape == (300, 400) and _iou(alpha, _truth()) > 0.9


def test_a_birefnet_model_gets_the_sigmoid_and_imagenet_normalisation(tmp_path):
    path = build_tiny_onnx_segmenter(tmp_path / "x.onnx", size=1024, family="birefnet")
    session = get_segmenter(f"rembg-file:{path}").session
    assert (session.norm.family, session.norm.sigmoid, session.norm.mean) == (
        "birefnet", True, (0.485, 0.456, 0.406))


def test_an_explicit_family_wins_over_the_name(tmp_path):
    path = build_tiny_onnx_segmenter(tmp_path / "u2net-ish.onnx", size=None, family="u2net")
    segmenter = get_segmenter(f"rembg-file:isnet:{path}")
    (note,) = segmenter.preload()
    assert "isnet normalisation (from the explicit form isnet:)" in note
    assert "1024×1024 NCHW input (the isnet native size)" in note  # symbolic H and W


def test_channels_last_models_are_fed_nhwc(tmp_path):
    path = build_tiny_onnx_segmenter(tmp_path / "u2net-nhwc.onnx", size=320, channels_last=True)
    segmenter = get_segmenter(f"rembg-file:{path}")
    assert "320×320 NHWC input" in segmenter.preload()[0]
    assert _iou(segmenter.segment(np.asarray(studio_photo())).alpha, _truth()) > 0.9


def test_an_unidentifiable_model_stops_at_load_saying_what_to_add(tmp_path):
    path = build_tiny_onnx_segmenter(tmp_path / "model.onnx", size=320, family=None)
    with pytest.raises(ConfigError) as info:
        prepare(PipelineConfig(segmenter=f"rembg-file:{path}"))
    message = info.value.message
    assert f"rembg-file:<family>:{path}" in message
    assert "u2net, isnet, birefnet" in message and "metadata family=<family>" in message


def test_a_model_that_cannot_take_an_image_fails_at_load_not_per_image(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["mask"])], "grey",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 64, 64])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, 64, 64])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "u2net-grey.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ConfigError, match="expects 1 channels per pixel; rembg-file feeds RGB"):
        get_segmenter(f"rembg-file:{path}")
    (tmp_path / "u2net-junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(BackendUnavailable, match="could not be loaded"):
        get_segmenter(f"rembg-file:{tmp_path / 'u2net-junk.onnx'}")
    with pytest.raises(ConfigError, match="Unknown model family 'resnet'"):
        get_segmenter(f"rembg-file:resnet:{path}")


def test_auto_accepts_a_file_model(tmp_path):
    path = build_tiny_onnx_segmenter(tmp_path / "mine.onnx", size=320)
    rng = np.random.default_rng(1)
    busy = studio_photo()
    pixels = np.asarray(busy).copy()
    pixels[:12] = rng.integers(0, 256, pixels[:12].shape)  # a busy top border
    config = PipelineConfig(segmenter="auto", auto_model=f"rembg-file:{path}",
                            frame_preset="transparent", scene_presets=())
    result = process_image(encode(Image.fromarray(pixels), "PNG"), config)
    assert result.segmenter == f"rembg-file:{path}"


def test_process_refuses_a_file_model_that_is_not_there(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("process", str(tmp_path), "--out", str(tmp_path / "o"),
                     "--segmenter", f"rembg-file:{tmp_path / 'gone.onnx'}")
