"""Energy and carbon of real jobs on the CPU path: recorded on every job and output, exported
in /metrics, summed in usage, shown per output, on /status and in process's report.json."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from photosync.models import GeneratedImage, GenerationJob
from photosync.services.carbon import grid_cache_clear
from photosync.services.generation import job_run
from photosync.services.stores import store_connect_local
from photosync.services.sync import product_refresh, stores_reconcile
from tests.conftest import PHOTOS, drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_grid(settings):
    settings.PHOTOSYNC_GRID_INTENSITY_URL = None
    settings.PHOTOSYNC_GRID_INTENSITY = 400.0
    settings.PHOTOSYNC_METRICS_TOKEN = METRICS_TOKEN  # /metrics is private by default
    grid_cache_clear()
    yield
    grid_cache_clear()


METRICS_TOKEN = "energy-scrape-token"


def _samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200
    body = response.content.decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples
            if s.name.startswith("photosync_energy")}


def test_every_cpu_job_records_its_energy_and_the_metrics_export_it(
        store_dir, media_root, broker, worker, client, operator):
    client.force_login(operator)
    before = _samples(client)
    store = store_connect_local(path=store_dir, name="Energy store")
    stores_reconcile()
    drain(broker, worker)

    jobs = list(GenerationJob.objects.filter(store=store))
    assert len(jobs) == 2 and {j.status for j in jobs} == {"succeeded"}
    for job in jobs:
        cpu = job.energy["devices"]["cpu"]
        assert cpu["source"] in ("rapl", "estimate")
        assert job.energy_wh == pytest.approx(cpu["wh"]) and job.energy_wh > 0
        assert job.energy["attempts"] == 1 and job.energy["cpu_seconds"] > 0
        assert {"load", "segment", "scene", "encode", "other"} <= set(job.energy["stages"])
        assert job.grid_g_per_kwh == 400.0
        assert job.co2e_g == pytest.approx(job.energy_wh * 400 / 1000, abs=1e-9)
        images = list(job.images.all())
        assert len(images) == 2  # framed + one scene
        # The outputs add up to the attempt: pipeline shares plus the job's own overhead.
        assert sum(i.energy_wh for i in images) == pytest.approx(job.energy_wh, abs=1e-8)
        for image in images:
            assert image.energy_wh > 0
            assert image.energy["devices"]["cpu"]["source"] == cpu["source"]
            assert image.co2e_g == pytest.approx(image.energy_wh * 0.4)
        scene = next(i for i in images if i.kind == "scene")
        framed = next(i for i in images if i.kind == "framed")
        assert scene.energy_wh > framed.energy_wh  # it alone carries the scene stage

    source = jobs[0].energy["devices"]["cpu"]["source"]
    after = _samples(client)
    key = ("photosync_energy_wh_total", (("device", "cpu"), ("source", source)))
    assert after[key] - before.get(key, 0.0) == pytest.approx(sum(j.energy_wh for j in jobs))
    count = ("photosync_energy_wh_per_image_count", (("queue", "generate-cpu"),))
    assert after[count] - before.get(count, 0.0) == 4

    usage = client.get(f"/api/v1/usage/?store={store.pk}").json()
    assert usage["images"] == 4
    assert usage["energy_wh"] == pytest.approx(sum(j.energy_wh for j in jobs), abs=1e-6)
    assert usage["co2e_g"] == pytest.approx(sum(j.co2e_g for j in jobs), abs=1e-6)

    product = GeneratedImage.objects.filter(product__store=store).first().product
    detail = client.get(f"/api/v1/products/{product.pk}/").json()
    for output in detail["generated"]:
        energy = output["energy"]
        assert energy["wh"] > 0 and energy["sources"] == [source]
        assert energy["g_per_kwh"] == 400.0
        assert " Wh · " in energy["label"] and "g CO₂e" in energy["label"]
    assert detail["jobs"][0]["energy_wh"] > 0 and detail["jobs"][0]["grid_g_per_kwh"] == 400.0

    status = client.get("/status").content.decode()
    assert "Energy per image, last 7 days" in status
    assert f"<td>cpu</td><td>{source}</td>" in status
    assert "400 g CO₂e/kWh" in status and "PHOTOSYNC_GRID_INTENSITY setting" in status


def test_a_failed_source_still_counts_and_the_outputs_add_up(
        store_dir, media_root, broker, worker, photo):
    (store_dir / "mg01-bk-0" / "broken.jpg").write_bytes(photo.read_bytes()[:300])
    store_connect_local(path=store_dir, name="Partial")
    stores_reconcile()
    drain(broker, worker)
    job = GenerationJob.objects.get(product__remote_id="mg01-bk-0")
    assert job.status == "partial"
    images = list(job.images.all())
    assert sum(i.energy_wh for i in images) == pytest.approx(job.energy_wh, abs=1e-8)


def test_a_job_without_outputs_still_records_its_energy(media_root, tmp_path, broker):
    folder = tmp_path / "store" / "only-text"
    folder.mkdir(parents=True)
    (folder / "notes.jpg").write_text("not a photo\n")
    store = store_connect_local(path=tmp_path / "store", name="Empty")
    job = product_refresh(store_id=store.pk, remote_id="only-text")
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.energy_wh > 0 and job.images.count() == 0
    assert job.co2e_g == pytest.approx(job.energy_wh * 0.4, abs=1e-9)


def test_process_writes_energy_into_report_json(tmp_path, settings):
    out = tmp_path / "out"
    call_command("process", str(PHOTOS / "mg01-bk-0.jpg"), "--out", str(out), "--scenes", "2",
                 "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())
    report = json.loads((out / "report.json").read_text())
    (image,) = report["images"]
    energy = image["energy"]
    assert energy["devices"]["cpu"]["source"] in ("rapl", "estimate")
    assert energy["devices"]["cpu"]["wh"] > 0 and set(energy["stages"]) >= {"segment", "scene"}
    outputs = [o["energy"]["wh"] for o in image["outputs"]]
    assert len(outputs) == 3 and sum(outputs) == pytest.approx(energy["wh"], abs=1e-5)
    summary = report["summary"]
    assert summary["energy_wh"] == pytest.approx(energy["wh"], abs=1e-6)
    assert summary["wh_per_output"] == pytest.approx(energy["wh"] / 3, abs=1e-6)
    assert summary["co2e_g"] == pytest.approx(energy["wh"] * 0.4, abs=1e-6)
    assert summary["grid"] == {"g_per_kwh": 400.0, "source": "setting", "at": None}
    assert report["config"]["cpu_watts_per_core"] == settings.PHOTOSYNC_CPU_WATTS_PER_CORE
