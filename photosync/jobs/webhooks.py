"""The webhooks queue: recorded deliveries of every platform, and wc-auth key checks.

Both actors share one failure boundary (jobs.base.bounded): a retryable error is retried, and
what cannot be retried (or is out of retries) ends the row failed with its reason, where the
operator sees it (/status), instead of staying "received" for recovery to send for ever.
"""

from __future__ import annotations

from datetime import timedelta

from photosync.jobs.base import bounded, house_actor
from photosync.queueing import Queues, Work
from photosync.services.webhook_events import webhook_event_fail, webhook_event_handle
from photosync.services.woocommerce.connect import woocommerce_auth_fail, woocommerce_auth_verify

TIME_LIMIT = timedelta(minutes=5)


@house_actor(Work.WEBHOOK_EVENT_PROCESS, queue=Queues.WEBHOOKS, retries=5,
             time_limit=TIME_LIMIT)
def webhook_event_process(event_id: int) -> None:
    """Act on one recorded delivery, Shopify or WooCommerce (re-read, uninstall, redact...)."""
    bounded(webhook_event_handle, event_id=event_id,
            give_up=lambda reason: webhook_event_fail(event_id=event_id, reason=reason))


@house_actor(Work.WOOCOMMERCE_CONNECT_VERIFY, queue=Queues.WEBHOOKS, retries=5,
             time_limit=TIME_LIMIT)
def woocommerce_connect_verify(request_id: int) -> None:
    """Verify the key a store posted to the wc-auth callback, then connect the store."""
    bounded(woocommerce_auth_verify, request_id=request_id,
            give_up=lambda reason: woocommerce_auth_fail(request_id=request_id, reason=reason))
