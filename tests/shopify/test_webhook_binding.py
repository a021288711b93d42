"""Every Shopify webhook is bound to its shop (issue 13, finding 1).

The HMAC covers only the body: a captured, correctly signed body can be re-sent with any
topic, shop domain and webhook id in the headers. The review erased shop B with a
products/update body of shop A re-sent as shop/redact for B. Negative tests assert that
nothing of the other shop changed: rows, files, credentials, status.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model

from photosync.models import (
    GeneratedImage,
    GenerationJob,
    Product,
    Push,
    SourceImage,
    Store,
    WebhookEvent,
)
from photosync.services.credentials import store_credentials_get
from photosync.services.webhook_events import webhook_event_handle
from tests.shopify.conftest import OTHER_SHOP, SHOP, post_webhook, shop_with_data

pytestmark = pytest.mark.django_db

DESTRUCTIVE = ("shop/redact", "app/uninstalled", "customers/redact")


def _snapshot(store: Store, media_root) -> dict:
    """Everything of a store that an erasure or an uninstall would change."""
    store.refresh_from_db()
    return {
        "status": store.status,
        "credentials": store_credentials_get(store=store),
        "rows": {
            model.__name__: model.objects.filter(
                **{"store" if hasattr(model, "store") else "product__store": store}).count()
            for model in (Product, SourceImage, GenerationJob, GeneratedImage, Push)
        },
        "events": WebhookEvent.objects.filter(shop_domain=store.domain).exclude(
            delivery_id__startswith="replay-").count(),
        "staff": get_user_model().objects.filter(
            username__startswith=f"store{store.pk}:").count(),
        "files": sorted(str(p) for p in _paths_of(store.pk, media_root) if p.is_file()),
    }


def _paths_of(store_pk: int, media_root) -> list:
    """Files and folders under MEDIA_ROOT that belong to the store (its id is a folder)."""
    return [p for p in media_root.rglob("*") if str(store_pk) in p.relative_to(media_root).parts]


def _deliver(client, capture, payload: dict, *, topic: str, shop: str) -> WebhookEvent | None:
    """Post a signed body with the given headers and process what it recorded (None: the
    event went with the shop's records, as shop/redact erases them)."""
    webhook_id = f"replay-{uuid.uuid4()}"
    with capture(execute=True):
        response = post_webhook(client, payload, topic=topic, shop=shop, webhook_id=webhook_id)
    assert response.status_code == 200
    event = WebhookEvent.objects.get(delivery_id=webhook_id)
    if event.status == WebhookEvent.Status.RECEIVED:
        with capture(execute=True):
            webhook_event_handle(event_id=event.pk)
    return WebhookEvent.objects.filter(pk=event.pk).first()


@pytest.fixture
def shop_b(emulator, media_root):
    """Shop B, installed: its token works on the (emulated) Admin API."""
    return shop_with_data(OTHER_SHOP, media_root, token=emulator.issue_token(OTHER_SHOP))


@pytest.mark.parametrize("topic", DESTRUCTIVE)
def test_a_product_body_of_shop_a_replayed_for_shop_b_leaves_b_intact(
    client, emulator, shop_b, media_root, topic, django_capture_on_commit_callbacks
):
    gid = emulator.create_product(SHOP, title="Aim Analog Watch")
    body = emulator._product_payload(emulator.shops[SHOP], int(gid.rsplit("/", 1)[1]))
    before = _snapshot(shop_b, media_root)
    assert before["files"] and before["credentials"]["access_token"]

    event = _deliver(client, django_capture_on_commit_callbacks, body, topic=topic,
                     shop=OTHER_SHOP)

    assert _snapshot(shop_b, media_root) == before
    assert event.status == WebhookEvent.Status.IGNORED
    assert event.error == f"refused: the {topic} body names no shop (a replayed body?)"
    assert emulator.stats["graphql"] == 0  # refused at intake: not even a store call


@pytest.mark.parametrize("topic", DESTRUCTIVE)
def test_a_body_naming_shop_a_is_refused_for_shop_b(
    client, emulator, shop_b, media_root, topic, django_capture_on_commit_callbacks
):
    body = (emulator.shop_payload(SHOP) if topic == "app/uninstalled"
            else emulator.compliance_payload(topic, SHOP))
    before = _snapshot(shop_b, media_root)

    event = _deliver(client, django_capture_on_commit_callbacks, body, topic=topic,
                     shop=OTHER_SHOP)

    assert _snapshot(shop_b, media_root) == before
    assert (event.status, event.error) == (
        WebhookEvent.Status.IGNORED,
        f"refused: the body names the shop {SHOP}, not the delivering {OTHER_SHOP}")
    assert "john@example.com" not in str(event.payload)


def test_a_refused_delivery_is_logged_and_listed_on_status(
    client, emulator, shop_b, operator, caplog, django_capture_on_commit_callbacks
):
    _deliver(client, django_capture_on_commit_callbacks,
             emulator.compliance_payload("shop/redact", SHOP), topic="shop/redact",
             shop=OTHER_SHOP)
    assert f"for {OTHER_SHOP} refused: the body names the shop {SHOP}" in caplog.text
    # The headers are the sender's to choose: the page shows them as text.
    _deliver(client, django_capture_on_commit_callbacks,
             emulator.compliance_payload("customers/redact", SHOP), topic="customers/redact",
             shop="<script>alert(1)</script>")
    client.force_login(operator)
    page = client.get("/status").content.decode()
    assert "Failed webhook events (2)" in page and "refused" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


def test_app_uninstalled_is_confirmed_by_the_admin_api(
    client, emulator, shop_b, media_root, django_capture_on_commit_callbacks
):
    """A genuine app/uninstalled body of B replayed while the app is installed (say, after a
    reinstall) is refused: B's token still opens the Admin API. Once Shopify revoked it (it
    answers 401), the same delivery uninstalls B."""
    before = _snapshot(shop_b, media_root)
    event = _deliver(client, django_capture_on_commit_callbacks,
                     emulator.shop_payload(OTHER_SHOP), topic="app/uninstalled",
                     shop=OTHER_SHOP)
    assert (event.status, event.error) == (
        "ignored", "refused: Shopify still accepts the shop's token: the app is installed")
    assert _snapshot(shop_b, media_root) == before

    token = before["credentials"]["access_token"]
    emulator.uninstall(OTHER_SHOP)
    assert emulator.graphql(token, "2026-10", {"query": "{ shop { id } }"})[0] == 401
    event = _deliver(client, django_capture_on_commit_callbacks,
                     emulator.shop_payload(OTHER_SHOP), topic="app/uninstalled",
                     shop=OTHER_SHOP)
    assert event.status == "processed"
    shop_b.refresh_from_db()
    assert shop_b.status == Store.Status.UNINSTALLED
    assert store_credentials_get(store=shop_b) == {}
    assert GenerationJob.objects.get(store=shop_b).status == "cancelled"


def test_shop_redact_erases_only_a_shop_that_uninstalled_the_app(
    client, emulator, shop_b, media_root, django_capture_on_commit_callbacks
):
    before = _snapshot(shop_b, media_root)
    body = emulator.compliance_payload("shop/redact", OTHER_SHOP)
    event = _deliver(client, django_capture_on_commit_callbacks, body, topic="shop/redact",
                     shop=OTHER_SHOP)
    assert event.error == "refused: Shopify still accepts the shop's token: the app is installed"
    assert _snapshot(shop_b, media_root) == before

    # Uninstalled, and the app/uninstalled delivery never arrived: shop/redact confirms it.
    emulator.uninstall(OTHER_SHOP)
    event = _deliver(client, django_capture_on_commit_callbacks, body, topic="shop/redact",
                     shop=OTHER_SHOP)
    assert not Store.objects.filter(pk=shop_b.pk).exists()
    assert event is None  # erased with the shop's webhook records
    assert _paths_of(shop_b.pk, media_root) == []


def test_a_product_id_the_shop_does_not_have_changes_nothing(
    client, emulator, shop_b, media_root, django_capture_on_commit_callbacks
):
    """Product topics re-read the product from the header's shop: shop A's product id,
    delivered as B's, finds nothing in B."""
    gid = emulator.create_product(SHOP, title="Aim Analog Watch")
    body = emulator._product_payload(emulator.shops[SHOP], int(gid.rsplit("/", 1)[1]))
    before = _snapshot(shop_b, media_root)

    event = _deliver(client, django_capture_on_commit_callbacks, body,
                     topic="products/update", shop=OTHER_SHOP)

    assert event.status == WebhookEvent.Status.PROCESSED
    assert _snapshot(shop_b, media_root) == before
    assert not Product.objects.filter(remote_id=gid).exists()
    assert emulator.op_counts.get("Product") == 1  # B's Admin API was asked, and said no


def test_the_signed_body_is_what_names_the_shop():
    from integrations.shopify.webhooks import payload_shop

    assert payload_shop("shop/redact", {"shop_domain": "A.myshopify.com "}) == "a.myshopify.com"
    assert payload_shop("app/uninstalled", {"domain": "shop.example.com",
                                            "myshopify_domain": "a.myshopify.com"}) == (
        "a.myshopify.com")
    assert payload_shop("app/uninstalled", {"domain": "a.myshopify.com"}) == "a.myshopify.com"
    assert payload_shop("customers/data_request", {"title": "a watch"}) == ""
    assert payload_shop("products/update", {"shop_domain": "a.myshopify.com"}) is None
