"""Reconciliation: what the store says is the truth; webhooks are only hints."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from integrations.errors import IntegrationError, NotFound, Retryable
from photosync.models import GenerationJob, Store
from photosync.services.products import product_ingest
from photosync.services.stores import store_adapter

log = logging.getLogger(__name__)

# Re-read a little before the watermark: remote clocks and commit order are not exact.
OVERLAP = timedelta(minutes=5)


def product_refresh(*, store_id: int, remote_id: str) -> GenerationJob | None:
    store = Store.objects.filter(pk=store_id, status=Store.Status.ACTIVE).first()
    if store is None:
        return None
    try:
        remote = store_adapter(store=store).get_product(remote_id)
    except NotFound:
        log.info("product %s of store %s is gone; nothing to do", remote_id, store_id)
        return None
    return product_ingest(store=store, remote=remote)


def store_reconcile(*, store: Store) -> int:
    """Feed every product changed since the watermark to processing; return how many."""
    since = store.watermark - OVERLAP if store.watermark else None
    started = timezone.now()
    newest = store.watermark
    seen = 0
    adapter = store_adapter(store=store)
    for remote in adapter.iter_products(updated_since=since):
        seen += 1
        product_ingest(store=store, remote=remote)
        if remote.updated_at and (newest is None or remote.updated_at > newest):
            newest = remote.updated_at
    new_watermark = min(newest, started) if newest else None
    if new_watermark != store.watermark:
        Store.objects.filter(pk=store.pk).update(watermark=new_watermark)
        store.watermark = new_watermark
    return seen


def stores_reconcile() -> dict[int, int | str]:
    """One pass over every active store; a failing store never stops the others."""
    results: dict[int, int | str] = {}
    for store in Store.objects.filter(status=Store.Status.ACTIVE).order_by("pk"):
        try:
            results[store.pk] = store_reconcile(store=store)
        except Retryable as exc:
            results[store.pk] = f"retry later: {exc.message}"
        except IntegrationError as exc:
            log.warning("reconcile of store %s failed: %s", store.pk, exc.message)
            results[store.pk] = f"failed: {exc.message}"
    return results
