"""Reconciliation: what the store says is the truth; webhooks are only hints."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
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
    refreshed = products_refresh(store_id=store_id, remote_ids=[remote_id], errors="raise")
    return refreshed[remote_id].job if remote_id in refreshed else None


@dataclass(frozen=True)
class Target:
    """A delivery's ask: re-read this product of this store."""

    store_id: int
    remote_id: str


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did for one product: the job it queued (None: nothing new), whether
    the store no longer has it, and why its ingest failed ("" when it did not)."""

    job: GenerationJob | None = None
    gone: bool = False
    error: str = ""


def products_refresh(*, store_id: int, remote_ids: list[str],
                     errors: str = "keep") -> dict[str, Refreshed]:
    """Re-read many products of one store in as few calls as the store allows
    (StoreAdapter.fetch_products) and ingest each, exactly as product_refresh does one: a
    product gone from the store is marked deleted, the rest go through product_ingest, and
    the dispatcher is asked once at the end. Repeated ids are read once.

    A failed read (Retryable or not) raises for the whole batch: nothing was ingested, so the
    caller may retry all of it. A product whose ingest fails is recorded in its `error`
    (`errors="raise"`: raised, as a single refresh does) and the others go on. Empty when
    the store is not active; no entry for ids the store cannot be read for (NotFound).
    """
    store = store_get(store_id=store_id, active=True)
    if store is None:
        return {}
    unique = list(dict.fromkeys(str(r) for r in remote_ids))
    try:
        remotes = store_adapter(store=store).fetch_products(unique)
    except ProductGone:  # a store without a batch read raised for its one id
        remotes = dict.fromkeys(unique)
    except NotFound:
        log.info("products %s of store %s cannot be read; nothing to do", unique[:5], store_id)
        return {}
    out: dict[str, Refreshed] = {}
    try:
        for remote_id in unique:
            remote = remotes.get(remote_id)
            if remote is None:
                _product_gone(store, remote_id)
                out[remote_id] = Refreshed(gone=True)
                continue
            try:
                job = product_ingest(store=store, remote=remote, dispatch=False)
            except IntegrationError as exc:
                if errors == "raise":
                    raise
                log.warning("product %s of store %s: %s", remote_id, store_id, exc.message)
                out[remote_id] = Refreshed(error=exc.message)
                continue
            except Exception:
                if errors == "raise":
                    raise
                log.exception("product %s of store %s failed to ingest", remote_id, store_id)
                out[remote_id] = Refreshed(error="Processing failed unexpectedly.")
                continue
            out[remote_id] = Refreshed(job=job)
    finally:
        if any(r.job is not None for r in out.values()):
            transaction.on_commit(jobs_dispatch)  # once for the batch (at once outside one)
    return out


def _product_gone(store: Store, remote_id: str) -> None:
    product = Product.objects.filter(store=store, remote_id=remote_id).first()
    if product is not None:
        product_mark_deleted(product=product, reason=DELETED)
    log.info("product %s of store %s is gone from the store", remote_id, store.pk)


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
