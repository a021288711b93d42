"""The webhooks queue: recorded deliveries of every platform, and wc-auth key checks."""

from __future__ import annotations

from datetime import timedelta

from photosync.jobs.base import house_actor, retrying
from photosync.queueing import Queues, Work
from photosync.services.webhook_events import webhook_event_handle
from photosync.services.woocommerce.connect import woocommerce_auth_verify

TIME_LIMIT = timedelta(minutes=5)


@house_actor(Work.WEBHOOK_EVENT_PROCESS, queue=Queues.WEBHOOKS, retries=5,
             time_limit=TIME_LIMIT)
def webhook_event_process(event_id: int) -> None:
    """Act on one recorded delivery, Shopify or WooCommerce (re-read, uninstall, redact...)."""
    retrying(webhook_event_handle, event_id=event_id)


@house_actor(Work.WOOCOMMERCE_CONNECT_VERIFY, queue=Queues.WEBHOOKS, retries=5,
             time_limit=TIME_LIMIT)
def woocommerce_connect_verify(request_id: int) -> None:
    """Verify the key a store posted to the wc-auth callback, then connect the store."""
    retrying(woocommerce_auth_verify, request_id=request_id)
