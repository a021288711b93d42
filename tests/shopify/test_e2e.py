"""End to end against the Shopify Admin emulator: a real HTTP server serving the real Admin
schema, sending signed webhooks to the app's live server; the app's real Dramatiq worker;
the real image pipeline (classical segmenter, procedural scenes).

Runs in both passes of the suite: PostgreSQL + Redis (`make test-production`) and SQLite +
the in-process broker (`make test-embedded`)."""

from __future__ import annotations

import threading
import time

import pytest

from photosync.models import GeneratedImage, GenerationJob, Push, Store, WebhookEvent
from tests.conftest import PHOTOS, drain
from tests.shopify.conftest import SHOP

pytestmark = pytest.mark.django_db(transaction=True)


def _settle(emulator, broker, worker, rounds: int = 3) -> None:
    """Let webhooks, their processing, pushes and the echoes they cause all finish."""
    for _ in range(rounds):
        emulator.wait_for_webhooks()
        drain(broker, worker, timeout=180)
    emulator.wait_for_webhooks()


def _approve(client, operator, image: GeneratedImage, alt: str, featured: bool = False):
    client.force_login(operator)
    response = client.post(f"/api/v1/images/{image.pk}/approve",
                           {"alt_text": alt, "featured": featured},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    return response


def _approve_in_thread(operator, image: GeneratedImage, alt: str, results: list) -> None:
    from django.db import connection
    from django.test import Client

    try:
        results.append(_approve(Client(), operator, image, alt).status_code)
    finally:
        connection.close()


def test_webhook_to_generation_to_push_and_the_echo_generates_nothing(
    emulator, shopify_store, broker, worker, media_root, client, operator
):
    photo = (PHOTOS / "mg01-bk-0.jpg").read_bytes()
    product_gid = emulator.create_product(
        SHOP, title="Aim Analog Watch", product_type="Watches",
        images=[("mg01-bk-0.jpg", photo, "Watch, front")], notify=True,
    )
    _settle(emulator, broker, worker)

    created = WebhookEvent.objects.get(topic="products/create")
    assert created.status == WebhookEvent.Status.PROCESSED
    job = GenerationJob.objects.get()
    assert job.status == GenerationJob.Status.SUCCEEDED, job.error
    assert job.product.remote_id == product_gid
    source = job.product.sources.get()
    assert source.remote_id.startswith("gid://shopify/MediaImage/")
    with source.file.open("rb") as fh:
        assert fh.read() == photo  # the merchant's original, byte for byte, from the CDN
    image = GeneratedImage.objects.filter(product=job.product, kind="framed").first()
    assert image is not None and image.status == GeneratedImage.Status.READY

    _approve(client, operator, image, "Aim Analog Watch on white")
    _settle(emulator, broker, worker)

    push = Push.objects.get()
    assert push.status == Push.Status.LIVE, push.error
    assert push.remote_id.startswith("gid://shopify/MediaImage/")
    image.refresh_from_db()
    assert image.status == GeneratedImage.Status.PUSHED
    gallery = emulator.product_media(SHOP, product_gid)
    assert [m["status"] for m in gallery] == ["READY", "READY"]
    assert gallery[0]["alt"] == "Watch, front"  # the merchant's image first, untouched
    ours = gallery[1]
    assert ours["id"] == push.remote_id
    assert ours["alt"] == "Aim Analog Watch on white"
    assert ours["filename"] == f"photosync-{image.content_hash[:16]}.png"
    with image.file.open("rb") as fh:
        assert ours["data"] == fh.read()
    assert push.previous_state["media"] == [{"id": gallery[0]["id"], "alt": "Watch, front"}]

    # Our push made Shopify send products/update: it was received, re-read, and ignored.
    echoes = WebhookEvent.objects.filter(topic="products/update")
    assert echoes.count() >= 1
    assert all(e.status == WebhookEvent.Status.PROCESSED for e in echoes)
    assert GenerationJob.objects.count() == 1
    assert Store.objects.get(pk=shopify_store.pk).products.get().sources.count() == 1

    # A real edit by the merchant (a new photo) is new input and does generate.
    emulator.edit_product(SHOP, product_gid, add_images=[("back.jpg", photo[:-1] + b"\xd9",
                                                          "Watch, back")])
    _settle(emulator, broker, worker)
    assert GenerationJob.objects.count() == 2


def test_the_same_webhook_twenty_times_at_once_makes_one_job_and_one_media(
    emulator, shopify_store, broker, worker, media_root, client, operator, live_server
):
    photo = (PHOTOS / "luma-yoga-brick.jpg").read_bytes()
    product_gid = emulator.create_product(
        SHOP, title="Yoga Brick", product_type="Fitness",
        images=[("brick.jpg", photo, "Brick")], notify=False,
    )
    payload = emulator._product_payload(emulator.shops[SHOP], int(product_gid.rsplit("/", 1)[1]))
    url = f"{live_server.url}/webhooks/shopify"
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def deliver() -> None:
        barrier.wait()
        for _ in range(5):  # like Shopify, retry a delivery that did not get through
            status = emulator.send_webhook(SHOP, "products/create", payload,
                                           webhook_id="same-delivery", url=url)
            if status:  # 0: the test server's small listen backlog refused the connection
                break
        statuses.append(status)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert WebhookEvent.objects.filter(delivery_id="same-delivery").count() == 1
    _settle(emulator, broker, worker)
    assert GenerationJob.objects.count() == 1

    image = GeneratedImage.objects.filter(kind="framed").get()
    # Five approvals at once (double clicks, two tabs): one outbox row, one push.
    results: list[int] = []
    approvals = [threading.Thread(target=_approve_in_thread,
                                  args=(operator, image, "Brick", results)) for _ in range(5)]
    for thread in approvals:
        thread.start()
    for thread in approvals:
        thread.join()
    assert results == [202] * 5
    _settle(emulator, broker, worker)
    push = Push.objects.get()
    assert push.status == Push.Status.LIVE

    from photosync.services.pushes import push_send

    Push.objects.filter(pk=push.pk).update(status=Push.Status.QUEUED)
    push_send(push_id=push.pk)
    _settle(emulator, broker, worker)
    ours = [m for m in emulator.product_media(SHOP, product_gid)
            if m["filename"].startswith("photosync-")]
    assert len(ours) == 1
    assert Push.objects.get().status == Push.Status.LIVE
    assert GenerationJob.objects.count() == 1


def test_rollback_takes_our_image_off_and_restores_the_merchants_featured_image(
    emulator, shopify_store, broker, worker, media_root, client, operator
):
    from bench.seed import seed_outbox, wait_pushed
    from photosync.services.review import image_approve

    image_ids = seed_outbox(emulator, shopify_store, products=1, per_product=1)
    image_approve(image=GeneratedImage.objects.get(pk=image_ids[0]), featured=True)
    wait_pushed(1, timeout=60)
    push = Push.objects.get()
    product_gid = push.product.remote_id
    assert push.status == Push.Status.LIVE, push.error
    gallery = emulator.product_media(SHOP, product_gid)
    assert [m["id"] for m in gallery][0] == push.remote_id  # chosen as featured: first

    from photosync.services.pushes import push_rollback

    push_rollback(push=push)
    _settle(emulator, broker, worker)
    assert [m["alt"] for m in emulator.product_media(SHOP, product_gid)] == ["P0"]
    assert Push.objects.get().status == Push.Status.ROLLED_BACK
    assert GenerationJob.objects.count() == 1  # the rollback's echo generated nothing


def test_backfill_runs_a_bulk_query_and_imports_when_shopify_says_it_finished(
    emulator, shopify_store, broker, worker, media_root
):
    from photosync.services.shopify.backfill import shopify_backfill_start

    photo = (PHOTOS / "mg01-bk-0.jpg").read_bytes()
    gids = [emulator.create_product(SHOP, title=f"Old {n}", images=[(f"o{n}.jpg", photo, "")])
            for n in range(3)]
    shopify_backfill_start(store=shopify_store)
    time.sleep(emulator.bulk_delay + 0.1)  # Shopify finishes, then sends bulk_operations/finish
    _settle(emulator, broker, worker)
    finish = WebhookEvent.objects.get(topic="bulk_operations/finish")
    assert finish.status == WebhookEvent.Status.PROCESSED
    assert sorted(shopify_store.products.values_list("remote_id", flat=True)) == sorted(gids)
    jobs = GenerationJob.objects.all()
    assert jobs.count() == 3
    assert {j.reason for j in jobs} == {GenerationJob.Reason.BACKFILL}
