"""The walking skeleton end to end: folder store → worker → review → approve → push.

Runs in both configurations of the suite: on PostgreSQL + Redis with a real Dramatiq worker
(`make test-production`) and on SQLite + the in-process broker (`make test-embedded`).
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from photosync.models import GeneratedImage, GenerationJob, Push, SourceImage
from photosync.services.stores import store_connect_local
from photosync.services.sync import stores_reconcile
from tests.conftest import drain

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_broker_matches_the_configuration(broker):
    kind = type(broker).__name__
    assert kind == ("RedisBroker" if settings.REDIS_URL else "StubBroker")


def test_folder_product_flows_to_approved_folder(store_dir, media_root, broker, worker, client,
                                                 operator):
    store = store_connect_local(path=store_dir, name="Test store")
    assert stores_reconcile() == {store.pk: 2}
    drain(broker, worker)

    jobs = list(GenerationJob.objects.order_by("pk"))
    assert [j.status for j in jobs] == ["succeeded", "succeeded"]
    assert all(j.timings["total"] > 0 for j in jobs)
    ready = GeneratedImage.objects.filter(status="ready")
    kinds = sorted({img.kind for img in ready})
    assert kinds == ["framed", "scene"]
    # The merchant's originals are kept, byte for byte.
    for source in SourceImage.objects.all():
        original = (store_dir / source.product.remote_id / source.remote_id).read_bytes()
        with source.file.open("rb") as fh:
            assert fh.read() == original

    image = ready.filter(product__remote_id="mg01-bk-0", kind="framed").first()
    client.force_login(operator)
    response = client.post(
        f"/api/v1/images/{image.pk}/approve",
        {"alt_text": "Aim Analog Watch on white", "featured": True},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    drain(broker, worker)

    push = Push.objects.get()
    assert push.status == Push.Status.LIVE
    image.refresh_from_db()
    assert image.status == GeneratedImage.Status.PUSHED
    approved = store_dir / "mg01-bk-0" / "approved"
    manifest = json.loads((approved / "manifest.json").read_text())
    assert [(e["alt"], e["featured"]) for e in manifest["images"]] == [
        ("Aim Analog Watch on white", True)
    ]
    with image.file.open("rb") as fh:
        assert (approved / manifest["images"][0]["file"]).read_bytes() == fh.read()

    # Approving again is a no-op, and the next sync pass generates nothing new.
    again = client.post(f"/api/v1/images/{image.pk}/approve", {}, content_type="application/json")
    assert again.status_code == 202
    stores_reconcile()
    drain(broker, worker)
    assert Push.objects.count() == 1
    assert len(list(approved.glob("*.png"))) == 1
    assert GenerationJob.objects.count() == 2


def test_bad_files_fail_alone_and_visibly(store_dir, media_root, broker, worker, client,
                                          operator, photo):
    folder = store_dir / "mixed-bag"
    folder.mkdir()
    (folder / "a-good.jpg").write_bytes(photo.read_bytes())
    (folder / "b-corrupt.jpg").write_bytes(photo.read_bytes()[:2000])
    (folder / "c-empty.png").write_bytes(b"")
    (folder / "d-notes.txt").write_text("not a photo at all\n")
    store_connect_local(path=store_dir)
    stores_reconcile()
    drain(broker, worker)

    job = GenerationJob.objects.get(product__remote_id="mixed-bag")
    assert job.status == GenerationJob.Status.PARTIAL
    assert job.error.startswith("3 of 4 images could not be processed")
    sources = {s.remote_id: s for s in SourceImage.objects.filter(product=job.product)}
    assert sources["a-good.jpg"].status == "ok"
    for bad in ("b-corrupt.jpg", "c-empty.png", "d-notes.txt"):
        assert sources[bad].status == "failed"
        assert sources[bad].error
        assert sources[bad].remote_id in job.error
    assert GeneratedImage.objects.filter(product=job.product, source=sources["a-good.jpg"]).exists()
    assert not GeneratedImage.objects.filter(
        product=job.product, source__status="failed"
    ).exists()

    client.force_login(operator)
    assert client.get(f"/products/{job.product.pk}/").status_code == 200  # the admin page
    detail = client.get(f"/api/v1/products/{job.product.pk}/").json()
    errors = {s["remote_id"]: s["error"] for s in detail["sources"]}
    for bad in ("b-corrupt.jpg", "c-empty.png", "d-notes.txt"):
        assert errors[bad] == sources[bad].error
    assert [j["error"] for j in detail["jobs"]] == [job.error]
    queue = client.get("/api/v1/products/?status=failed").json()
    assert [(p["title"], p["failed_sources"]) for p in queue["results"]] == [("mixed bag", 3)]
    assert queue["counts"]["failed"] == 1


def test_a_failing_gpu_stage_falls_back_to_the_cpu_path(store_dir, media_root, broker, worker,
                                                       settings):
    from django.utils import timezone

    from photosync.models import WorkerHeartbeat

    settings.PHOTOSYNC_GPU_FALLBACK = "cpu"
    # A GPU worker is "alive", so the job goes to the GPU queue, where its model is missing.
    WorkerHeartbeat.objects.create(name="gpu:1", kind="gpu", last_seen=timezone.now())
    store = store_connect_local(
        path=store_dir, settings={"scene_generator": "diffusers:/nonexistent/model"}
    )
    settings.PHOTOSYNC_SCENE_GENERATOR = "procedural"
    stores_reconcile()
    jobs = list(GenerationJob.objects.filter(store=store))
    assert {j.queue for j in jobs} == {"generate-gpu"}
    drain(broker, worker)
    for job in GenerationJob.objects.filter(store=store):
        assert job.status == "succeeded", job.error
        assert job.queue == "generate-cpu"
        assert job.config["scene_generator"] == "procedural"
        assert any("The GPU stage failed" in note for note in job.notes)
    assert GeneratedImage.objects.filter(kind="scene", generator="procedural").count() == 2
