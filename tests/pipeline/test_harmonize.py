"""Harmonisation: off by default; `grade` matches a scene's light on the product within its caps,
leaves framed outputs and the mask alone, says `relit`, and such outputs are never auto-approved.
Real photos, the real pipeline and the real job path."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pipeline import SCENE_PRESETS, ConfigError, PipelineConfig, process_image
from pipeline.backends import segmenter_for
from pipeline.flags import codes
from pipeline.runner import SCENE_CANVAS, scene_layer
from pipeline.stages import harmonize
from pipeline.stages.composite import solid_canvas
from pipeline.stages.frame import crop_product
from pipeline.stages.load import load_image
from tests.conftest import PHOTOS, REPO

BRICK = PHOTOS / "luma-yoga-brick.jpg"  # a purple-grey brick on white: clean framed output
WATCH = PHOTOS / "mg01-bk-0.jpg"  # a dark watch on white


def _run(photo, **kw):
    return process_image(photo.read_bytes(), PipelineConfig(**kw))


def _rgb(output) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(output.data)).convert("RGB")).astype(int)


@pytest.fixture(scope="module")
def warm():
    """The brick on the warm gradient (plus the marketplace frame), off and graded."""
    kw = {"scene_presets": ("warm-gradient",), "frame_preset": "marketplace"}
    return _run(BRICK, **kw), _run(BRICK, harmonize="grade", **kw)


def test_off_by_default_changes_nothing():
    assert PipelineConfig().harmonize == "off"
    default = _run(WATCH, scene_presets=("warm-gradient",))
    off = _run(WATCH, scene_presets=("warm-gradient",), harmonize="off")
    assert [o.data for o in default.outputs] == [o.data for o in off.outputs]
    for output in default.outputs:
        assert "relit" not in codes(output.flags)
        assert not any(key.startswith("relit") for key in output.metrics)
    assert default.timings["harmonize"] == 0.0


def test_a_warm_scene_warms_the_product_within_the_caps(warm):
    off, graded = warm
    assert graded.mask_png == off.mask_png  # the cutout mask is unchanged
    (framed_off, scene_off), (framed, scene) = off.outputs, graded.outputs
    # Framed (here: marketplace) outputs are never graded.
    assert framed.kind == "framed" and framed.data == framed_off.data
    assert "relit" not in codes(framed.flags) and "relit" not in framed.metrics

    numbers = scene.metrics
    red, green, blue = numbers["relit_gain"]
    assert red > 1.02 and blue < 0.98, numbers["relit_gain"]  # toward the warm backdrop
    assert all(abs(g - 1) <= harmonize.MAX_GAIN for g in (red, green, blue))
    assert abs(numbers["relit_ev"]) <= harmonize.MAX_EV
    assert 0 < numbers["relit_delta_e_mean"] <= numbers["relit_delta_e_p95"]
    # Fidelity compares with the graded product, so it still passes on every pixel.
    assert numbers["product_max_abs_diff"] == 0 and numbers["product_pixels_compared"] > 1000
    assert scene_off.metrics["product_pixels_compared"] == numbers["product_pixels_compared"]
    assert "fidelity_failed" not in codes(scene.flags)
    relit = next(f for f in scene.flags if f.code == "relit")
    assert f"R ×{red:.3f}" in relit.message and f"B ×{blue:.3f}" in relit.message
    assert f"{numbers['relit_ev']:+.2f} EV" in relit.message
    assert codes(scene_off.flags) == [c for c in codes(scene.flags) if c != "relit"]

    # Only product pixels changed, and they moved toward warm (red up against blue).
    before, after = _rgb(scene_off), _rgb(scene)
    changed = (before != after).any(axis=2)
    assert changed.mean() > 0.05
    ys, xs = np.nonzero(changed)
    assert ys.min() > 0.05 * before.shape[0]  # the backdrop's top and sides are untouched
    shift = (after[changed] - before[changed]).mean(axis=0)
    assert shift[0] - shift[2] > 2, shift


def test_the_grade_is_one_table_for_every_pixel_and_keeps_the_alpha():
    loaded = load_image(BRICK.read_bytes(), max_bytes=10**8, max_pixels=10**8)
    rgb = np.ascontiguousarray(loaded.rgba[..., :3])
    alpha = segmenter_for(PipelineConfig()).segment(rgb).alpha
    layer = scene_layer(crop_product(np.dstack([rgb, alpha])), SCENE_CANVAS,
                        SCENE_PRESETS["dark-luxe"])
    backdrop = solid_canvas(SCENE_CANVAS, (20, 40, 200))  # a dim, strongly blue room
    grade = harmonize.estimate(backdrop, layer, harmonize.reference_light(rgb, alpha))
    # Both caps bind: the backdrop is far bluer and darker than the studio.
    assert grade.gain[2] == pytest.approx(1 + harmonize.MAX_GAIN)
    assert grade.gain[0] == pytest.approx(1 - harmonize.MAX_GAIN)
    assert grade.ev == -harmonize.MAX_EV
    relit = harmonize.apply(layer, grade)
    assert np.array_equal(relit.rgba[..., 3], layer.rgba[..., 3])
    assert relit.box == layer.box
    table = grade.table()[0]
    for channel in range(3):
        assert np.array_equal(relit.rgba[..., channel], table[layer.rgba[..., channel], channel])
    # A scene lit like the studio asks for no grade at all: the output stays as it was.
    studio = solid_canvas(SCENE_CANVAS, (255, 255, 255))
    assert harmonize.estimate(studio, layer, 1.0).negligible


def test_a_relighting_model_is_refused_as_not_supported_yet():
    with pytest.raises(ConfigError, match="relighting models are not supported yet"):
        PipelineConfig(harmonize="relight:ic-light")
    with pytest.raises(ConfigError, match="Unknown harmonize 'bright'"):
        PipelineConfig(harmonize="bright")
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 40,
           "PHOTOSYNC_ENCRYPTION_KEY": "3JF7PEkdBUJ71z9pXbR5oknn6Tfjp3ThPd4WSCT_1bk=",
           "PHOTOSYNC_PUBLIC_URL": "https://photos.example.com", "PHOTOSYNC_ENV_FILE": "/dev/null",
           "DJANGO_SETTINGS_MODULE": "photosync.settings"}
    code = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG)"
    for value, message in (("relight:ic-light", "relighting models are not supported yet"),
                           ("loud", "PHOTOSYNC_HARMONIZE must be one of off, grade")):
        result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                                text=True, env={**env, "PHOTOSYNC_HARMONIZE": value})
        assert result.returncode != 0 and result.stdout == "", value
        assert message in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_relit_output_is_never_auto_approved(tmp_path, media_root, broker, settings):
    from photosync.models import GeneratedImage
    from photosync.services.generation import job_run
    from photosync.services.generation_config import job_config_for_store
    from photosync.services.store_settings import SettingsError, store_settings_update
    from photosync.services.stores import store_connect_local
    from photosync.services.sync import product_refresh

    settings.PHOTOSYNC_HARMONIZE = "off"
    statuses = {}
    for mode in ("off", "grade"):
        root = tmp_path / mode
        (root / "brick").mkdir(parents=True)
        shutil.copy2(BRICK, root / "brick" / "brick.jpg")
        store = store_connect_local(path=root, name=f"Harmonize {mode}")
        store_settings_update(store=store, changes={
            "auto_approve": "all", "scene_presets": ["warm-gradient"], "harmonize": mode})
        store.refresh_from_db()
        assert job_config_for_store(store=store)["harmonize"] == mode  # the store's own wins
        job = product_refresh(store_id=store.pk, remote_id="brick")
        assert job.config["harmonize"] == mode
        job_run(job_id=job.pk)
        images = {i.kind: i for i in GeneratedImage.objects.filter(job=job)}
        statuses[mode] = {kind: (i.status, [f["code"] for f in i.flags])
                          for kind, i in images.items()}
    # Without harmonisation both clean outputs are auto-approved (so the rule is live) ...
    assert statuses["off"] == {"framed": ("approved", []), "scene": ("approved", [])}
    # ... with it the relit scene waits for a person; the untouched framed output still goes.
    assert statuses["grade"] == {"framed": ("approved", []), "scene": ("ready", ["relit"])}
    with pytest.raises(SettingsError, match="harmonize must be one of off, grade"):
        store_settings_update(store=store, changes={"harmonize": "relight:ic-light"})
