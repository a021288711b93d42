"""Fixtures for the WooCommerce tests: the store emulator and adapter options for loopback."""

from __future__ import annotations

import json

import pytest

from emulators.woocommerce import WooEmulator
from integrations.woocommerce.webhooks import webhook_signature
from photosync.models import Platform, Store
from tests.conftest import PHOTOS

WEBHOOK_SECRET = "S3cretS3cretS3cretS3cretS3cretS3cretAbCd"


@pytest.fixture
def woo():
    """A WooCommerce store on loopback (emulators/woocommerce for the rules it follows)."""
    emulator = WooEmulator()
    yield emulator
    emulator.close()


@pytest.fixture
def woo_options(settings) -> dict:
    """Adapter options for tests: the emulator and the live server are on loopback."""
    options = {
        "timeout": 10.0,
        "push_timeout": 10.0,
        "allowed_networks": ["127.0.0.0/8", "::1/128"],
        "max_image_bytes": 20 * 1024 * 1024,
        "unknown_outcome_reread_interval": 0.1,
        "throttle_wait_max": 5.0,
    }
    settings.PHOTOSYNC_ADAPTER_OPTIONS = {
        **settings.PHOTOSYNC_ADAPTER_OPTIONS, "woocommerce": options
    }
    return options


def photo_bytes(name: str = "mg01-bk-0.jpg") -> bytes:
    return (PHOTOS / name).read_bytes()


def store_with_secret(*, domain: str = "https://shop.example.com", status: str = "active",
                      secret: str = WEBHOOK_SECRET) -> Store:
    """A connected store row without a remote (for intake tests that never call the store)."""
    from photosync.services.credentials import store_credentials_set

    store = Store.objects.create(platform=Platform.WOOCOMMERCE, domain=domain, status=status)
    store_credentials_set(store=store, credentials={
        "consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40,
        "webhook_secret": secret, "embed_secret": "e" * 43,
    })
    return store


def delivery(client, store: Store, payload: dict, *, topic: str = "product.updated",
             webhook_id: int = 7, delivery_id: int = 1, secret: str = WEBHOOK_SECRET,
             signature: str | None = None, body: bytes | None = None):
    """POST a delivery to the app as WooCommerce sends it (slashes escaped, raw body signed)."""
    raw = body if body is not None else json.dumps(payload, separators=(",", ":")).replace(
        "/", "\\/").encode()
    return client.post(
        f"/webhooks/woocommerce/{store.pk}",
        data=raw,
        content_type="application/json",
        headers={
            "X-WC-Webhook-Source": "https://shop.example.com/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": topic.split(".")[0],
            "X-WC-Webhook-Event": topic.split(".")[1],
            "X-WC-Webhook-Signature": signature if signature is not None
            else webhook_signature(raw, secret),
            "X-WC-Webhook-ID": str(webhook_id),
            "X-WC-Webhook-Delivery-ID": str(delivery_id),
        },
    )


@pytest.fixture
def woo_store(live_server, settings, media_root, woo_options, woo):
    """A store connected to the emulator through the real connect flow (its four webhooks
    registered and pinged)."""
    from photosync.services.woocommerce.connect import woocommerce_store_connect

    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    key, secret = woo.add_key()
    store = woocommerce_store_connect(url=woo.url, consumer_key=key, consumer_secret=secret)
    woo.wait_deliveries()  # the pings of the four webhooks
    return store
