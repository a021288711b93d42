"""Catalog lifecycle: products the store deleted, trashed or restored.

A deleted product (Shopify `products/delete`, WooCommerce `product.deleted` or a product in
its trash, or a product a sweep no longer finds) leaves the review queue: `deleted_at` is set
and the API lists it under the "deleted" filter. Its pending pushes (queued, uploading,
processing) and its waiting generation jobs are cancelled with the reason, and nothing is
pushed to it (`services.pushes` refuses). A restored product comes back: the pushes and jobs
its deletion cancelled are queued again (the merchant's approvals stand).

The store is the truth: callers decide "deleted" from a fresh read (NotFound, or a trashed
status), never from a webhook body alone, so a replayed or forged delivery changes nothing.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from photosync.models import GenerationJob, Product, Push
from photosync.queueing import Work
from photosync.services.scheduling import jobs_dispatch
from photosync.services.sending import row_send

log = logging.getLogger(__name__)

DELETED = "the product was deleted on the store"
TRASHED = "the product was moved to the store's trash"

PENDING_PUSHES = (Push.Status.QUEUED, Push.Status.UPLOADING, Push.Status.PROCESSING)
# A dispatched job has not started yet: job_start drops a cancelled one.
WAITING_JOBS = (GenerationJob.Status.QUEUED, GenerationJob.Status.HELD,
                GenerationJob.Status.DISPATCHED)


def cancelled_because(reason: str) -> str:
    """The message a cancelled push or job carries (shown to the merchant)."""
    return f"Cancelled: {reason}; nothing is sent to it."


def product_mark_deleted(*, product: Product, reason: str = DELETED) -> dict[str, int]:
    """Take the product out of the queue and cancel what was on its way to it; returns what
    was cancelled. Marking a deleted product again cancels anything new, and keeps the
    first reason."""
    now = timezone.now()
    with transaction.atomic():
        row = Product.objects.select_for_update().get(pk=product.pk)
        if row.deleted_at is None:
            row.deleted_at, row.deleted_reason = now, reason[:300]
            row.save(update_fields=["deleted_at", "deleted_reason", "updated_at"])
        message = cancelled_because(row.deleted_reason)
        pushes = Push.objects.filter(product=row, status__in=PENDING_PUSHES).update(
            status=Push.Status.CANCELLED, error=message, waiting_since=None, updated_at=now)
        jobs = GenerationJob.objects.filter(product=row, status__in=WAITING_JOBS).update(
            status=GenerationJob.Status.CANCELLED, error=message, finished_at=now)
    product.deleted_at, product.deleted_reason = row.deleted_at, row.deleted_reason
    if pushes or jobs:
        log.info("product %s: %s; %s pushes and %s jobs cancelled", row.pk, reason, pushes,
                 jobs)
    return {"pushes": pushes, "jobs": jobs}


def product_mark_restored(*, product: Product) -> bool:
    """The store has the product again (restored from the trash): back in the queue, and
    what its deletion cancelled is queued again. False when it was not deleted."""
    with transaction.atomic():
        row = Product.objects.select_for_update().get(pk=product.pk)
        if row.deleted_at is None:
            return False
        message = cancelled_because(row.deleted_reason)
        row.deleted_at, row.deleted_reason = None, ""
        row.save(update_fields=["deleted_at", "deleted_reason", "updated_at"])
        jobs = GenerationJob.objects.filter(
            product=row, status=GenerationJob.Status.CANCELLED, error=message
        ).update(status=GenerationJob.Status.QUEUED, error="", finished_at=None,
                 dispatched_at=None, worker="")
        pushes = list(Push.objects.filter(product=row, status=Push.Status.CANCELLED,
                                          error=message).values_list("pk", flat=True))
        Push.objects.filter(pk__in=pushes).update(status=Push.Status.QUEUED, error="",
                                                  checks_failed=0, updated_at=timezone.now())
        for pk in pushes:
            row_send(Push, pk, Work.PUSH_RUN, pk)
        if jobs:
            transaction.on_commit(jobs_dispatch)
    product.deleted_at, product.deleted_reason = None, ""
    log.info("product %s restored on the store; %s pushes and %s jobs queued again", row.pk,
             len(pushes), jobs)
    return True
