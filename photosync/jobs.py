"""Dramatiq actors: primitive ids in, one service call, retryable errors mapped to a delay.

Every actor names its queue, retry budget and time limit; nothing inherits Dramatiq's default
of 20 retries spread over days. This is the only place a broad `except` lives: it turns an
unexpected error into a message a merchant can read.
"""

from __future__ import annotations

import logging

import dramatiq

from integrations.errors import Retryable
from photosync.observability import PUSH_OUTCOMES
from photosync.queueing import Queues, get_broker

log = logging.getLogger(__name__)
get_broker()  # actors bind to the broker built from settings

MINUTE = 60_000


def retry_up_to(limit: int):
    """Dramatiq's retry_when for an actor: retry what may succeed later (we raise
    dramatiq.Retry to carry the store's delay) at most `limit` times; everything else was
    already recorded for the merchant by the actor. (With retry_when set, Dramatiq ignores
    max_retries, so the limit lives here.)"""

    def retry_when(retries: int, exc: BaseException) -> bool:
        return isinstance(exc, Retryable | dramatiq.Retry) and retries < limit

    return retry_when


def _retrying(service, /, **kwargs):
    """Call a service; a Retryable error becomes a Dramatiq retry after the store's delay."""
    try:
        return service(**kwargs)
    except Retryable as exc:
        raise _retry_later(exc) from exc


def _retry_later(exc: Retryable) -> dramatiq.Retry:
    delay = int((exc.retry_after or 5) * 1000)
    return dramatiq.Retry(exc.message, delay=delay)


def _generation(job_id: int) -> None:
    from photosync.services.generation import (
        GpuStageFailed,
        job_fail,
        job_release,
        job_requeue_after_gpu_failure,
        job_run,
    )
    from photosync.services.scheduling import jobs_dispatch

    try:
        job_run(job_id=job_id)
    except Retryable as exc:
        job_release(job_id=job_id)
        raise _retry_later(exc) from exc
    except GpuStageFailed as exc:
        log.warning("GPU stage of job %s failed: %s", job_id, exc)
        job_requeue_after_gpu_failure(job_id=job_id, message=str(exc))
    except Exception:
        log.exception("generation job %s failed", job_id)
        job_fail(
            job_id=job_id,
            message="Image generation failed unexpectedly; the operator has the details. "
            "Use Regenerate to try again.",
        )
    jobs_dispatch()  # a slot is free: hand the broker the next job in fair order


@dramatiq.actor(
    queue_name=Queues.GENERATE_CPU, max_retries=3, time_limit=15 * MINUTE, retry_when=retry_up_to(3)
)
def generation_run(job_id: int) -> None:
    """Run a generation job on the CPU path (classical segmenter, procedural scenes)."""
    _generation(job_id)


@dramatiq.actor(
    queue_name=Queues.GENERATE_GPU, max_retries=3, time_limit=15 * MINUTE, retry_when=retry_up_to(3)
)
def generation_run_gpu(job_id: int) -> None:
    """Run a generation job that needs a model on a GPU worker."""
    _generation(job_id)


@dramatiq.actor(
    queue_name=Queues.PUSH, max_retries=10, time_limit=10 * MINUTE, retry_when=retry_up_to(10)
)
def push_run(push_id: int) -> None:
    from photosync.models import Push
    from photosync.services.pushes import push_failed
    from photosync.services.pushes import push_run as service

    try:
        _push_outcome(service(push_id=push_id))
    except Retryable as exc:
        PUSH_OUTCOMES.labels(platform="", outcome="retry").inc()
        raise _retry_later(exc) from exc
    except Exception:
        log.exception("push %s failed", push_id)
        push = Push.objects.filter(pk=push_id).first()
        if push is not None:
            push_failed(push=push, message="The push failed unexpectedly; use Retry to try again.")
            _push_outcome(push)


def _push_outcome(push) -> None:
    if push is not None:
        platform = getattr(push.store, "platform", "") if push.store_id else ""
        PUSH_OUTCOMES.labels(platform=platform, outcome=push.status).inc()


@dramatiq.actor(
    queue_name=Queues.WEBHOOKS, max_retries=5, time_limit=5 * MINUTE, retry_when=retry_up_to(5)
)
def product_refresh(store_id: int, remote_id: str) -> None:
    """Re-read one product from its store and queue generation if its inputs are new."""
    from photosync.services.sync import product_refresh as service

    _retrying(service, store_id=store_id, remote_id=remote_id)


# --- Shopify -------------------------------------------------------------------------
@dramatiq.actor(
    queue_name=Queues.WEBHOOKS, max_retries=5, time_limit=5 * MINUTE, retry_when=retry_up_to(5)
)
def shopify_webhook_process(event_id: int) -> None:
    """Act on one recorded Shopify webhook delivery (re-read, uninstall, redact, ...)."""
    from photosync.services.shopify_webhooks import shopify_webhook_process as service

    _retrying(service, event_id=event_id)


@dramatiq.actor(
    queue_name=Queues.PUSH, max_retries=3, time_limit=2 * MINUTE, retry_when=retry_up_to(3)
)
def push_poll(push_id: int, attempt: int = 0) -> None:
    """Ask the store whether a push it is still processing went live; re-queues itself with
    a bounded backoff until it did, failed, or ran out of attempts."""
    from photosync.services.pushes import push_poll as service

    push = _retrying(service, push_id=push_id, attempt=attempt)
    if push is not None and push.status != "processing":
        _push_outcome(push)


@dramatiq.actor(
    queue_name=Queues.SYNC, max_retries=3, time_limit=60 * MINUTE, retry_when=retry_up_to(3)
)
def shopify_bulk_import(store_id: int, operation_id: str) -> None:
    """Stream a finished bulk operation's JSONL into product processing (backfill)."""
    from photosync.models import Store
    from photosync.services.shopify_sync import shopify_bulk_import as service

    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        log.info("bulk import for store %s skipped: the store is gone", store_id)
        return
    _retrying(service, store=store, operation_id=operation_id)


# --- end of Shopify --------------------------------------------------------------------

# --- WooCommerce ---------------------------------------------------------------------
@dramatiq.actor(
    queue_name=Queues.WEBHOOKS, max_retries=5, time_limit=5 * MINUTE, retry_when=retry_up_to(5)
)
def woocommerce_event_process(event_id: int) -> None:
    """Refresh the product of one recorded WooCommerce delivery (the parent of a variation)."""
    from photosync.services.woocommerce.intake import woocommerce_event_failed
    from photosync.services.woocommerce.intake import woocommerce_event_process as service

    try:
        service(event_id=event_id)
    except Retryable as exc:
        raise _retry_later(exc) from exc
    except Exception:
        log.exception("woocommerce event %s failed", event_id)
        woocommerce_event_failed(event_id=event_id, message="Processing failed unexpectedly.")


@dramatiq.actor(
    queue_name=Queues.WEBHOOKS, max_retries=5, time_limit=5 * MINUTE, retry_when=retry_up_to(5)
)
def woocommerce_connect_verify(request_id: int) -> None:
    """Verify the key a store posted to the wc-auth callback, then connect the store."""
    from photosync.services.woocommerce.connect import woocommerce_auth_verify

    _retrying(woocommerce_auth_verify, request_id=request_id)


@dramatiq.actor(
    queue_name=Queues.SYNC, max_retries=3, time_limit=5 * MINUTE, retry_when=retry_up_to(3)
)
def woocommerce_webhooks_check(store_id: int) -> None:
    """Re-activate disabled and re-create missing webhooks of one WooCommerce store."""
    from photosync.models import Store
    from photosync.services.woocommerce.health import woocommerce_webhooks_check as service

    store = Store.objects.filter(pk=store_id, status=Store.Status.ACTIVE).first()
    if store is None:
        log.info("webhook check of store %s skipped: the store is gone", store_id)
        return
    _retrying(service, store=store)


# --- end of WooCommerce ----------------------------------------------------------------

GENERATION_ACTORS = {Queues.GENERATE_CPU: generation_run, Queues.GENERATE_GPU: generation_run_gpu}
