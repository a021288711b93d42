"""Reconciliation: what the store says is the truth; webhooks are only hints."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from integrations.errors import IntegrationError, NotFound, ProductGone, Retryable
from photosync.models import GenerationJob, Product, Store
from photosync.queueing import WORKER_NAME
from photosync.selectors import store_get
from photosync.services.catalog import DELETED, product_mark_deleted
from photosync.services.leases import lease_acquire, lease_release
from photosync.services.products import product_ingest
from photosync.services.scheduling import jobs_dispatch
from photosync.services.stores import store_adapter

log = logging.getLogger(__name__)

# Re-read a little before the watermark: remote clocks and commit order are not exact.
OVERLAP = timedelta(minutes=5)
# A reconcile pass must finish within this; a crashed holder's lease lapses after it.
LEASE_SECONDS = 600


def product_refresh(*, store_id: int, remote_id: str) -> GenerationJob | None:
    """Re-read one product from its store and queue generation if its inputs are new. A
    product the store no longer has is marked deleted (services.catalog); one in the trash
    too, and one back from it restored (product_ingest)."""
    store = store_get(store_id=store_id, active=True)
    if store is None:
        return None
    try:
        remote = store_adapter(store=store).get_product(remote_id)
    except ProductGone:
        product = Product.objects.filter(store=store, remote_id=remote_id).first()
        if product is not None:
            product_mark_deleted(product=product, reason=DELETED)
        log.info("product %s of store %s is gone from the store", remote_id, store_id)
        return None
    except NotFound:
        log.info("product %s of store %s cannot be read; nothing to do", remote_id, store_id)
        return None
    return product_ingest(store=store, remote=remote)


def products_gone_check(*, store: Store, seen: set[str]) -> int:
    """After a whole-catalog pass: every product we hold that the pass did not list is read
    once more (a listing may skip a product in the trash, or one being edited); those the
    store no longer has, or has in its trash, are marked deleted. Returns how many were
    checked."""
    missing = Product.objects.filter(store=store, deleted_at__isnull=True).exclude(
        remote_id__in=seen)
    checked = 0
    for remote_id in missing.values_list("remote_id", flat=True).iterator():
        checked += 1
        product_refresh(store_id=store.pk, remote_id=remote_id)
    return checked


def store_reconcile(*, store: Store, sweep: bool = False) -> int:
    """Feed every product changed since the watermark to processing; return how many.

    `sweep` reads the whole catalog instead (webhooks and watermarks both miss things). A
    store's first pass over a catalog larger than PHOTOSYNC_BACKFILL_THRESHOLD is queued as
    backfill: lowest priority, inside the store's off-peak window.
    """
    first = store.watermark is None and not store.products.exists()
    since = store.watermark - OVERLAP if store.watermark and not sweep else None
    started = timezone.now()
    newest = store.watermark
    seen = 0
    adapter = store_adapter(store=store)
    products = adapter.iter_products(updated_since=since)
    reason = GenerationJob.Reason.NEW
    if first:
        products = list(products)
        if len(products) > settings.PHOTOSYNC_BACKFILL_THRESHOLD:
            reason = GenerationJob.Reason.BACKFILL
    listed: set[str] = set()
    for remote in products:
        seen += 1
        listed.add(remote.remote_id)
        product_ingest(store=store, remote=remote, reason=reason, dispatch=False)
        if remote.updated_at and (newest is None or remote.updated_at > newest):
            newest = remote.updated_at
    if sweep or since is None:  # the whole catalog was listed: notice what is gone
        products_gone_check(store=store, seen=listed)
    if seen:
        jobs_dispatch()
    new_watermark = min(newest, started) if newest else None
    fields = {"watermark": new_watermark}
    if sweep:
        fields["last_swept_at"] = started
    Store.objects.filter(pk=store.pk).update(**fields)
    store.watermark = new_watermark
    return seen


def stores_reconcile(*, holder: str = "") -> dict[int, int | str]:
    """One pass over every active store; a failing store never stops the others.

    Each store is reconciled under a lease, so several daemons share the stores between
    them instead of each doing all of them.
    """
    holder = holder or WORKER_NAME
    results: dict[int, int | str] = {}
    sweep_before = timezone.now() - timedelta(seconds=settings.PHOTOSYNC_SWEEP_INTERVAL)
    for store in Store.objects.filter(status=Store.Status.ACTIVE).order_by("pk"):
        lease = f"reconcile:{store.pk}"
        if not lease_acquire(name=lease, holder=holder, seconds=LEASE_SECONDS):
            results[store.pk] = "busy: another syncd has it"
            continue
        sweep = store.last_swept_at is None or store.last_swept_at < sweep_before
        try:
            results[store.pk] = store_reconcile(store=store, sweep=sweep)
        except Retryable as exc:
            results[store.pk] = f"retry later: {exc.message}"
        except IntegrationError as exc:
            log.warning("reconcile of store %s failed: %s", store.pk, exc.message)
            results[store.pk] = f"failed: {exc.message}"
        finally:
            lease_release(name=lease, holder=holder)
    return results
