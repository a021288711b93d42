"""Webhook intake: ping, signature, dedupe, variations; fast and without store calls."""

from __future__ import annotations

import statistics
import time

import pytest

from integrations.woocommerce.webhooks import (
    DeliveryError,
    parse_product_delivery,
    ping_webhook_id,
    verify_signature,
    webhook_secret_generate,
    webhook_signature,
)
from photosync.models import WebhookEvent
from photosync.queueing import Queues
from tests.conftest import queue_size
from tests.woocommerce.conftest import WEBHOOK_SECRET, delivery, store_with_secret

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCT = {"id": 41, "parent_id": 0, "type": "simple", "name": "Aim Analog Watch",
           "date_modified_gmt": "2026-11-20T10:00:00",
           "images": [{"id": 5, "src": "https://shop.example.com/wp-content/uploads/a.jpg"}]}


def test_ping_is_answered_200_before_any_signature_check(client, broker):
    store = store_with_secret()
    response = client.post(f"/webhooks/woocommerce/{store.pk}", data="webhook_id=12",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 0
    assert queue_size(broker, Queues.WEBHOOKS) == 0


def test_ping_for_an_unknown_store_is_404(client):
    response = client.post("/webhooks/woocommerce/999", data="webhook_id=12",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 404


@pytest.mark.parametrize("case", ["wrong secret", "missing", "tampered body", "empty secret"])
def test_a_bad_signature_is_401_and_nothing_is_recorded(client, broker, case):
    store = store_with_secret()
    raw = b'{"id":41,"date_modified_gmt":"2026-11-20T10:00:00"}'
    kwargs = {
        "wrong secret": {"signature": webhook_signature(raw, "x" * 40), "body": raw},
        "missing": {"signature": "", "body": raw},
        "tampered body": {"signature": webhook_signature(raw, WEBHOOK_SECRET),
                          "body": raw.replace(b"41", b"42")},
        "empty secret": {"signature": webhook_signature(raw, ""), "body": raw},
    }[case]
    response = delivery(client, store, {}, **kwargs)
    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0
    assert queue_size(broker, Queues.WEBHOOKS) == 0


def test_a_signed_body_that_looks_like_a_ping_is_not_a_ping(client):
    store = store_with_secret()
    raw = b"webhook_id=12"
    response = delivery(client, store, {}, body=raw, signature=webhook_signature(raw, "nope"))
    assert response.status_code == 401


def test_a_delivery_is_recorded_once_and_repeats_are_deduplicated(client, broker):
    store = store_with_secret()
    first = delivery(client, store, PRODUCT, delivery_id=100)
    # WooCommerce's delivery id changes on every send; the identity does not.
    again = delivery(client, store, PRODUCT, delivery_id=101)
    assert (first.status_code, again.status_code) == (200, 200)
    event = WebhookEvent.objects.get()
    assert event.delivery_id == f"{store.pk}:product.updated:41:2026-11-20T10:00:00"
    assert event.payload == {"id": "41", "product_id": "41",
                             "date_modified_gmt": "2026-11-20T10:00:00", "variation": False}
    assert event.store == store and event.topic == "product.updated"
    assert queue_size(broker, Queues.WEBHOOKS) == 1

    # A later change of the same product is a new delivery; so is another webhook's.
    delivery(client, store, {**PRODUCT, "date_modified_gmt": "2026-11-20T10:05:00"})
    delivery(client, store, PRODUCT, topic="product.created", webhook_id=8)
    assert WebhookEvent.objects.count() == 3
    assert queue_size(broker, Queues.WEBHOOKS) == 3


def test_a_delivery_re_sent_with_another_webhook_id_is_not_recorded_again(client, broker):
    """Issue 13, finding 10: a signed body re-sent with a new X-WC-Webhook-ID (no header is
    signed) was recorded again, costing a store read per re-send."""
    store = store_with_secret()
    for webhook_id, delivery_id in ((7, 100), (9, 101), (12345, 102), (7, 103)):
        assert delivery(client, store, PRODUCT, webhook_id=webhook_id,
                        delivery_id=delivery_id).status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert queue_size(broker, Queues.WEBHOOKS) == 1
    # Without a modification time, the signed body itself is the identity.
    undated = {"id": 42, "name": "Brick"}
    for webhook_id in (7, 8):
        delivery(client, store, undated, webhook_id=webhook_id)
    delivery(client, store, {**undated, "name": "Brick, blue"})
    assert WebhookEvent.objects.filter(payload__id="42").count() == 2
    assert queue_size(broker, Queues.WEBHOOKS) == 3


def test_a_variation_maps_to_its_parent(client, broker):
    store = store_with_secret()
    variation = {"id": 57, "parent_id": 41, "type": "variation",
                 "date_modified_gmt": "2026-11-20T10:00:00"}
    assert delivery(client, store, variation).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.payload["product_id"] == "41"
    assert event.payload["id"] == "57"
    assert event.payload["variation"] is True


def test_topics_we_did_not_ask_for_are_acknowledged_and_ignored(client, broker):
    store = store_with_secret()
    response = delivery(client, store, {"id": 9}, topic="order.created")
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 0


def test_a_disconnected_store_answers_410_so_woocommerce_disables_the_webhook(client):
    store = store_with_secret(status="uninstalled")
    assert delivery(client, store, PRODUCT).status_code == 410
    assert WebhookEvent.objects.count() == 0


def test_a_signed_delivery_without_a_product_is_400(client):
    store = store_with_secret()
    assert delivery(client, store, {"name": "no id"}).status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_intake_is_fast(client, broker):
    """No store calls in the request: a delivery is a lookup, an HMAC and an insert."""
    store = store_with_secret()
    timings = []
    for n in range(30):
        payload = {**PRODUCT, "date_modified_gmt": f"2026-11-20T10:{n:02d}:00"}
        started = time.perf_counter()
        assert delivery(client, store, payload, delivery_id=n).status_code == 200
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    print(f"webhook intake median {median * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms")
    assert median < 0.25


# --- the pure functions ----------------------------------------------------------------
def test_webhook_secrets_are_long_alphanumeric_and_distinct():
    a, b = webhook_secret_generate(), webhook_secret_generate()
    assert a != b and len(a) >= 32 and a.isalnum()
    with pytest.raises(ValueError):
        webhook_secret_generate(16)


def test_signature_is_over_the_raw_bytes():
    raw = b'{"src":"https:\\/\\/shop.example.com\\/a.jpg"}'
    signature = webhook_signature(raw, WEBHOOK_SECRET)
    assert verify_signature(raw, signature, WEBHOOK_SECRET)
    assert verify_signature(raw, f"  {signature}\n", WEBHOOK_SECRET)
    reserialised = b'{"src": "https://shop.example.com/a.jpg"}'
    assert not verify_signature(reserialised, signature, WEBHOOK_SECRET)
    assert not verify_signature(raw, signature, "")


def test_ping_detection():
    assert ping_webhook_id(b"webhook_id=12", {}) == "12"
    assert ping_webhook_id(b"webhook_id=12", {"X-WC-Webhook-Signature": "x"}) is None
    assert ping_webhook_id(b"webhook_id=12", {"X-WC-Webhook-Topic": "product.updated"}) is None
    assert ping_webhook_id(b"webhook_id=12&x=1", {}) is None
    assert ping_webhook_id(b'{"id": 1}', {}) is None


def test_parse_rejects_what_it_cannot_use():
    headers = {"X-WC-Webhook-Topic": "product.updated", "X-WC-Webhook-ID": "3"}
    for body in (b"[1]", b"not json", b'{"id": 0}', b'{"id": true}', b'{"id": "x"}'):
        with pytest.raises(DeliveryError):
            parse_product_delivery(body, headers)
    with pytest.raises(DeliveryError):
        parse_product_delivery(b'{"id": 1}', {"X-WC-Webhook-Topic": "product.updated"})
    parsed = parse_product_delivery(b'{"id": "12", "parent_id": 0}', headers)
    assert (parsed.product_id, parsed.modified_gmt, parsed.is_variation) == ("12", "", False)
