"""``manage.py process``: a folder of varied inputs, good and bad, through call_command.

The command uses only ``pipeline`` (no store, no database); Django is here only to run it.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from tests.pipeline.factories import encode, png_bytes, studio_photo


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "bag.jpg").write_bytes(encode(studio_photo((400, 300)), "JPEG", quality=92))
    cutout = Image.new("RGBA", (200, 160), (0, 0, 0, 0))
    cutout.paste((30, 120, 60, 255), (50, 40, 150, 120))
    (folder / "cutout.webp").write_bytes(encode(cutout, "WEBP", lossless=True))
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "broken.png").write_bytes(png_bytes(studio_photo())[:400])
    return folder


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("process", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_folder_with_bad_files_is_processed_and_reported(mixed_folder, tmp_path):
    out_dir = tmp_path / "out"
    stdout, stderr = _run(str(mixed_folder), "--out", str(out_dir), "--scenes", "2",
                          "--preset", "custom:512x512:0.8")
    report = json.loads((out_dir / "report.json").read_text())
    assert report["summary"]["inputs"] == 5
    assert report["summary"]["succeeded"] == 2
    assert report["summary"]["failed"] == 3
    assert report["summary"]["outputs"] == 6
    by_name = {i["input"].rsplit("/", 1)[-1]: i for i in report["images"]}
    assert by_name["notes.txt"]["error"] == {
        "type": "NotAnImage", "message": "The file is not an image (it looks like text)."}
    assert by_name["empty.png"]["error"]["type"] == "EmptyFile"
    assert by_name["broken.png"]["error"]["type"] == "CorruptImage"
    bag = by_name["bag.jpg"]
    assert bag["status"] == "ok" and bag["mask"] == "bag.mask.png"
    assert [o["file"] for o in bag["outputs"]] == [
        "bag.framed-custom_512x512_0.8.png", "bag.scene-studio-sweep-0.png",
        "bag.scene-studio-sweep-1.png"]
    assert all(o["metrics"]["product_max_abs_diff"] == 0 for o in bag["outputs"])
    assert set(bag["timings"]) >= {"load", "segment", "frame", "encode"}
    assert by_name["cutout.webp"]["segmenter"] == "input-alpha"
    mask = Image.open(out_dir / "bag.mask.png")
    assert mask.mode == "L" and mask.size == (400, 300)
    scene = np.asarray(Image.open(out_dir / "bag.scene-studio-sweep-1.png"))
    assert scene.shape == (512, 512, 3)
    # Nothing at all is written for the failed inputs.
    names = {p.name for p in out_dir.iterdir()}
    assert not {n for n in names if n.startswith(("notes", "empty", "broken"))}
    assert len(names) == 1 + 2 * (1 + 3)  # report + per good image: mask and three outputs
    assert stdout.startswith("Processed 5 image(s): 2 ok, 3 failed; 6 output(s)")
    assert "notes.txt: The file is not an image (it looks like text)." in stderr


def test_every_input_failing_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("hello")
    with pytest.raises(CommandError) as info:
        _run(str(bad), "--out", str(tmp_path / "out"))
    assert str(info.value).startswith("All 1 input(s) failed")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"] == {**report["summary"], "succeeded": 0, "failed": 1}


def test_bad_settings_fail_before_any_image(tmp_path, mixed_folder):
    with pytest.raises(CommandError) as info:
        _run(str(mixed_folder), "--out", str(tmp_path / "out"), "--preset", "poster")
    assert "Unknown frame preset 'poster'" in str(info.value)
    assert not (tmp_path / "out").exists()
    with pytest.raises(CommandError):
        _run(str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "out"))


def test_no_scenes_and_transparent_preset(tmp_path, mixed_folder):
    out_dir = tmp_path / "out"
    _run(str(mixed_folder / "bag.jpg"), "--out", str(out_dir), "--scenes", "0",
         "--preset", "transparent", "--shadow", "none")
    report = json.loads((out_dir / "report.json").read_text())
    (image,) = report["images"]
    assert [o["file"] for o in image["outputs"]] == ["bag.framed-transparent.png"]
    assert Image.open(out_dir / "bag.framed-transparent.png").mode == "RGBA"
