"""Shopify's products/delete (issue 14, item 5): its body is only the id, so the product is
re-read from the delivering shop, and only a product the shop no longer has is deleted."""

from __future__ import annotations

import pytest

from photosync.models import Product, WebhookEvent
from tests.conftest import PHOTOS, drain
from tests.shopify.conftest import SHOP

pytestmark = pytest.mark.django_db(transaction=True)


def test_products_delete_is_confirmed_with_the_shop(
        emulator, shopify_store, media_root, broker, worker):
    photo = [("a.jpg", (PHOTOS / "mg01-bk-0.jpg").read_bytes(), "front")]
    kept = emulator.create_product(SHOP, title="Kept", images=photo, notify=True)
    gone = emulator.create_product(SHOP, title="Gone", images=photo, notify=True)
    emulator.wait_for_webhooks()
    drain(broker, worker)

    # A replayed products/delete body for a product the shop still has: re-read, kept.
    emulator.send_webhook(SHOP, "products/delete", {"id": int(kept.rsplit("/", 1)[1])})
    emulator.delete_product(SHOP, gone)
    emulator.wait_for_webhooks()
    drain(broker, worker)

    products = {p.title: p for p in Product.objects.filter(store=shopify_store)}
    assert products["Kept"].deleted_at is None
    assert products["Gone"].deleted_reason == "the product was deleted on the store"
    notes = sorted(WebhookEvent.objects.filter(topic="products/delete")
                   .values_list("status", "error"))
    assert notes == [("processed", ""), ("processed", "the shop still has the product")]
