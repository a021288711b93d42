"""``manage.py process``: a folder of varied inputs, good and bad, through call_command.

The command uses only ``pipeline`` (no store, no database); Django is here only to run it.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from tests.conftest import REPO
from tests.pipeline.factories import SAMPLES, encode, png_bytes, studio_photo
from tests.test_settings import BASE_ENV


@pytest.fixture
def mixed_folder(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "bag.jpg").write_bytes(encode(studio_photo((400, 300)), "JPEG", quality=92))
    cutout = Image.new("RGBA", (200, 160), (0, 0, 0, 0))
    cutout.paste((30, 120, 60, 255), (50, 40, 150, 120))
    (folder / "cutout.webp").write_bytes(encode(cutout, "WEBP", lossless=True))
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "product.json").write_text('{"title": "Bag"}\n')
    (folder / "scan.jpg").write_text("a text file that claims to be a photo\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "broken.png").write_bytes(png_bytes(studio_photo())[:400])
    return folder


def _run(*args, returncode: int = 0) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if returncode:
        with pytest.raises(CommandError) as info:
            call_command("process", *args, "--no-progress", stdout=out, stderr=err)
        assert info.value.returncode == returncode, info.value
    else:
        call_command("process", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_folder_with_bad_files_is_processed_and_reported(mixed_folder, tmp_path):
    out_dir = tmp_path / "out"
    stdout, stderr = _run(str(mixed_folder), "--out", str(out_dir), "--scenes", "2",
                          "--preset", "custom:512x512:0.8", returncode=1)
    report = json.loads((out_dir / "report.json").read_text())
    assert report["summary"]["inputs"] == 5
    assert report["summary"]["succeeded"] == 2
    assert report["summary"]["failed"] == 3
    assert report["summary"]["skipped"] == 2
    assert report["summary"]["outputs"] == 6
    assert sorted(s["input"].rsplit("/", 1)[-1] for s in report["skipped"]) == [
        "notes.txt", "product.json"]
    by_name = {i["input"].rsplit("/", 1)[-1]: i for i in report["images"]}
    assert by_name["scan.jpg"]["error"] == {
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
    assert not {n for n in names if n.startswith(("notes", "empty", "broken", "scan"))}
    assert len(names) == 1 + 2 * (1 + 3)  # report + per good image: mask and three outputs
    assert stdout.startswith("Processed 5 image(s): 2 ok, 3 failed, 2 non-image file(s) "
                             "skipped; 6 output(s)")
    assert "scan.jpg: The file is not an image (it looks like text)." in stderr
    assert f"{mixed_folder / 'product.json'}: skipped, not an image" in stderr


def test_every_input_failing_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("hello")
    with pytest.raises(CommandError) as info:
        call_command("process", str(bad), "--out", str(tmp_path / "out"), "--no-progress",
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert str(info.value) == "No image files found among the inputs (1 other file(s) skipped)."
    assert info.value.returncode == 2
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    with pytest.raises(CommandError) as info:
        call_command("process", str(bad), "--out", str(tmp_path / "out"), "--no-progress",
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert str(info.value).startswith("All 1 image(s) failed")
    assert info.value.returncode == 2
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"] == {**report["summary"], "succeeded": 0, "failed": 1}


def test_bad_settings_fail_before_any_image(tmp_path, mixed_folder):
    with pytest.raises(CommandError) as info:
        _run(str(mixed_folder), "--out", str(tmp_path / "out"), "--preset", "poster")
    assert "Unknown frame preset 'poster'" in str(info.value)
    assert info.value.returncode == 2
    assert not (tmp_path / "out").exists()
    with pytest.raises(CommandError) as info:
        _run(str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "out"))
    assert info.value.returncode == 2


def test_no_scenes_and_transparent_preset(tmp_path, mixed_folder):
    out_dir = tmp_path / "out"
    _run(str(mixed_folder / "bag.jpg"), "--out", str(out_dir), "--scenes", "0",
         "--preset", "transparent", "--shadow", "none")
    report = json.loads((out_dir / "report.json").read_text())
    (image,) = report["images"]
    assert [o["file"] for o in image["outputs"]] == ["bag.framed-transparent.png"]
    assert Image.open(out_dir / "bag.framed-transparent.png").mode == "RGBA"


@pytest.fixture
def real_inbox(tmp_path):
    """Two of the sample studio photos, the product's product.json and its README."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("mg01-bk-0.jpg", "luma-yoga-brick.jpg"):
        shutil.copy(SAMPLES / name, inbox / name)
    (inbox / "product.json").write_text('{"title": "Watch", "type": "Watches"}\n')
    shutil.copy(SAMPLES / "README.md", inbox / "README.md")
    return inbox


def test_real_photos_exit_zero_skip_the_rest_and_name_flagged_files(real_inbox, tmp_path):
    out_dir = tmp_path / "out"
    stdout, stderr = _run(str(real_inbox), "--out", str(out_dir), "--scenes", "0",
                          "--preset", "marketplace")
    report = json.loads((out_dir / "report.json").read_text())
    summary = report["summary"]
    assert (summary["inputs"], summary["succeeded"], summary["failed"], summary["skipped"]) == (
        2, 2, 0, 2)
    assert stdout.startswith("Processed 2 image(s): 2 ok, 0 failed, 2 non-image file(s) skipped")
    for image in report["images"]:
        for output in image["outputs"]:
            assert all(set(f) == {"code", "message"} for f in output["flags"])
    # Every flagged output is named in the summary, with its codes, and only those.
    flagged = [(o["file"], [f["code"] for f in o["flags"]])
               for i in report["images"] for o in i["outputs"] if o["flags"]]
    assert summary["flagged"] == [{"file": f, "codes": c} for f, c in flagged]
    assert summary["flagged_outputs"] == len(flagged)
    for name, codes in flagged:
        assert f"Flagged for review: {name} ({', '.join(codes)})" in stdout
    assert stdout.count("Flagged for review:") == len(flagged)


def test_the_exit_status_from_a_shell(real_inbox, tmp_path):
    """What a script sees: 1 when some image failed (the others are still written)."""
    (real_inbox / "luma-yoga-brick.jpg").unlink()
    (real_inbox / "truncated.jpg").write_bytes((SAMPLES / "lt01.jpg").read_bytes()[:300])
    command = [sys.executable, "manage.py", "process", str(real_inbox), "--out",
               str(tmp_path / "out"), "--scenes", "0", "--no-progress"]
    result = subprocess.run(command, cwd=REPO, env=BASE_ENV, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "1 of 2 image(s) failed" in result.stderr
    assert (tmp_path / "out" / "mg01-bk-0.mask.png").exists()
    (real_inbox / "truncated.jpg").unlink()
    (real_inbox / "mg01-bk-0.jpg").unlink()
    nothing = subprocess.run(command, cwd=REPO, env=BASE_ENV, capture_output=True, text=True)
    assert nothing.returncode == 2
    assert "No image files found among the inputs (2 other file(s) skipped)." in nothing.stderr
