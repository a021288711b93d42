"""Webhook delivery checks: pure functions over the raw request, no I/O.

Shopify signs the raw body with the app's client secret (base64 HMAC-SHA256). The body must
never be re-serialised before checking: Shopify escapes `/` and `&`, so a JSON round trip
breaks the MAC. During secret rotation the previous secret is accepted too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

# Shopify's own libraries require these and treat the others as optional; we are not stricter.
REQUIRED_HEADERS = (
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-API-Version",
    "X-Shopify-Webhook-Id",
)

PRODUCT_TOPICS = frozenset({"products/create", "products/update"})
# Its body is only `{"id": <product id>}`: the product is re-read to confirm it is gone.
DELETE_TOPIC = "products/delete"
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
KNOWN_TOPICS = PRODUCT_TOPICS | COMPLIANCE_TOPICS | {
    DELETE_TOPIC, "app/uninstalled", "bulk_operations/finish"}

# The HMAC covers the body only: X-Shopify-Shop-Domain is not signed. Where the body names the
# shop it is about, that name is the signed one (the first of these fields that is present).
SHOP_FIELDS = {
    "shop/redact": ("shop_domain",),
    "customers/data_request": ("shop_domain",),
    "customers/redact": ("shop_domain",),
    "app/uninstalled": ("myshopify_domain", "domain"),  # the shop object itself
}


def webhook_signature(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value Shopify sends for `body` signed with `secret`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(body: bytes, signature: str, secrets: Iterable[str]) -> bool:
    """True when `signature` is the HMAC of `body` under any of `secrets` (constant time).

    Every secret is checked, so the time taken does not reveal which one matched.
    """
    given = signature.strip().encode()
    ok = False
    for secret in secrets:
        if secret:
            ok |= hmac.compare_digest(webhook_signature(body, secret).encode(), given)
    return ok


@dataclass(frozen=True)
class Delivery:
    """The identity of one webhook delivery, read from its headers."""

    topic: str
    shop_domain: str
    webhook_id: str
    api_version: str
    event_id: str = ""
    triggered_at: datetime | None = None


def parse_delivery(headers: Mapping[str, str]) -> Delivery | None:
    """Read a delivery's headers; None when a required one is missing or empty."""
    values = {name: (headers.get(name) or "").strip() for name in REQUIRED_HEADERS}
    if not all(values.values()):
        return None
    return Delivery(
        topic=values["X-Shopify-Topic"].lower(),
        shop_domain=values["X-Shopify-Shop-Domain"].lower(),
        webhook_id=values["X-Shopify-Webhook-Id"],
        api_version=values["X-Shopify-API-Version"],
        event_id=(headers.get("X-Shopify-Event-Id") or "").strip(),
        triggered_at=parse_timestamp(headers.get("X-Shopify-Triggered-At") or ""),
    )


def payload_shop(topic: str, payload: Mapping) -> str | None:
    """The shop a signed body of `topic` names (lower case), "" when it should name one and
    does not; None for topics whose body does not name a shop (products, bulk operations)."""
    fields = SHOP_FIELDS.get(topic)
    if fields is None:
        return None
    for field in fields:
        value = payload.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return ""


def parse_timestamp(value: str) -> datetime | None:
    """Parse Shopify's ISO 8601 timestamps (`Z` or an offset; fractions allowed)."""
    value = value.strip()
    if not value:
        return None
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
