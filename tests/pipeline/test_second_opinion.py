"""A second opinion on the cutout (issue 15): with PHOTOSYNC_SECOND_OPINION a model cuts the
photo out again beside classical; the masks' overlap is recorded, and where they disagree the
outputs are flagged mask_uncertain, so neither can be silently wrong where the other is right.
Real runs with a tiny ONNX model built offline (its mask: "not white")."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from pipeline import ConfigError, PipelineConfig, prepare, process_image
from pipeline.segmenting import SECOND_OPINION_AGREE
from tests.pipeline.factories import png_bytes, studio_photo


def _config(model, **overrides) -> PipelineConfig:
    return PipelineConfig(**{"second_opinion": f"rembg-file:{model}", "scene_presets": (),
                             **overrides})


def _pale_product() -> bytes:
    """A pale grey box with a dark label on a white sweep: classical sees the whole box; the
    "not white" model, its mask min-max scaled from the backdrop to the label, only the label."""
    image = Image.new("RGB", (640, 480), (244, 244, 242))
    draw = ImageDraw.Draw(image)
    draw.rectangle([200, 100, 440, 400], fill=(222, 224, 226))
    draw.rectangle([260, 300, 380, 380], fill=(30, 30, 40))
    return png_bytes(image)


def test_agreeing_masks_are_recorded_and_not_flagged(tiny_onnx):
    result = process_image(png_bytes(studio_photo((640, 480))), _config(tiny_onnx))
    for output in result.outputs:
        assert output.metrics["mask_second_opinion"] == f"rembg-file:{tiny_onnx}"
        assert output.metrics["mask_second_opinion_iou"] >= SECOND_OPINION_AGREE
        assert "mask_uncertain" not in [f.code for f in output.flags]
    assert result.segmenter == "classical"  # the first opinion still makes the cutout


def test_disagreeing_masks_flag_every_output(tiny_onnx):
    result = process_image(_pale_product(), _config(tiny_onnx, scene_presets=("studio-sweep",)))
    assert len(result.outputs) == 2
    for output in result.outputs:
        assert output.metrics["mask_second_opinion_iou"] < 0.5
        [flag] = [f for f in output.flags if f.code == "mask_uncertain"]
        assert "second background remover" in flag.message and "overlap 1" in flag.message
    # Without the second opinion the same cutout carries no doubt.
    plain = process_image(_pale_product(), PipelineConfig(scene_presets=()))
    assert "mask_uncertain" not in [f.code for f in plain.outputs[0].flags]
    assert "mask_second_opinion_iou" not in plain.outputs[0].metrics


def test_a_second_opinion_that_cannot_load_is_a_note_not_a_flag(tmp_path):
    config = PipelineConfig(second_opinion=f"rembg-file:{tmp_path / 'gone.onnx'}",
                            scene_presets=())
    notes = prepare(config)
    assert any("second opinion" in n and "skipped" in n for n in notes)
    result = process_image(png_bytes(studio_photo((640, 480))), config)
    assert any("second opinion" in n for n in result.notes)
    assert "mask_uncertain" not in [f.code for f in result.outputs[0].flags]
    assert "mask_second_opinion_iou" not in result.outputs[0].metrics


def test_an_unknown_second_opinion_is_refused():
    with pytest.raises(ConfigError):
        PipelineConfig(second_opinion="nonsense:thing")
