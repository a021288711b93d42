"""Webhook health and incremental reconciliation for WooCommerce stores."""

from __future__ import annotations

import pytest

from photosync.models import Store
from photosync.queueing import Work, enqueue
from photosync.services.sync import store_reconcile
from photosync.services.woocommerce.connect import woocommerce_store_connect
from photosync.services.woocommerce.health import woocommerce_stores_check
from tests.conftest import drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(live_server, settings, media_root, woo_options):
    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    return live_server.url


@pytest.fixture
def store(app, woo) -> Store:
    key, secret = woo.add_key()
    connected = woocommerce_store_connect(url=woo.url, consumer_key=key, consumer_secret=secret)
    woo.wait_deliveries()
    return connected


def test_a_webhook_disabled_by_the_store_is_reactivated_and_a_missing_one_recreated(
    store, woo, broker, worker
):
    updated = woo.webhook("product.updated")
    # Someone edits the secret in wp-admin: our endpoint now refuses every delivery (401),
    # and WooCommerce, which never retries, disables the webhook after a few failures.
    woo.webhooks[updated["id"]]["secret"] = "EditedInWpAdmin" * 3
    pid = woo.create_product("Mug")
    for n in range(10):
        woo.update_product(pid, name=f"Mug {n}")
        woo.wait_deliveries()
    statuses = [d["status"] for d in woo.deliveries
                if d["kind"] == "delivery" and d["topic"] == "product.updated"]
    assert set(statuses) == {401}
    assert woo.webhooks[updated["id"]]["status"] == "disabled"
    print(f"webhook disabled by the store after {len(statuses)} failed deliveries")
    del woo.webhooks[woo.webhook("product.created")["id"]]  # and one deleted by hand

    assert woocommerce_stores_check() == {
        store.pk: "created product.created, re-activated product.updated"}
    woo.wait_deliveries()
    assert woo.webhooks[updated["id"]]["status"] == "active"
    recreated = woo.webhook("product.created")
    assert recreated["status"] == "active"
    assert [d["status"] for d in woo.deliveries if d["kind"] == "ping"][-1] == 200

    woo.update_product(pid, name="Mug again")  # deliveries are accepted again
    woo.wait_deliveries()
    assert [d["status"] for d in woo.deliveries if d["topic"] == "product.updated"][-1] == 200

    woo.webhooks[updated["id"]]["status"] = "paused"  # the actor does the same, per store
    enqueue(Work.WOOCOMMERCE_WEBHOOKS_CHECK, store.pk)
    drain(broker, worker)
    assert woo.webhooks[updated["id"]]["status"] == "active"
    assert woocommerce_stores_check() == {store.pk: "ok"}


def test_a_store_that_refuses_the_key_is_reported_not_raised(store, woo):
    woo.keys.clear()  # the merchant revoked the key
    result = woocommerce_stores_check()
    assert result[store.pk].startswith("failed: ") and "Reconnect" in result[store.pk]


def test_reconcile_reads_changes_since_the_watermark_and_waits_out_429(store, woo, broker,
                                                                       worker):
    for n in range(3):
        woo.create_product(f"P{n}")
    woo.wait_deliveries()
    woo.throttle(1, "1")  # the host's firewall: one 429 with Retry-After: 1
    assert store_reconcile(store=store) == 3
    store.refresh_from_db()
    assert store.watermark is not None
    assert any(q.get("page") == "1" for m, r, q in woo.requests if r == "products")

    woo.requests.clear()
    assert store_reconcile(store=store) == 3  # all within the overlap window
    _, _, query = [r for r in woo.requests if r[1] == "products"][-1]
    assert query["dates_are_gmt"] == "true" and query["modified_after"]
    drain(broker, worker)
