"""Deletions on a WooCommerce store (issue 14, item 5), through the emulator's real webhooks.

Trashing fires `product.deleted` (body: only the id), restoring fires `product.restored`, a
permanent delete `product.deleted` again, and an update may show `status: trash`. The app
re-reads the product every time, so a replayed deletion of a product the store still has
changes nothing. The invariant "deletions stop pushes" for every adapter is in
tests/integrations/test_contract.py; Shopify's products/delete in tests/shopify/.
"""

from __future__ import annotations

import pytest

from bench.seed import product_outputs_seed
from photosync.models import GenerationJob, Product, Push, WebhookEvent
from photosync.services.sync import store_reconcile
from tests.conftest import drain
from tests.woocommerce.conftest import photo_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def settle(woo, broker, worker) -> None:
    for _ in range(3):
        woo.wait_deliveries()
        drain(broker, worker)


def approve(client, image_id: int, alt: str) -> None:
    response = client.post(f"/api/v1/images/{image_id}/approve", {"alt_text": alt},
                           content_type="application/json")
    assert response.status_code == 202, response.content


def test_woocommerce_trash_cancels_and_restore_brings_everything_back(
        woo_store, woo, client, operator, broker, worker):
    client.force_login(operator)
    worker.pause()  # the product as PhotoSync knows it after a generation (seeded)
    pid = woo.create_product("Trashed Watch", [("mg01-bk-0.jpg", photo_bytes())])
    (image,) = product_outputs_seed(woo_store, str(pid), count=1)
    product = Product.objects.get(store=woo_store, remote_id=str(pid))
    gallery = woo.gallery(pid)

    approve(client, image, "Waits for the store")
    woo.trash_product(pid)
    woo.wait_deliveries()
    (deleted,) = [d for d in woo.deliveries
                  if d["kind"] == "delivery" and d["topic"] == "product.deleted"]
    assert deleted["status"] == 200
    worker.resume()
    settle(woo, broker, worker)

    product.refresh_from_db()
    push = Push.objects.get(image_id=image)
    assert product.deleted_reason == "the product was moved to the store's trash"
    assert (push.status, push.error) == (
        "cancelled", "Cancelled: the product was moved to the store's trash; nothing is "
        "sent to it.")
    assert woo.gallery(pid) == gallery  # nothing was written to the trashed product
    queue = client.get("/api/v1/products/?status=deleted").json()
    assert [p["deleted_reason"] for p in queue["results"]] == [product.deleted_reason]

    woo.restore_product(pid)  # back from the trash: the merchant's approval stands
    settle(woo, broker, worker)
    product.refresh_from_db()
    push.refresh_from_db()
    assert product.deleted_at is None
    assert (push.status, push.error) == ("live", "")
    assert woo.gallery(pid) == [*gallery, int(push.remote_id)]
    event = WebhookEvent.objects.get(topic="product.restored")
    assert event.status == "processed"


def test_woocommerce_permanent_delete_and_an_update_to_trash(
        woo_store, woo, client, operator, broker, worker):
    kept = woo.create_product("Kept Watch", [("mg01-bk-0.jpg", photo_bytes())])
    gone = woo.create_product("Gone Watch", [("lt01.jpg", photo_bytes("lt01.jpg"))])
    binned = woo.create_product("Binned Watch", [("lt01.jpg", photo_bytes("lt01.jpg"))])
    settle(woo, broker, worker)
    jobs = GenerationJob.objects.count()

    woo.delete_product(gone)  # for good
    woo.update_product(binned, status="trash")  # an edit that puts it in the trash
    settle(woo, broker, worker)

    products = {p.remote_id: p for p in Product.objects.filter(store=woo_store)}
    assert products[str(gone)].deleted_reason == "the product was deleted on the store"
    assert products[str(binned)].deleted_reason == "the product was moved to the store's trash"
    assert products[str(kept)].deleted_at is None
    assert GenerationJob.objects.count() == jobs
    # The same `{"id": N}` body twice is two deliveries (a trash after a restore), and a
    # replayed deletion of a product the store still has deletes nothing.
    hook = woo.webhook("product.deleted")
    woo.redeliver(hook["id"], kept)
    settle(woo, broker, worker)
    assert Product.objects.get(pk=products[str(kept)].pk).deleted_at is None
    events = WebhookEvent.objects.filter(topic="product.deleted")
    assert events.count() == 2  # the delete of `gone` and the replay


def test_a_sweep_notices_products_gone_from_the_store_without_webhooks(
        woo_store, woo, broker, worker):
    for hook in list(woo.webhooks.values()):  # webhooks disabled: only reconciling tells
        hook["status"] = "disabled"
    first = woo.create_product("Swept Watch", [("mg01-bk-0.jpg", photo_bytes())])
    second = woo.create_product("Other Watch", [("lt01.jpg", photo_bytes("lt01.jpg"))])
    store_reconcile(store=woo_store, sweep=True)
    assert Product.objects.filter(store=woo_store, deleted_at__isnull=True).count() == 2

    woo.trash_product(first)  # the listing leaves trashed products out
    store_reconcile(store=woo_store, sweep=True)
    product = Product.objects.get(store=woo_store, remote_id=str(first))
    assert product.deleted_reason == "the product was moved to the store's trash"
    assert Product.objects.get(store=woo_store, remote_id=str(second)).deleted_at is None
