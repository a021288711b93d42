"""The sync queue: long reads of a whole store (bulk imports) and per-store webhook repair."""

from __future__ import annotations

import logging
from datetime import timedelta

from photosync.jobs.base import house_actor, retrying
from photosync.queueing import Queues, Work
from photosync.selectors import store_get
from photosync.services.shopify.backfill import shopify_bulk_ingest
from photosync.services.woocommerce.health import woocommerce_webhooks_ensure

log = logging.getLogger(__name__)


@house_actor(Work.SHOPIFY_BULK_IMPORT, queue=Queues.SYNC, retries=3,
             time_limit=timedelta(minutes=60))
def shopify_bulk_import(store_id: int, operation_id: str) -> None:
    """Stream a finished bulk operation's JSONL into product processing (backfill)."""
    store = store_get(store_id=store_id)
    if store is None:
        log.info("bulk import for store %s skipped: the store is gone", store_id)
        return
    retrying(shopify_bulk_ingest, store=store, operation_id=operation_id)


@house_actor(Work.WOOCOMMERCE_WEBHOOKS_CHECK, queue=Queues.SYNC, retries=3,
             time_limit=timedelta(minutes=5))
def woocommerce_webhooks_check(store_id: int) -> None:
    """Re-activate disabled and re-create missing webhooks of one WooCommerce store."""
    store = store_get(store_id=store_id, active=True)
    if store is None:
        log.info("webhook check of store %s skipped: the store is gone", store_id)
        return
    retrying(woocommerce_webhooks_ensure, store=store)
