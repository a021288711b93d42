"""WooCommerce end to end: the app on a live port, the emulator as the store, the real
pipeline (classical segmenter, procedural scenes) and a real Dramatiq worker.

connect (wc-auth) → webhooks created → product created on the store → signed delivery →
generation → approve → gallery-preserving PUT (the store downloads our media URL) → the
echo `product.updated` generates nothing. Runs on PostgreSQL + Redis and on SQLite + the
in-process broker.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from photosync.models import GeneratedImage, GenerationJob, Push, Store, WebhookEvent
from photosync.services.stores import store_adapter
from photosync.services.woocommerce.connect import woocommerce_store_connect
from tests.conftest import drain
from tests.woocommerce.conftest import photo_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(live_server, settings, media_root, woo_options):
    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    return live_server.url


def settle(woo, broker, worker, rounds: int = 3) -> None:
    """Deliveries enqueue work and work (pushes) causes deliveries: wait for both."""
    for _ in range(rounds):
        woo.wait_deliveries()
        drain(broker, worker)
    woo.wait_deliveries()


def deliveries(woo, topic: str) -> list[dict]:
    return [d for d in woo.deliveries if d["kind"] == "delivery" and d["topic"] == topic]


def approve(client, image: GeneratedImage, *, alt: str, featured: bool) -> None:
    response = client.post(f"/api/v1/images/{image.pk}/approve",
                           {"alt_text": alt, "featured": featured},
                           content_type="application/json")
    assert response.status_code == 202, response.content


def test_a_new_product_flows_to_the_store_and_the_echo_generates_nothing(
    app, client, operator, woo, broker, worker
):
    started = time.perf_counter()
    client.force_login(operator)
    authorize = client.get("/woocommerce/connect", {"store": woo.url})["Location"]
    assert woo.approve(authorize).status_code == 302
    settle(woo, broker, worker)
    store = Store.objects.get(platform="woocommerce")
    assert sorted(h["topic"] for h in woo.webhooks.values()) == [
        "product.created", "product.deleted", "product.restored", "product.updated"]

    originals = [("mg01-bk-0.jpg", photo_bytes("mg01-bk-0.jpg")),
                 ("luma-yoga-brick.jpg", photo_bytes("luma-yoga-brick.jpg"))]
    pid = woo.create_product("Aim Analog Watch", originals, categories=("Watches",))
    before = woo.gallery(pid)
    settle(woo, broker, worker)

    assert [d["status"] for d in deliveries(woo, "product.created")] == [200]
    event = WebhookEvent.objects.get(topic="product.created")
    assert event.status == "processed" and event.payload["product_id"] == str(pid)
    job = GenerationJob.objects.get()
    assert job.status == "succeeded", job.error
    assert job.product.remote_id == str(pid) and job.product.title == "Aim Analog Watch"
    ready = GeneratedImage.objects.filter(status="ready")
    framed = ready.filter(kind="framed").order_by("pk").first()
    scene = ready.filter(kind="scene").order_by("pk").first()
    assert framed and scene
    generated_at = time.perf_counter()

    # Approve one image, not featured: it goes last, every existing image stays.
    approve(client, framed, alt="Aim Analog Watch on white", featured=False)
    settle(woo, broker, worker)
    push = Push.objects.get(image=framed)
    assert push.status == "live", push.error
    gallery = woo.gallery(pid)
    assert gallery == [*before, int(push.remote_id)]
    ours = woo.attachments[int(push.remote_id)]
    assert ours["alt"] == "Aim Analog Watch on white"
    with framed.file.open("rb") as fh:
        assert ours["data"] == fh.read()  # downloaded from our public media URL
    assert woo.sideloads == [f"{app}/media/{framed.file.name}"]
    assert [i["id"] for i in push.previous_state["images"]] == before

    # The store's echo of our own push arrived and generated nothing.
    assert [d["status"] for d in deliveries(woo, "product.updated")] == [200]
    echo = WebhookEvent.objects.get(topic="product.updated")
    assert (echo.status, echo.error) == ("processed", "nothing new to generate")
    assert GenerationJob.objects.count() == 1

    # A featured approval goes first; the previous gallery follows in order.
    approve(client, scene, alt="Aim Analog Watch on a desk", featured=True)
    settle(woo, broker, worker)
    featured_push = Push.objects.get(image=scene)
    assert featured_push.status == "live", featured_push.error
    assert woo.gallery(pid) == [int(featured_push.remote_id), *before, int(push.remote_id)]
    assert GenerationJob.objects.count() == 1

    # A variation's delivery refreshes its parent, which has nothing new either.
    woo.create_variation(pid, "Aim Analog Watch - Black")
    settle(woo, broker, worker)
    variation = WebhookEvent.objects.get(payload__variation=True)
    assert variation.payload["product_id"] == str(pid) and variation.status == "processed"
    assert GenerationJob.objects.count() == 1

    # Rolling the featured push back restores the gallery exactly as it was recorded.
    adapter = store_adapter(store=store)
    adapter.rollback(str(pid), featured_push.remote_id, featured_push.previous_state)
    assert woo.gallery(pid) == [*before, int(push.remote_id)]
    settle(woo, broker, worker)
    assert GenerationJob.objects.count() == 1
    print(f"woocommerce e2e: {generated_at - started:.1f} s to generated images, "
          f"{time.perf_counter() - started:.1f} s in all")


def test_a_push_answered_too_late_after_the_store_applied_it_is_not_duplicated(
    app, client, operator, woo, broker, worker, woo_options, settings
):
    settings.PHOTOSYNC_ADAPTER_OPTIONS = {"woocommerce": {**woo_options, "push_timeout": 1.0}}
    key, secret = woo.add_key()
    woocommerce_store_connect(url=woo.url, consumer_key=key, consumer_secret=secret)
    pid = woo.create_product("Yoga Brick", [("brick.jpg", photo_bytes("luma-yoga-brick.jpg"))])
    before = woo.gallery(pid)
    settle(woo, broker, worker)
    image = GeneratedImage.objects.filter(kind="framed").first()

    woo.put_delay = 2.5  # the store applies the PUT, then answers after our timeout
    client.force_login(operator)
    approve(client, image, alt="Yoga brick", featured=False)
    settle(woo, broker, worker)
    woo.put_delay = 0.0

    push = Push.objects.get()
    assert push.status == "live", push.error
    assert woo.gallery(pid) == [*before, int(push.remote_id)]
    assert len(woo.sideloads) == 1
    assert [r[1] for r in woo.requests if r[0] == "PUT"] == [f"products/{pid}"]  # never re-sent
    assert GenerationJob.objects.count() == 1


def test_the_authorize_url_carries_a_fresh_state_each_time(client, operator, woo, woo_options):
    client.force_login(operator)
    states = {
        parse_qs(urlsplit(client.get("/woocommerce/connect", {"store": woo.url})["Location"])
                 .query)["user_id"][0]
        for _ in range(3)
    }
    assert len(states) == 3 and all(len(s) >= 40 for s in states)
