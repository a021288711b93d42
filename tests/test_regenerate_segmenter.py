"""Regenerate lets the merchant choose the background remover (issue 16): `classical` or one
the operator configured, offered by the settings API, checked by the regenerate API (a 400
naming the field otherwise), recorded in the job's config and used by the job: a real run
against the hosted-cutout emulator on loopback."""

from __future__ import annotations

import pytest

from photosync.models import GenerationJob, Store
from photosync.services.generation import job_run
from photosync.services.stores import store_connect_local
from photosync.services.sync import product_refresh
from tests.review_data import seed_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(media_root):
    return Store.objects.create(platform="local", domain="/tmp/regen", name="Shop")


def _offer(client, store) -> dict:
    return client.get(f"/api/v1/settings/?store={store.pk}").json()["choices"]["segmenter"]


def test_the_settings_offer_classical_and_the_configured_segmenters(
        client, operator, store, settings):
    settings.PHOTOSYNC_SEGMENTER = "rembg:u2net"
    settings.PHOTOSYNC_GPU_SEGMENTER = "rembg:birefnet-general"
    settings.PHOTOSYNC_SEGMENTER_FALLBACK = ["removebg", "classical"]
    settings.PHOTOSYNC_SCENE_GENERATOR = "procedural"
    client.force_login(operator)
    offer = _offer(client, store)
    # The GPU tier's cutout is left out: no job goes to a GPU worker with procedural scenes.
    assert [o["name"] for o in offer["options"]] == ["classical", "rembg:u2net", "removebg"]
    assert offer["default"] == "rembg:u2net"
    labels = {o["name"]: o["label"] for o in offer["options"]}
    assert labels == {"classical": "Classical (no model: edges and colours)",
                      "rembg:u2net": "U²-Net (rembg:u2net)",
                      "removebg": "remove.bg API (hosted, charged per image)"}

    settings.PHOTOSYNC_SCENE_GENERATOR = "diffusers:stabilityai/sdxl-turbo"
    offer = _offer(client, store)
    assert [o["name"] for o in offer["options"]] == [
        "classical", "rembg:u2net", "rembg:birefnet-general", "removebg"]
    assert offer["default"] == "rembg:birefnet-general"


def test_regenerate_records_the_chosen_segmenter_and_refuses_others(
        client, operator, store, settings):
    settings.PHOTOSYNC_SEGMENTER = "rembg:u2net"
    settings.PHOTOSYNC_SEGMENTER_FALLBACK = ["classical"]
    product = seed_product(store, title="Lamp")
    client.force_login(operator)
    url = f"/api/v1/products/{product.pk}/regenerate"
    answer = client.post(url, {"segmenter": "classical", "shadow": "drop"},
                         content_type="application/json")
    assert answer.status_code == 202, answer.content
    assert answer.json()["settings"]["segmenter"] == "classical"
    job = GenerationJob.objects.get(pk=answer.json()["id"])
    assert job.config["segmenter"] == "classical" and job.config["shadow"] == "drop"
    assert job.config["segmenter_fallback"] == ["classical"]
    # Without a choice: the deployment's default, as before.
    plain = client.post(url, {}, content_type="application/json").json()
    assert GenerationJob.objects.get(pk=plain["id"]).config["segmenter"] == "rembg:u2net"

    before = GenerationJob.objects.count()
    for bad in ("rembg:birefnet-general", "removebg", "rembg-file:/etc/passwd", ""):
        refused = client.post(url, {"segmenter": bad, "variations": 2},
                              content_type="application/json")
        assert refused.status_code == 400, bad
        assert set(refused.json()) == {"segmenter"}, refused.json()
        if bad:
            message = refused.json()["segmenter"][0]
            assert "classical, rembg:u2net" in message and repr(bad) in message
    assert GenerationJob.objects.count() == before  # nothing queued for a refused request


@pytest.mark.django_db(transaction=True)
def test_the_job_removes_the_background_with_the_chosen_segmenter(
        client, operator, store_dir, media_root, settings, broker, cutout_api):
    """The operator configured remove.bg as a fallback; a regeneration that asks for it is
    cut out by it (the emulator counts the call), one that asks nothing by classical."""
    settings.PHOTOSYNC_SEGMENTER = "classical"
    settings.PHOTOSYNC_SEGMENTER_FALLBACK = ["removebg", "classical"]
    shop = store_connect_local(path=store_dir, name="Folder")
    first = product_refresh(store_id=shop.pk, remote_id="mg01-bk-0")
    job_run(job_id=first.pk)
    product = first.product
    assert {g.metrics["segmenter"] for g in product.generated.all()} == {"classical"}
    calls = len(cutout_api.requests)

    client.force_login(operator)
    answer = client.post(f"/api/v1/products/{product.pk}/regenerate",
                         {"segmenter": "removebg", "scene_presets": []},
                         content_type="application/json")
    assert answer.status_code == 202, answer.content
    job = job_run(job_id=answer.json()["id"])
    assert job.status == "succeeded", job.error
    outputs = list(job.images.all())
    assert outputs and {g.metrics["segmenter"] for g in outputs} == {"removebg"}
    assert all("segmenter_requested" not in g.metrics for g in outputs)  # no fallback
    assert len(cutout_api.requests) > calls
    detail = client.get(f"/api/v1/products/{product.pk}/").json()
    newest = max(detail["generated"], key=lambda g: g["id"])
    assert newest["background_removal"]["text"] == "Background removed by remove.bg API"
