"""A burst of product.created deliveries through the WooCommerce emulator: the events are
drained in groups, the products re-read with `GET /products?include=…` (100 to a request),
every product ingested once, a product trashed in between marked deleted; a throttled read
leaves every event of its group pending, and the retry drains them."""

from __future__ import annotations

import pytest

from integrations.errors import Throttled
from photosync.models import GenerationJob, Product, WebhookEvent
from photosync.services.sync import product_refresh
from photosync.services.webhook_events import webhook_event_handle
from tests.conftest import drain_webhooks
from tests.woocommerce.conftest import photo_bytes

pytestmark = pytest.mark.django_db(transaction=True)

N = 120


def _product_reads(woo) -> tuple[int, int]:
    """(listing requests with include=, single product reads) the store answered."""
    listed = sum(1 for method, route, query in woo.requests
                 if method == "GET" and route.strip("/") == "products" and "include" in query)
    single = sum(1 for method, route, _ in woo.requests
                 if method == "GET" and route.strip("/").startswith("products/")
                 and route.strip("/").split("/")[-1].isdigit())
    return listed, single


def test_a_burst_is_read_with_include_and_every_product_is_ingested_once(
    woo_store, woo, broker
):
    photo = photo_bytes("luma-yoga-brick.jpg")
    held = woo.create_product("Held", [("held.jpg", photo)])
    woo.wait_deliveries()
    WebhookEvent.objects.all().delete()
    product_refresh(store_id=woo_store.pk, remote_id=str(held))
    GenerationJob.objects.all().delete()

    pids = [woo.create_product(f"Burst {i}", [(f"burst{i}.jpg", photo)]) for i in range(N)]
    woo.update_product(held, name="Held, edited")
    woo.wait_deliveries()
    woo.trash_product(held)  # trashed before the drain reads it
    woo.wait_deliveries()
    assert WebhookEvent.objects.filter(status="received").count() == N + 2

    woo.requests.clear()
    drain_webhooks(broker)

    assert WebhookEvent.objects.exclude(status="processed").count() == 0
    assert WebhookEvent.objects.filter(claimed_by__isnull=False).count() == 0
    jobs = sorted(GenerationJob.objects.values_list("product__remote_id", flat=True))
    assert jobs == sorted(str(p) for p in pids)
    assert Product.objects.filter(store=woo_store).count() == N + 1
    trashed = Product.objects.get(remote_id=str(held))
    assert trashed.deleted_at is not None
    listed, single = _product_reads(woo)
    # 120 products in two or three listings of 100; the trashed one, which a listing leaves
    # out, read on its own (as a single refresh reads it).
    assert 2 <= listed <= 4, woo.requests
    assert single <= 3, woo.requests


def test_a_throttled_batch_leaves_its_events_pending_and_the_retry_drains_them(
    woo_store, woo
):
    photo = photo_bytes("luma-yoga-brick.jpg")
    pids = [woo.create_product(f"P{i}", [(f"p{i}.jpg", photo)]) for i in range(5)]
    woo.wait_deliveries()
    events = list(WebhookEvent.objects.order_by("pk"))
    assert len(events) == 5

    woo.throttle(1, retry_after="30")  # longer than the client waits: the read fails
    with pytest.raises(Throttled):
        webhook_event_handle(event_id=events[0].pk)
    assert list(WebhookEvent.objects.values_list("status", "claimed_by")) == [
        ("received", None)] * 5
    assert not GenerationJob.objects.exists()

    assert webhook_event_handle(event_id=events[0].pk) == "processed"
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert GenerationJob.objects.count() == 5
    # The other events' own messages find nothing left to do.
    assert webhook_event_handle(event_id=events[3].pk) is None
    assert sorted(GenerationJob.objects.values_list("product__remote_id", flat=True)) == \
        sorted(str(p) for p in pids)
