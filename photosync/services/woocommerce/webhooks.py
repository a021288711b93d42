"""WooCommerce webhooks: what a verified product delivery is recorded as, and what it does.

Recording, deduplication and the processing boundary are services.webhook_events'. A
delivery's identity is store + topic + resource id + `date_modified_gmt` (what the signed body
carries: WooCommerce's delivery id changes on every send, and a re-sent body may carry any
webhook id), and the unique constraint on WebhookEvent makes a repeat a no-op. Processing
re-reads the product from the store, the truth, through the same code as reconciliation: a
payload is only a hint.
"""

from __future__ import annotations

from integrations.woocommerce.webhooks import SUBSCRIBED_TOPICS, ProductDelivery
from photosync.models import Platform, Product, Store, WebhookEvent
from photosync.services.sync import Refreshed, Target


def woocommerce_event_fields(*, store: Store, delivery: ProductDelivery) -> dict:
    """The WebhookEvent fields of a verified product delivery."""
    return {
        "platform": Platform.WOOCOMMERCE,
        "delivery_id": f"{store.pk}:{delivery.identity}"[:255],
        "store_id": store.pk,
        "topic": delivery.topic,
        "shop_domain": store.domain,
        "payload": {
            "id": delivery.resource_id,
            "product_id": delivery.product_id,
            "date_modified_gmt": delivery.modified_gmt,
            "variation": delivery.is_variation,
        },
        "triggered_at": delivery.modified_at,
    }


def product_target(event: WebhookEvent) -> Target | tuple[str, str]:
    """The product a delivery asks to re-read (the parent, for a variation), or the status
    and note it ends in without a read. Every topic re-reads: product.deleted (a product
    gone, or in the trash, is marked deleted), product.restored and an update showing
    `status: trash` all end in what the store now shows."""
    store = event.store
    if store is None or store.status != Store.Status.ACTIVE:
        return WebhookEvent.Status.IGNORED, "the store is not connected"
    return Target(store_id=store.pk, remote_id=str(event.payload["product_id"]))


def product_outcome(event: WebhookEvent, target: Target, refreshed: Refreshed
                    ) -> tuple[str, str]:
    """What a delivery ends in once its product was re-read and ingested."""
    if refreshed.job is not None:
        return WebhookEvent.Status.PROCESSED, ""
    deleted = Product.objects.filter(store_id=target.store_id, remote_id=target.remote_id,
                                     deleted_at__isnull=False).exists()
    return WebhookEvent.Status.PROCESSED, "deleted on the store" if deleted \
        else "nothing new to generate"


# Deliveries drained in groups (services.webhook_events): one re-read call for many.
PRODUCT_TOPICS = tuple(sorted(SUBSCRIBED_TOPICS))

HANDLERS: dict = {}  # every topic is a product topic, handled by services.webhook_events
"""Topic → handler: each returns the status the event ends in and a note for it."""
