"""Shopify webhooks: what a verified delivery is recorded as, and what each topic does.

Recording, deduplication and the processing boundary are services.webhook_events'. A
delivery's identity is its `X-Shopify-Webhook-Id`: the unique constraint on WebhookEvent
makes a retried or concurrently repeated delivery a no-op.

Every delivery is bound to its shop. The HMAC covers only the body, so the headers (topic,
shop domain, webhook id) of a captured body can be rewritten: a body that names its shop
(shop/redact, customers/*, app/uninstalled) must name the header's shop, or it is recorded
as refused and nothing happens; product topics re-read the product from the header's shop,
where another shop's product id finds nothing. The destructive topics are confirmed with
Shopify before acting: app/uninstalled only once the Admin API refuses our token (Shopify
revokes every token at uninstall), shop/redact only for a shop so uninstalled.
"""

from __future__ import annotations

import logging
from datetime import datetime

from integrations.errors import AuthRevoked
from integrations.shopify.webhooks import Delivery, parse_timestamp, payload_shop
from photosync.models import Platform, Product, Store, WebhookEvent
from photosync.queueing import Work, enqueue
from photosync.selectors import REFUSED, shopify_store
from photosync.services.credentials import store_credentials_get
from photosync.services.stores import store_adapter, store_redact, store_uninstall
from photosync.services.sync import Refreshed, Target, product_refresh

log = logging.getLogger(__name__)

# What we keep of each topic's payload. The payload is only a hint (the product is re-read),
# and customer topics carry personal data that PhotoSync has no business holding.
_KEPT_FIELDS = {
    "products/create": ("id", "admin_graphql_api_id", "updated_at"),
    "products/update": ("id", "admin_graphql_api_id", "updated_at"),
    "products/delete": ("id",),
    "bulk_operations/finish": (
        "admin_graphql_api_id", "status", "error_code", "type", "completed_at",
    ),
    "shop/redact": ("shop_id", "shop_domain"),
}


def shopify_event_fields(*, delivery: Delivery, payload: dict) -> dict:
    """The WebhookEvent fields of a verified delivery (services.webhook_events records it,
    and finds the shop's store inside the same INSERT: no store id here)."""
    kept = {k: payload[k] for k in _KEPT_FIELDS.get(delivery.topic, ()) if k in payload}
    if "id" in kept:
        kept["id"] = str(kept["id"])  # may exceed 2**53: keep it exact as text
    return {
        "platform": Platform.SHOPIFY,
        "delivery_id": delivery.webhook_id,
        "topic": delivery.topic,
        "shop_domain": delivery.shop_domain,
        "payload": kept,
        "triggered_at": delivery.triggered_at,
        "refused": _shop_refusal(delivery, payload),
    }


def _shop_refusal(delivery: Delivery, payload: dict) -> str:
    """Why a delivery is refused at intake ("" when it is not): its signed body names
    another shop than its unsigned header, or names none where it must."""
    named = payload_shop(delivery.topic, payload)
    if named is None or named == delivery.shop_domain:
        return ""
    if not named:
        return f"{REFUSED}the {delivery.topic} body names no shop (a replayed body?)"
    return f"{REFUSED}the body names the shop {named}, not the delivering {delivery.shop_domain}"


def _active_store(event: WebhookEvent) -> Store | None:
    store = shopify_store(shop_domain=event.shop_domain)
    if store is None or store.status != Store.Status.ACTIVE:
        return None
    return store


def product_target(event: WebhookEvent) -> Target | tuple[str, str]:
    """The product a products/create|update delivery asks to re-read, or the status and
    note it ends in without a read (no store, no product, stale)."""
    store = _active_store(event)
    if store is None:
        return WebhookEvent.Status.IGNORED, "the shop is not connected"
    remote_id = str(event.payload.get("admin_graphql_api_id") or "")
    if not remote_id and event.payload.get("id"):
        remote_id = f"gid://shopify/Product/{event.payload['id']}"
    if not remote_id.startswith("gid://shopify/Product/"):
        return WebhookEvent.Status.IGNORED, "the payload names no product"
    if _stale(store, remote_id, event):
        return WebhookEvent.Status.IGNORED, "stale: a newer state of the product is processed"
    return Target(store_id=store.pk, remote_id=remote_id)


def product_outcome(event: WebhookEvent, target: Target, refreshed: Refreshed
                    ) -> tuple[str, str]:
    """What a delivery ends in once its product was re-read and ingested."""
    return WebhookEvent.Status.PROCESSED, ""


def _product_deleted(event: WebhookEvent) -> tuple[str, str]:
    """products/delete carries only the id. The product is re-read from the delivering shop:
    gone there, it is marked deleted (services.catalog: out of the queue, pushes and jobs
    cancelled); a product the shop still has (a replayed body, or another shop's id) is
    left as the store shows it."""
    store = _active_store(event)
    if store is None:
        return WebhookEvent.Status.IGNORED, "the shop is not connected"
    number = str(event.payload.get("id") or "")
    if not number.isdigit():
        return WebhookEvent.Status.IGNORED, "the payload names no product"
    remote_id = f"gid://shopify/Product/{number}"
    if not Product.objects.filter(store=store, remote_id=remote_id).exists():
        return WebhookEvent.Status.IGNORED, "not a product PhotoSync holds"
    product_refresh(store_id=store.pk, remote_id=remote_id)
    deleted = Product.objects.filter(store=store, remote_id=remote_id,
                                     deleted_at__isnull=False).exists()
    return WebhookEvent.Status.PROCESSED, "" if deleted else "the shop still has the product"


def _stale(store: Store, remote_id: str, event: WebhookEvent) -> bool:
    """A retried delivery carries the original payload: drop it when we already hold newer."""
    known = (
        Product.objects.filter(store=store, remote_id=remote_id)
        .values_list("remote_updated_at", flat=True)
        .first()
    )
    if known is None:
        return False
    seen: datetime | None = parse_timestamp(str(event.payload.get("updated_at") or ""))
    seen = seen or event.triggered_at
    return seen is not None and seen < known


def _app_installed(store: Store) -> bool | None:
    """Ask Shopify whether the app is still installed on the store's shop: a token that still
    opens the Admin API says it is (uninstalling revokes every token: 401). None when we hold
    no token to ask with. A store error other than a refused token propagates (Retryable:
    retried; others: the event fails with the message), so nothing is erased on a guess."""
    if not store_credentials_get(store=store).get("access_token"):
        return None
    try:
        store_adapter(store=store).shop_domain()  # type: ignore[attr-defined]
    except AuthRevoked:
        return False
    return True


def _uninstall_confirmed(store: Store) -> str:
    """Mark the store uninstalled once Shopify confirms it; "" then, else why not."""
    installed = _app_installed(store)
    if installed is None:
        return f"{REFUSED}no token to confirm the uninstall with Shopify"
    if installed:
        log.warning("app/uninstalled or shop/redact for shopify store %s refused: Shopify "
                    "still accepts its token", store.pk)
        return f"{REFUSED}Shopify still accepts the shop's token: the app is installed"
    store_uninstall(store=store)
    log.info("shopify store %s uninstalled the app; queued work cancelled", store.pk)
    return ""


def _uninstalled(event: WebhookEvent) -> tuple[str, str]:
    store = shopify_store(shop_domain=event.shop_domain)
    if store is None:
        return WebhookEvent.Status.IGNORED, "the shop is not connected"
    if store.status == Store.Status.UNINSTALLED:
        return WebhookEvent.Status.IGNORED, "the shop is already uninstalled"
    refused = _uninstall_confirmed(store)
    if refused:
        return WebhookEvent.Status.IGNORED, refused
    return WebhookEvent.Status.PROCESSED, ""


def _shop_redact(event: WebhookEvent) -> tuple[str, str]:
    store = shopify_store(shop_domain=event.shop_domain)
    if store is None:
        WebhookEvent.objects.filter(
            platform=Platform.SHOPIFY, shop_domain=event.shop_domain
        ).exclude(pk=event.pk).delete()
        return WebhookEvent.Status.PROCESSED, "nothing held"
    if store.status != Store.Status.UNINSTALLED:
        # Shopify sends shop/redact 48 hours after an uninstall: a shop that has the app
        # installed is never erased (a missed app/uninstalled is confirmed here instead).
        refused = _uninstall_confirmed(store)
        if refused:
            return WebhookEvent.Status.IGNORED, refused
    store_pk = store.pk
    counts = store_redact(store=store)
    # The event row itself went with the store's records; log counts only, no shop data.
    log.info("shop/redact erased store %s: %s", store_pk, counts)
    return WebhookEvent.Status.PROCESSED, ""


def _customers(event: WebhookEvent) -> tuple[str, str]:
    # PhotoSync holds no customer data: nothing to send or erase. The record is the answer.
    return WebhookEvent.Status.PROCESSED, "no customer data is held"


def _bulk_finish(event: WebhookEvent) -> tuple[str, str]:
    store = _active_store(event)
    operation_id = str(event.payload.get("admin_graphql_api_id") or "")
    if store is None or not operation_id:
        return WebhookEvent.Status.IGNORED, "the shop is not connected"
    if str(event.payload.get("status", "")).lower() != "completed":
        return WebhookEvent.Status.IGNORED, f"bulk operation {event.payload.get('status')}"
    enqueue(Work.SHOPIFY_BULK_IMPORT, store.pk, operation_id)  # long: on the sync queue
    return WebhookEvent.Status.PROCESSED, ""


# Deliveries drained in groups (services.webhook_events): one re-read call for many.
PRODUCT_TOPICS = ("products/create", "products/update")

# Product topics (PRODUCT_TOPICS) are handled through product_target / product_outcome by
# services.webhook_events, in groups; these are the others.
HANDLERS = {
    "products/delete": _product_deleted,
    "app/uninstalled": _uninstalled,
    "shop/redact": _shop_redact,
    "customers/data_request": _customers,
    "customers/redact": _customers,
    "bulk_operations/finish": _bulk_finish,
}
"""Topic → handler: each returns the status the event ends in and a note for it."""
