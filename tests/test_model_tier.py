"""The model tier in the app: `manage.py models`, the licence gate at start-up, the GPU tier's
segmenter, and the fallback chain end to end (store → worker → outputs → API)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from photosync.models import GeneratedImage, GenerationJob
from photosync.queueing import Queues
from photosync.services.generation_config import job_config_for_store, models_licence_check
from photosync.services.stores import store_connect_local
from photosync.services.sync import stores_reconcile
from photosync.settings_table import setting
from pipeline.backends import clear_cache
from pipeline.models import MODELS, model, tier_defaults
from tests.conftest import REPO, drain
from tests.pipeline.factories import build_tiny_onnx_segmenter, encode, studio_photo
from tests.test_settings import BASE_ENV

NONCOMMERCIAL = [m for m in MODELS if not m.commercial]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO,
                          env={**BASE_ENV, **env}, capture_output=True, text=True, timeout=120)


def test_models_lists_every_model_with_its_licence_and_the_readme_shows_it():
    out = io.StringIO()
    call_command("models", stdout=out)
    text = out.getvalue()
    for m in MODELS:
        assert re.search(rf"^{re.escape(m.key)} .*{re.escape(m.licence)}", text, re.M), m.key
    assert "PHOTOSYNC_GPU_SEGMENTER = rembg:birefnet-general (BiRefNet general, MIT)" in text
    markdown = io.StringIO()
    call_command("models", "--markdown", stdout=markdown)
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- models:start -->\n", 1)[1].split("<!-- models:end -->", 1)[0]
    assert block == markdown.getvalue(), (
        "README's model table drifted: paste `manage.py models --markdown` between the markers")


def test_settings_defaults_are_the_registrys():
    gpu = tier_defaults("gpu")
    assert setting("PHOTOSYNC_GPU_SEGMENTER").default == gpu["segmenter"]
    assert ",".join(setting("PHOTOSYNC_SEGMENTER_FALLBACK").default) == \
        gpu["segmenter_fallback"]
    for provider in ("removebg", "photoroom"):
        spec = model(provider)
        assert setting(f"PHOTOSYNC_{provider.upper()}_URL").default == spec.ref
        assert setting(f"PHOTOSYNC_{provider.upper()}_PRICE").default == spec.price_usd


@pytest.mark.parametrize("spec", NONCOMMERCIAL, ids=lambda m: m.key)
def test_each_noncommercial_model_in_the_settings_is_refused_unless_allowed(spec, settings):
    if spec.task == "scene":
        settings.PHOTOSYNC_SCENE_GENERATOR = spec.backend
    elif spec.source == "file":
        settings.PHOTOSYNC_SEGMENTER_FALLBACK = [f"rembg-file:/models/{spec.key}.onnx"]
    else:
        settings.PHOTOSYNC_GPU_SEGMENTER = spec.backend
    with pytest.raises(ImproperlyConfigured, match=re.escape(spec.licence)):
        models_licence_check()
    settings.PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS = True
    models_licence_check()


def test_worker_refuses_to_start_with_a_noncommercial_model_and_starts_with_the_opt_in():
    refused = _run("worker", PHOTOSYNC_SEGMENTER="rembg:bria-rmbg")
    assert refused.returncode != 0
    assert ("PhotoSync refuses to start: Refusing to run a non-commercial model: "
            "rembg:bria-rmbg (BRIA RMBG-2.0, set in PHOTOSYNC_SEGMENTER) is licensed "
            "CC-BY-NC-4.0") in refused.stderr
    allowed = _run("worker", PHOTOSYNC_SEGMENTER="rembg:bria-rmbg",
                   PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS="true")
    assert "refuses" not in allowed.stderr
    assert "REDIS_URL is not set" in allowed.stderr  # past the gate, at the next check


def test_serve_refuses_to_start_with_a_noncommercial_scene_model(tmp_path):
    refused = _run("serve", "127.0.0.1:0", PHOTOSYNC_DATA_DIR=str(tmp_path),
                   PHOTOSYNC_SCENE_GENERATOR="diffusers:black-forest-labs/FLUX.1-dev")
    assert refused.returncode != 0
    assert "FLUX.1 [dev], set in PHOTOSYNC_SCENE_GENERATOR) is licensed " \
           "LicenseRef-FLUX.1-dev-Non-Commercial" in refused.stderr
    assert not (tmp_path / "photosync.sqlite3").exists()  # refused before anything ran


def test_process_refuses_a_noncommercial_file_model_unless_allowed(tmp_path, settings):
    model_file = build_tiny_onnx_segmenter(tmp_path / "models" / "rmbg-1.4.onnx", size=320,
                                           family=None)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "bag.png").write_bytes(encode(studio_photo(), "PNG"))
    args = [str(inbox), "--out", str(tmp_path / "out"), "--no-progress", "--scenes", "0",
            "--segmenter", f"rembg-file:{model_file}"]
    with pytest.raises(CommandError, match=r"BRIA RMBG-1\.4.*LicenseRef-bria-rmbg-1\.4"):
        call_command("process", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not (tmp_path / "out").exists()
    settings.PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS = True
    err = io.StringIO()
    call_command("process", *args, stdout=io.StringIO(), stderr=err)
    assert "isnet normalisation (from its name: BRIA RMBG-1.4)" in err.getvalue()
    assert (tmp_path / "out" / "bag.mask.png").exists()


def test_gpu_jobs_are_cut_out_by_the_gpu_tier_segmenter(settings, db, store_dir):
    store = store_connect_local(path=store_dir, name="s")
    settings.PHOTOSYNC_SCENE_GENERATOR = "diffusers:diffusers/stable-diffusion-xl-1.0-" \
                                         "inpainting-0.1"
    gpu = job_config_for_store(store=store)
    assert (gpu["queue"], gpu["segmenter"]) == (Queues.GENERATE_GPU, "rembg:birefnet-general")
    assert gpu["segmenter_fallback"] == ["rembg:isnet-general-use", "classical"]
    settings.PHOTOSYNC_SCENE_GENERATOR = "procedural"
    assert job_config_for_store(store=store)["segmenter"] == "classical"


@pytest.mark.django_db(transaction=True)
def test_with_the_hosted_api_failing_every_photo_is_cut_out_by_the_next_and_says_so(
        store_dir, media_root, broker, worker, client, operator, settings, cutout_api):
    settings.PHOTOSYNC_SEGMENTER = "removebg"
    settings.PHOTOSYNC_SEGMENTER_FALLBACK = ["classical"]
    cutout_api.fail_next(100, 500)
    store = store_connect_local(path=store_dir, name="Fallback store")
    stores_reconcile()
    drain(broker, worker)
    jobs = list(GenerationJob.objects.filter(store=store))
    assert [j.status for j in jobs] == ["succeeded", "succeeded"]  # nothing lost
    images = GeneratedImage.objects.filter(product__store=store)
    assert images.count() == 4 and cutout_api.hits["removebg"] == 2
    for image in images:
        assert image.metrics["segmenter"] == "classical"
        assert image.metrics["segmenter_requested"] == "removebg"
        assert any(f["code"] == "segmenter_fallback" and f["message"].startswith(
            "Background removed by the classical segmenter because removebg was unavailable "
            "(remove.bg answered HTTP 500") for f in image.flags)
        assert image.status == "ready"  # flagged: never auto-approved
    client.force_login(operator)
    product = images.first().product
    detail = client.get(f"/api/v1/products/{product.pk}/").json()
    removal = detail["generated"][0]["background_removal"]
    assert removal["text"] == "Background removed by the classical segmenter"
    assert removal["requested"] == "removebg"
    assert "remove.bg answered HTTP 500" in removal["fallback_reason"]


@pytest.mark.django_db(transaction=True)
def test_after_a_failed_gpu_stage_the_cutout_comes_from_the_chain_and_says_why(
        store_dir, media_root, broker, worker, settings, tmp_path, monkeypatch):
    """The worker fixture serves generate-gpu (so a GPU worker is alive) but the scene model
    is missing: the GPU stage fails and the job takes the CPU path (test_scheduling covers
    the same route when no GPU worker is alive)."""
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "empty-rembg-home"))  # no weights here
    clear_cache()
    settings.PHOTOSYNC_GPU_FALLBACK = "cpu"
    store = store_connect_local(path=store_dir, name="GPU store",
                                settings={"scene_generator": "diffusers:org/some-inpaint"})
    settings.PHOTOSYNC_SCENE_GENERATOR = "procedural"
    # The fixture's heartbeat thread writes its first beat just after the worker boots; the
    # dispatch must see it, or the job is rerouted for "no GPU worker alive" instead.
    from photosync.services.scheduling import gpu_worker_alive

    deadline = time.monotonic() + 15
    while not gpu_worker_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gpu_worker_alive()
    stores_reconcile()
    drain(broker, worker)
    for job in GenerationJob.objects.filter(store=store):
        assert (job.status, job.queue) == ("succeeded", Queues.GENERATE_CPU), job.error
        assert job.config["segmenter"] == "rembg:isnet-general-use"
        ((skipped, why),) = job.config["segmenter_unavailable"]
        assert skipped == "rembg:birefnet-general"
        assert why.startswith("the GPU stage failed: Scene model 'org/some-inpaint'")
    images = GeneratedImage.objects.filter(product__store=store)
    assert images.count() == 4
    for image in images:
        assert image.metrics["segmenter"] == "classical"
        (flag,) = [f["message"] for f in image.flags if f["code"] == "segmenter_fallback"]
        assert "rembg:birefnet-general was unavailable (the GPU stage failed" in flag
        assert "rembg:isnet-general-use was unavailable (rembg model 'isnet-general-use' is " \
               "not installed" in flag
