"""WooCommerce webhooks: record a verified delivery once, then process it on a worker.

The request only records and enqueues (`woocommerce_delivery_record`). A delivery's identity
is store + webhook id + product id + `date_modified_gmt` (WooCommerce's delivery id changes
on every send), and the unique constraint on WebhookEvent makes a repeat a no-op.
Processing re-reads the product from the store, the truth, through the same code as
reconciliation: a payload is only a hint.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.woocommerce.webhooks import ProductDelivery
from photosync.models import Platform, Store, WebhookEvent
from photosync.services.sync import product_refresh

log = logging.getLogger(__name__)


def woocommerce_delivery_record(*, store: Store, delivery: ProductDelivery) -> WebhookEvent | None:
    """Record a verified product delivery and queue its processing; None for a repeat."""
    from photosync.jobs import woocommerce_event_process
    from photosync.queueing import enqueue

    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                platform=Platform.WOOCOMMERCE,
                delivery_id=f"{store.pk}:{delivery.identity}"[:255],
                store=store,
                topic=delivery.topic,
                shop_domain=store.domain,
                payload={
                    "id": delivery.resource_id,
                    "product_id": delivery.product_id,
                    "date_modified_gmt": delivery.modified_gmt,
                    "variation": delivery.is_variation,
                },
                triggered_at=delivery.modified_at,
            )
            enqueue(woocommerce_event_process, event.pk)
    except IntegrityError:
        return None
    return event


def woocommerce_event_process(*, event_id: int) -> str | None:
    """Refresh the delivery's product (the parent, for a variation); return the status the
    event ended in (None: gone or already done). Retryable errors propagate."""
    event = WebhookEvent.objects.filter(pk=event_id).select_related("store").first()
    if event is None or event.status != WebhookEvent.Status.RECEIVED:
        return None
    store = event.store
    if store is None or store.status != Store.Status.ACTIVE:
        status, note = WebhookEvent.Status.IGNORED, "the store is not connected"
    else:
        job = product_refresh(store_id=store.pk, remote_id=str(event.payload["product_id"]))
        status = WebhookEvent.Status.PROCESSED
        note = "" if job is not None else "nothing new to generate"
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=status, error=note, processed_at=timezone.now()
    )
    return status


def woocommerce_event_failed(*, event_id: int, message: str) -> None:
    WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.RECEIVED).update(
        status=WebhookEvent.Status.FAILED, error=message, processed_at=timezone.now()
    )
