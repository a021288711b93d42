"""Fixtures for the Shopify app: configured settings, signed deliveries, shop data."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from integrations.shopify.webhooks import webhook_signature

API_KEY = "test-api-key-0001"
SECRET = "shpss_test_current_secret_0123456789abcdef"
PREVIOUS_SECRET = "shpss_test_previous_secret_0123456789abcdef"
SHOP = "alpha-goods.myshopify.com"
OTHER_SHOP = "bravo-supply.myshopify.com"
LOOPBACK = ("127.0.0.0/8", "::1/128")  # where the emulators listen


@pytest.fixture
def shopify_settings(settings):
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = SECRET
    settings.SHOPIFY_PREVIOUS_API_SECRET = PREVIOUS_SECRET
    settings.SHOPIFY_API_VERSION = "2026-10"
    return settings


def webhook_headers(
    body: bytes,
    *,
    topic: str,
    shop: str = SHOP,
    secret: str | None = SECRET,
    webhook_id: str | None = None,
    triggered_at: datetime | None = None,
) -> dict[str, str]:
    """Headers as Shopify sends them (Django test client spelling: HTTP_...)."""
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": topic,
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": shop,
        "HTTP_X_SHOPIFY_API_VERSION": "2026-10",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_EVENT_ID": str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_TRIGGERED_AT": (triggered_at or datetime.now(UTC)).isoformat(),
    }
    if secret is not None:
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = webhook_signature(body, secret)
    return headers


def shopify_body(payload: dict) -> bytes:
    """JSON as Shopify writes it: `/` escaped, which a re-serialisation would undo."""
    return json.dumps(payload).replace("/", "\\/").encode()


def post_webhook(client, payload: dict, *, topic: str, **kwargs):
    body = shopify_body(payload)
    return client.generic(
        "POST", "/webhooks/shopify", body, content_type="application/json",
        **webhook_headers(body, topic=topic, **kwargs),
    )


def product_payload(product_id: int, *, updated_at: str = "2026-11-02T10:00:00-05:00") -> dict:
    return {
        "id": product_id,
        "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        "title": "Aim Analog Watch",
        "body_html": "<p>A watch</p>",
        "vendor": "Alpha",
        "product_type": "Watches",
        "handle": "aim-analog-watch",
        "status": "active",
        "tags": "",
        "updated_at": updated_at,
        "variants": [],
        "options": [],
        "images": [],
        "media": [],
    }


@pytest.fixture
def emulator(shopify_settings, live_server):
    """A Shopify Admin emulator on loopback whose webhooks go to the app's live server, with
    the app's Shopify client pointed at it. Media process in a fraction of a second."""
    from emulators.shopify import ShopifyEmulator
    from integrations.shopify.budget import budgets_reset

    budgets_reset()  # each test starts with fresh buckets
    emu = ShopifyEmulator(api_key=API_KEY, api_secret=SECRET,
                          webhook_url=f"{live_server.url}/webhooks/shopify")
    emu.start()
    shopify_settings.SHOPIFY_API_ORIGIN = emu.base_url
    shopify_settings.PHOTOSYNC_ALLOWED_NETWORKS = list(LOOPBACK)
    emu.add_shop(SHOP)
    emu.add_shop(OTHER_SHOP)
    yield emu
    emu.stop()
    budgets_reset()


@pytest.fixture
def shopify_store(emulator):
    """SHOP connected with an offline token the emulator issued."""
    from photosync.services.shopify.auth import shopify_store_connect

    token = emulator.issue_token(SHOP)
    return shopify_store_connect(shop=SHOP, credentials={"access_token": token})


def shop_with_data(shop: str, media_root, *, token: str = "shpat_x"):
    """A connected shop holding one of everything: a product, its original and output files,
    a job, a push, a webhook event, a staff account, an orphaned output file."""
    from django.contrib.auth import get_user_model

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
    from photosync.services.credentials import store_credentials_set
    from photosync.services.media import media_save
    from photosync.services.staff import store_staff_username

    store = Store.objects.create(platform=Platform.SHOPIFY, domain=shop)
    store_credentials_set(store=store, credentials={"access_token": token})
    product = Product.objects.create(store=store, remote_id="gid://shopify/Product/1", title="W")
    source = SourceImage.objects.create(
        product=product, remote_id="gid://shopify/MediaImage/1", version="v1",
        file=media_save(folder=f"sources/{store.pk}/{product.pk}", data=b"orig", extension="jpg"),
    )
    job = GenerationJob.objects.create(store=store, product=product, input_hash="h",
                                       dedupe_key=f"{store.pk}:h")
    image = GeneratedImage.objects.create(
        job=job, product=product, source=source, kind="framed", preset="white-square",
        file=media_save(folder=f"generated/{store.pk}", data=b"png", extension="png"),
        content_hash="c", width=1, height=1,
    )
    Push.objects.create(store=store, product=product, image=image, content_hash="c")
    WebhookEvent.objects.create(platform="shopify", delivery_id=f"old-{shop}", store=store,
                                topic="products/update", shop_domain=shop)
    get_user_model().objects.create_user(store_staff_username(store=store, remote_user_id="42"))
    media_save(folder=f"generated/{store.pk}", data=b"orphan", extension="png")
    return store
