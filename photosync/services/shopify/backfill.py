"""Whole-catalog reads of a Shopify store through bulk operations (backfill).

`shopify_backfill_start` asks Shopify to run the bulk query; Shopify announces the result
with `bulk_operations/finish` (handled by services.shopify.webhooks, which enqueues the
`shopify_bulk_import` work), and `shopify_bulk_ingest` streams the JSONL into the same
processing as webhooks.
"""

from __future__ import annotations

import logging

from integrations.errors import Unavailable
from photosync.models import GenerationJob, Store
from photosync.services.products import product_ingest
from photosync.services.scheduling import jobs_dispatch
from photosync.services.stores import store_adapter

log = logging.getLogger(__name__)

_PENDING = {"CREATED", "RUNNING"}


def shopify_backfill_start(*, store: Store) -> str:
    """Start a bulk query over the store's catalog; return the operation id to import."""
    operation_id = store_adapter(store=store).bulk_start()  # type: ignore[attr-defined]
    log.info("bulk operation started for store %s", store.pk)
    return operation_id


def shopify_bulk_ingest(*, store: Store, operation_id: str) -> int:
    """Feed every product of a finished bulk operation to processing; return how many.

    Still running → Unavailable (the actor retries later). Failed or expired → logged, 0.
    """
    adapter = store_adapter(store=store)
    status = adapter.bulk_status(operation_id)  # type: ignore[attr-defined]
    if status.status in _PENDING:
        raise Unavailable("Shopify is still running the bulk query.")
    if status.status != "COMPLETED" or not status.url:
        log.warning("bulk operation of store %s ended %s %s", store.pk, status.status,
                    status.error)
        return 0
    seen = 0
    for remote in adapter.iter_bulk_products(status.url):  # type: ignore[attr-defined]
        product_ingest(store=store, remote=remote, reason=GenerationJob.Reason.BACKFILL,
                       dispatch=False)
        seen += 1
    if seen:
        jobs_dispatch()
    return seen
