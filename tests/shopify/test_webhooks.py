"""Webhook intake: verification over the raw body, status codes, dedupe, topic handling."""

from __future__ import annotations

import json

import pytest

from integrations.shopify.webhooks import verify_webhook, webhook_signature
from photosync.models import (
    GeneratedImage,
    GenerationJob,
    Platform,
    Product,
    Push,
    SourceImage,
    Store,
    WebhookEvent,
)
from photosync.services.credentials import store_credentials_get
from photosync.services.webhook_events import webhook_event_handle
from tests.shopify.conftest import (
    OTHER_SHOP,
    PREVIOUS_SECRET,
    SECRET,
    SHOP,
    post_webhook,
    product_payload,
    shop_with_data,
    shopify_body,
    webhook_headers,
)

pytestmark = pytest.mark.django_db


def test_signature_is_checked_over_the_raw_bytes_with_either_secret():
    body = shopify_body({"title": "A/B & C"})
    assert b"\\/" in body  # what Shopify sends; json.loads + dumps would change the bytes
    assert verify_webhook(body, webhook_signature(body, SECRET), [SECRET, PREVIOUS_SECRET])
    assert verify_webhook(body, webhook_signature(body, PREVIOUS_SECRET), [SECRET, PREVIOUS_SECRET])
    assert not verify_webhook(body, webhook_signature(body, "other"), [SECRET, PREVIOUS_SECRET])
    reserialised = json.dumps(json.loads(body)).encode()
    assert not verify_webhook(reserialised, webhook_signature(body, SECRET), [SECRET])
    assert not verify_webhook(body, "", [SECRET])
    assert not verify_webhook(body, webhook_signature(body, SECRET), ["", ""])


def test_a_good_delivery_is_recorded_once_and_queued(client, shopify_settings,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = post_webhook(client, product_payload(2**60 + 7), topic="products/create",
                             webhook_id="wh-1")
    assert first.status_code == 200
    assert len(callbacks) == 1  # one enqueue, after commit
    again = post_webhook(client, product_payload(2**60 + 7), topic="products/create",
                         webhook_id="wh-1")
    assert again.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.platform, event.delivery_id, event.topic, event.shop_domain) == (
        "shopify", "wh-1", "products/create", SHOP
    )
    assert event.payload["id"] == str(2**60 + 7)  # exact, beyond 2**53
    assert event.payload["admin_graphql_api_id"] == f"gid://shopify/Product/{2**60 + 7}"
    assert event.triggered_at is not None


def test_previous_secret_is_accepted_during_rotation(client, shopify_settings):
    response = post_webhook(client, product_payload(1), topic="products/update",
                            secret=PREVIOUS_SECRET)
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_tampered_wrong_secret_missing_hmac_and_wrong_method_record_nothing(
    client, shopify_settings
):
    body = shopify_body(product_payload(1))
    headers = webhook_headers(body, topic="products/update")
    tampered = body.replace(b"Aim", b"Bim")
    response = client.generic("POST", "/webhooks/shopify", tampered,
                              content_type="application/json", **headers)
    assert response.status_code == 401

    wrong = webhook_headers(body, topic="products/update", secret="not-the-secret")
    response = client.generic("POST", "/webhooks/shopify", body,
                              content_type="application/json", **wrong)
    assert response.status_code == 401

    missing = webhook_headers(body, topic="products/update", secret=None)
    response = client.generic("POST", "/webhooks/shopify", body,
                              content_type="application/json", **missing)
    assert response.status_code == 400

    for method in ("GET", "PUT", "DELETE"):
        response = client.generic(method, "/webhooks/shopify", body,
                                  content_type="application/json", **headers)
        assert response.status_code == 405
        assert response["Allow"] == "POST"

    assert WebhookEvent.objects.count() == 0


def test_missing_required_header_is_400_and_optional_ones_may_be_absent(client,
                                                                        shopify_settings):
    body = shopify_body(product_payload(1))
    headers = webhook_headers(body, topic="products/update")
    del headers["HTTP_X_SHOPIFY_WEBHOOK_ID"]
    response = client.generic("POST", "/webhooks/shopify", body,
                              content_type="application/json", **headers)
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0

    headers = webhook_headers(body, topic="products/update")
    del headers["HTTP_X_SHOPIFY_EVENT_ID"], headers["HTTP_X_SHOPIFY_TRIGGERED_AT"]
    response = client.generic("POST", "/webhooks/shopify", body,
                              content_type="application/json", **headers)
    assert response.status_code == 200
    assert WebhookEvent.objects.get().triggered_at is None


def test_unconfigured_server_says_so(client, settings):
    settings.SHOPIFY_API_KEY = ""
    settings.SHOPIFY_API_SECRET = ""
    response = post_webhook(client, product_payload(1), topic="products/update")
    assert response.status_code == 503
    assert "SHOPIFY_API_SECRET" in response.json()["detail"]
    assert WebhookEvent.objects.count() == 0


def test_customer_topics_are_acknowledged_recorded_and_hold_no_personal_data(
    client, shopify_settings
):
    payload = {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [299938, 280263],
    }
    for topic in ("customers/data_request", "customers/redact"):
        assert post_webhook(client, payload, topic=topic).status_code == 200
    events = list(WebhookEvent.objects.order_by("pk"))
    assert [e.topic for e in events] == ["customers/data_request", "customers/redact"]
    for event in events:
        assert "john@example.com" not in json.dumps(event.payload)
        assert webhook_event_handle(event_id=event.pk) == "processed"


def test_shop_redact_leaves_no_row_or_file_of_that_shop(client, shopify_settings, media_root,
                                                        django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    from photosync.services.stores import store_uninstall

    store = shop_with_data(SHOP, media_root)
    other = shop_with_data(OTHER_SHOP, media_root)
    store_pk = store.pk
    store_uninstall(store=store)  # Shopify sends shop/redact 48 hours after the uninstall
    assert post_webhook(client, {"shop_id": 1, "shop_domain": SHOP},
                        topic="shop/redact").status_code == 200
    event = WebhookEvent.objects.get(topic="shop/redact")
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_handle(event_id=event.pk)

    assert not Store.objects.filter(pk=store_pk).exists()
    for model in (Product, SourceImage, GenerationJob, GeneratedImage, Push):
        field = "store" if hasattr(model, "store") else "product__store"
        assert not model.objects.filter(**{f"{field}_id": store_pk}).exists(), model
    assert not WebhookEvent.objects.filter(shop_domain=SHOP).exists()
    assert not get_user_model().objects.filter(username__startswith=f"store{store_pk}:").exists()
    assert not (media_root / "sources" / str(store_pk)).exists()
    assert not (media_root / "generated" / str(store_pk)).exists()
    leftovers = [p for p in media_root.rglob("*") if p.is_file()]
    assert leftovers and all(
        p.relative_to(media_root).parts[1] == str(other.pk) for p in leftovers
    )
    # The other shop is untouched.
    assert Product.objects.filter(store=other).count() == 1
    assert GeneratedImage.objects.filter(product__store=other).count() == 1
    assert get_user_model().objects.filter(username__startswith=f"store{other.pk}:").count() == 1


def test_app_uninstalled_deactivates_drops_tokens_and_cancels_queued_work(
    client, emulator, media_root
):
    store = shop_with_data(SHOP, media_root, token=emulator.issue_token(SHOP))
    running = GenerationJob.objects.create(store=store, product=store.products.get(),
                                           input_hash="r", dedupe_key="running",
                                           status=GenerationJob.Status.RUNNING)
    emulator.uninstall(SHOP)  # Shopify revokes the app's tokens, then sends app/uninstalled
    assert post_webhook(client, {"id": 1, "domain": SHOP, "email": "owner@example.com"},
                        topic="app/uninstalled").status_code == 200
    event = WebhookEvent.objects.get(topic="app/uninstalled")
    assert event.payload == {}  # the shop object carries the owner's contact details
    assert webhook_event_handle(event_id=event.pk) == "processed"

    store.refresh_from_db()
    assert store.status == Store.Status.UNINSTALLED
    assert store_credentials_get(store=store) == {}
    assert GenerationJob.objects.get(dedupe_key=f"{store.pk}:h").status == "cancelled"
    assert GenerationJob.objects.get(pk=running.pk).status == "running"
    assert Push.objects.get(store=store).status == Push.Status.FAILED
    # Later product deliveries for the uninstalled shop are recorded and ignored.
    post_webhook(client, product_payload(1), topic="products/update")
    later = WebhookEvent.objects.exclude(delivery_id__startswith="old-").get(
        topic="products/update", store=store
    )
    assert webhook_event_handle(event_id=later.pk) == "ignored"


def test_stale_product_delivery_is_dropped_without_a_store_call(client, shopify_settings):
    from datetime import datetime

    store = Store.objects.create(platform=Platform.SHOPIFY, domain=SHOP)
    Product.objects.create(store=store, remote_id="gid://shopify/Product/5",
                           remote_updated_at=datetime.fromisoformat("2026-11-02T12:00:00+00:00"))
    post_webhook(client, product_payload(5, updated_at="2026-11-02T11:59:00+00:00"),
                 topic="products/update", webhook_id="stale-1")
    event = WebhookEvent.objects.get(delivery_id="stale-1")
    # No credentials are stored: a store call would fail loudly. Stale means none is made.
    assert webhook_event_handle(event_id=event.pk) == "ignored"
    event.refresh_from_db()
    assert event.error.startswith("stale")


def test_each_delivery_belongs_to_the_store_the_database_holds_at_its_insert(
    client, shopify_settings, media_root
):
    """The store is looked up inside the INSERT, never remembered: a shop that connects, is
    erased and connects again is bound at each delivery to what exists at that moment, and a
    delivery for a shop without a store (never installed, erased) is recorded without one and
    refused by processing, while an erased store's id is never written again."""
    from photosync.services.stores import store_redact

    def deliver(webhook_id: str) -> WebhookEvent:
        assert post_webhook(client, product_payload(1), topic="products/update",
                            webhook_id=webhook_id).status_code == 200
        return WebhookEvent.objects.get(delivery_id=webhook_id)

    assert deliver("before").store_id is None
    store = Store.objects.create(platform=Platform.SHOPIFY, domain=SHOP)
    Store.objects.create(platform=Platform.WOOCOMMERCE, domain=SHOP)  # same name, other platform
    assert deliver("connected").store_id == store.pk
    store_redact(store=store)
    erased = deliver("erased")
    assert erased.store_id is None
    assert webhook_event_handle(event_id=erased.pk) == "ignored"
    again = Store.objects.create(platform=Platform.SHOPIFY, domain=SHOP)
    assert deliver("reconnected").store_id == again.pk
    assert post_webhook(client, product_payload(1), topic="products/update",
                        webhook_id="reconnected").status_code == 200  # a repeat, still one
    assert WebhookEvent.objects.filter(delivery_id="reconnected").count() == 1


@pytest.mark.production
@pytest.mark.django_db(transaction=True)
def test_a_delivery_on_a_kept_connection_the_database_dropped_is_still_recorded(
    client, shopify_settings, broker
):
    """Intake skips the per-request `SELECT 1` health check: its INSERT is the check, and a
    kept connection found broken (the database restarted since the last request) is replaced
    and the INSERT run once more, so the delivery is still recorded and acknowledged."""
    import psycopg
    from django.db import connection

    assert connection.settings_dict["CONN_MAX_AGE"] and connection.health_check_enabled is not None
    assert post_webhook(client, product_payload(1), topic="products/update",
                        webhook_id="first").status_code == 200
    backend = connection.connection.info.backend_pid  # kept for the next request
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])
    response = post_webhook(client, product_payload(2), topic="products/update",
                            webhook_id="after-restart")
    assert response.status_code == 200
    assert connection.connection.info.backend_pid != backend
    assert set(WebhookEvent.objects.values_list("delivery_id", flat=True)) == {
        "first", "after-restart"}
