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
from photosync.services.sync import product_refresh


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


def _product(event: WebhookEvent) -> tuple[str, str]:
    """Refresh the delivery's product (the parent, for a variation). Every topic re-reads:
    product.deleted (a product gone, or in the trash, is marked deleted), product.restored
    and an update showing `status: trash` all end in what the store now shows."""
    store = event.store
    if store is None or store.status != Store.Status.ACTIVE:
        return WebhookEvent.Status.IGNORED, "the store is not connected"
    remote_id = str(event.payload["product_id"])
    job = product_refresh(store_id=store.pk, remote_id=remote_id)
    if job is not None:
        return WebhookEvent.Status.PROCESSED, ""
    deleted = Product.objects.filter(store=store, remote_id=remote_id,
                                     deleted_at__isnull=False).exists()
    return WebhookEvent.Status.PROCESSED, "deleted on the store" if deleted \
        else "nothing new to generate"


HANDLERS = dict.fromkeys(SUBSCRIBED_TOPICS, _product)
"""Topic → handler: each returns the status the event ends in and a note for it."""
