"""Addresses of a WooCommerce connection: a store's origin, and PhotoSync's addresses that
the store calls (the wc-auth callback and return pages, the webhook delivery URL)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from photosync.models import Store


def url_origin(url: object) -> str:
    """The origin (`scheme://host[:port]`, lower-case host, no default port) of an http(s)
    address, or "" when it has none."""
    parts = urlsplit(str(url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = 443 if parts.scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def woocommerce_callback_url() -> str:
    return f"{settings.PHOTOSYNC_PUBLIC_URL}/woocommerce/callback"


def woocommerce_return_url() -> str:
    return f"{settings.PHOTOSYNC_PUBLIC_URL}/woocommerce/return"


def woocommerce_delivery_url(*, store: Store) -> str:
    return f"{settings.PHOTOSYNC_PUBLIC_URL}/webhooks/woocommerce/{store.pk}"
