"""WooCommerce webhook deliveries: pure functions over the raw request, no I/O.

WooCommerce signs the raw body with the webhook's secret (base64 HMAC-SHA256 in
`X-WC-Webhook-Signature`), never retries a failed delivery, and disables a webhook after a few
consecutive failures. Creating a webhook sends an unsigned *ping* (form body `webhook_id=N`,
no `X-WC-*` headers) that must be answered 200 before any signature check.

No header is signed: `X-WC-Webhook-Delivery-ID` changes on every send and `X-WC-Webhook-ID`
can be rewritten on a re-sent body, so a delivery's identity is what it carries: the topic,
the resource id and the resource's `date_modified_gmt` (a digest of the signed body when it
has none). Variations fire product topics too; they name their parent in `parent_id`, which
is the product PhotoSync refreshes. A `product.deleted` body is only the id, the same for
every deletion of one product: its identity adds the delivery id, and processing re-reads
the product from the store, so a replay changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

PRODUCT_TOPICS = frozenset({"product.created", "product.updated"})
# Trashing fires product.deleted (as does a permanent delete); its body is only `{"id": N}`.
# Restoring from the trash fires product.restored with the whole product.
DELETED_TOPIC = "product.deleted"
RESTORED_TOPIC = "product.restored"
SUBSCRIBED_TOPICS = PRODUCT_TOPICS | {DELETED_TOPIC, RESTORED_TOPIC}
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
_PING = re.compile(rb"webhook_id=(\d{1,20})")
_ALPHABET = string.ascii_letters + string.digits


def webhook_secret_generate(length: int = 40) -> str:
    """A fresh per-store webhook secret: alphanumeric, 32+ characters."""
    if length < 32:
        raise ValueError("webhook secrets must be at least 32 characters")
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def webhook_signature(body: bytes, secret: str) -> str:
    """The `X-WC-Webhook-Signature` WooCommerce sends for `body` signed with `secret`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, signature: str, secret: str) -> bool:
    """True when `signature` is the HMAC of the raw `body` under `secret` (constant time)."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(webhook_signature(body, secret).encode(), signature.strip().encode())


def ping_webhook_id(body: bytes, headers: Mapping[str, str]) -> str | None:
    """The webhook id when this request is WooCommerce's creation ping, else None.

    A ping carries no signature and no topic; a body that merely looks like one but is signed
    (or names a topic) is a delivery and goes through the signature check.
    """
    if headers.get(SIGNATURE_HEADER) or headers.get("X-WC-Webhook-Topic"):
        return None
    match = _PING.fullmatch(body.strip())
    return match.group(1).decode() if match else None


@dataclass(frozen=True)
class ProductDelivery:
    """One product delivery: what to refresh and how to recognise a repeat."""

    topic: str
    webhook_id: str
    resource_id: str  # the id in the payload (a variation's own id for variations)
    product_id: str  # the product to refresh: the parent for a variation
    modified_gmt: str  # the payload's date_modified_gmt as sent ("" when absent)
    is_variation: bool = False
    body_digest: str = ""  # sha256 of the signed body: the identity when nothing dates it
    delivery_id: str = ""  # X-WC-Webhook-Delivery-ID: tells deletions of one product apart

    @property
    def identity(self) -> str:
        """Topic + resource id + date_modified_gmt: the same for every send of one change,
        whatever its (unsigned) webhook and delivery ids say."""
        version = self.modified_gmt or f"sha256:{self.body_digest}"
        if self.topic == DELETED_TOPIC:  # `{"id": N}` again after a restore and a new trash
            version = f"{version}:{self.delivery_id}"
        return f"{self.topic}:{self.resource_id}:{version}"

    @property
    def modified_at(self) -> datetime | None:
        return parse_gmt(self.modified_gmt)


class DeliveryError(ValueError):
    """The delivery is well signed but not a product payload PhotoSync understands."""


def parse_product_delivery(body: bytes, headers: Mapping[str, str]) -> ProductDelivery:
    """Read a signed product delivery; raise DeliveryError naming what is wrong."""
    topic = (headers.get("X-WC-Webhook-Topic") or "").strip()
    webhook_id = (headers.get("X-WC-Webhook-ID") or "").strip()
    if not webhook_id.isdigit():
        raise DeliveryError("missing or malformed X-WC-Webhook-ID")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DeliveryError("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise DeliveryError("the body is not a JSON object")
    resource_id = _positive_id(payload.get("id"))
    if resource_id is None:
        raise DeliveryError("the payload has no product id")
    parent_id = _positive_id(payload.get("parent_id"))
    kind = payload.get("type")
    is_variation = parent_id is not None and kind in ("variation", None)
    modified = payload.get("date_modified_gmt")
    return ProductDelivery(
        topic=topic,
        webhook_id=webhook_id,
        resource_id=resource_id,
        product_id=parent_id if is_variation and parent_id else resource_id,
        modified_gmt=modified if isinstance(modified, str) else "",
        is_variation=is_variation,
        body_digest=hashlib.sha256(body).hexdigest(),
        delivery_id=(headers.get("X-WC-Webhook-Delivery-ID") or "").strip()[:40],
    )


def parse_gmt(value: str | None) -> datetime | None:
    """WooCommerce's `*_gmt` fields ("2026-05-01T12:00:00", no offset) as aware UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _positive_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return str(int(value))
    return None
