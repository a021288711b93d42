"""Pushes: deliver an approved image (or an edit of its alt text or featured choice) from the
outbox to its store, exactly once, and call it live only once the store shows it.

Every write to a product's store copy holds the product's write lease (`leases.
product_writes`), across processes: a push that finds it taken is sent again a moment
later. A store that cannot be reached keeps the push waiting with a capped backoff, for as
long as it takes (`waiting_since` says since when); nothing is given up on a retry count.
"""

from __future__ import annotations

import logging
import random

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.base import MediaStatus
from integrations.errors import ProductGone, Retryable, Terminal, Unavailable
from photosync.models import GeneratedImage, Push
from photosync.queueing import Work
from photosync.services.catalog import DELETED, TRASHED, cancelled_because, product_mark_deleted
from photosync.services.leases import LeaseBusy, product_writes
from photosync.services.push_store import (
    Checked,
    Outcome,
    Wanted,
    push_read_back,
    push_write,
    target_of,
)
from photosync.services.sending import row_send
from photosync.services.stores import store_adapter

log = logging.getLogger(__name__)

_SENDABLE = (Push.Status.QUEUED, Push.Status.UPLOADING)
_DONE = {Push.Status.LIVE, Push.Status.ROLLED_BACK, Push.Status.CANCELLED}
LEASE_WAIT_S = 2.0  # how long a worker waits for another write to the product to finish
ROLLBACK_LEASE_WAIT_S = 15.0  # the merchant is waiting for the answer
MAX_CHECKS = 5  # read-backs in a row that may miss the write before the push fails

# The store processes media asynchronously (Shopify: UPLOADED → PROCESSING → READY | FAILED).
# Poll with a doubling delay, capped, for about ten minutes of processing in all.
POLL_FIRST_DELAY_S = 1.0
POLL_MAX_DELAY_S = 60.0
POLL_MAX_ATTEMPTS = 16


def push_send(*, push_id: int) -> Push | None:
    """Send one outbox row to its store, under the product's write lease; every outcome
    (live, processing, failed, try again later) is recorded on the row."""
    push = _load(push_id)
    if push is None or push.status not in _SENDABLE:
        return push
    if push.product.deleted_at is not None:  # nothing is pushed to a deleted product
        _status_set(push, status=Push.Status.CANCELLED,
                    error=cancelled_because(push.product.deleted_reason or DELETED))
        return push
    try:
        with product_writes(product_id=push.product_id, wait=LEASE_WAIT_S):
            push = _start(push)
            if push is None or push.status != Push.Status.UPLOADING:
                return push
            image = GeneratedImage.objects.get(pk=push.image_id)
            checked = push_write(push=push, image=image, adapter=store_adapter(store=push.store),
                                 add=push.kind == Push.Kind.ADD)
    except LeaseBusy:
        _send(push, Work.PUSH_RUN, delay_ms=_soon_ms())
        return push
    except Retryable as exc:
        _store_retry(push, exc, Work.PUSH_RUN)
        return push
    except ProductGone as exc:
        _product_gone(push, exc)
        return push
    except Terminal as exc:
        push_failed(push=push, message=exc.message)
        return push
    return _settle(push, checked)


def push_status_check(*, push_id: int, attempt: int = 0) -> Push | None:
    """A push the store is still processing: read it back; live, failed, fixed, or poll
    again with a doubling delay (attempts count processing, never an unreachable store)."""
    push = _load(push_id)
    if push is None or push.status != Push.Status.PROCESSING:
        return push
    try:
        adapter = store_adapter(store=push.store)
        state = adapter.push_status(target_of(push), push.remote_id)
        if state.status is MediaStatus.PROCESSING:
            _poll_again(push, attempt + 1)
            return push
        image = GeneratedImage.objects.get(pk=push.image_id)
        if Wanted.of(push, image).shown_by(state):
            checked = Checked(Outcome.LIVE, wanted=Wanted.of(push, image))
        else:  # a fix or a clean-up is a write: under the lease, from a fresh read
            with product_writes(product_id=push.product_id, wait=LEASE_WAIT_S):
                checked = push_read_back(push=push, image=image, adapter=adapter,
                                         may_add=False)
    except LeaseBusy:
        _send(push, Work.PUSH_POLL, attempt, delay_ms=_soon_ms())
        return push
    except Retryable as exc:
        _store_retry(push, exc, Work.PUSH_POLL, attempt)
        return push
    except ProductGone as exc:
        _product_gone(push, exc)
        return push
    except Terminal as exc:
        push_failed(push=push, message=exc.message)
        return push
    return _settle(push, checked)


def _product_gone(push: Push, exc: ProductGone) -> None:
    """The store says the product is deleted (or trashed) while a push was on its way: the
    product leaves the queue and this push, with the others pending, is cancelled."""
    reason = TRASHED if "trash" in exc.message else DELETED
    product_mark_deleted(product=push.product, reason=reason)
    push.refresh_from_db()


def _load(push_id: int) -> Push | None:
    return Push.objects.select_related("store", "product").filter(pk=push_id).first()


def _start(push: Push) -> Push | None:
    with transaction.atomic():
        push = Push.objects.select_for_update(of=("self",)).select_related(
            "store", "product").filter(pk=push.pk).first()
        if push is None or push.status not in _SENDABLE:
            return push
        push.status = Push.Status.UPLOADING
        push.attempts += 1
        push.save(update_fields=["status", "attempts", "updated_at"])
    return push


def _settle(push: Push, checked: Checked) -> Push:
    """Record what the write and its read-back found."""
    if checked.outcome is Outcome.PROCESSING:
        _status_set(push, status=Push.Status.PROCESSING, error="")
        _send(push, Work.PUSH_POLL, 0, delay_ms=_poll_delay_ms(0))
        return push
    if checked.outcome is Outcome.FAILED:
        if checked.removed:  # nothing of ours is left on the product
            push.remote_id = ""
        push_failed(push=push, message=checked.reason)
        return push
    if checked.outcome is Outcome.RECHECK:
        return _recheck(push, checked.reason)
    return _live(push, checked.wanted)


def _live(push: Push, wanted: Wanted | None) -> Push:
    """Live, unless the merchant changed the alt text or featured choice while this write
    was on its way: then the row goes out again as an update."""
    with transaction.atomic():  # the image, then its push: the order image_approve locks in
        image = GeneratedImage.objects.select_for_update().get(pk=push.image_id)
        push = Push.objects.select_for_update().get(pk=push.pk)
        if wanted is None or (image.alt_text, image.featured) != (wanted.alt,
                                                                  wanted.image_featured):
            _queue(push, kind=Push.Kind.UPDATE)
            return push
        push.status = Push.Status.LIVE
        push.pushed_at = timezone.now()
        push.sent_alt, push.sent_featured = wanted.alt, wanted.image_featured
        push.error, push.waiting_since, push.checks_failed = "", None, 0
        push.save()
        GeneratedImage.objects.filter(pk=push.image_id).update(
            status=GeneratedImage.Status.PUSHED)
    return push


def _recheck(push: Push, reason: str) -> Push:
    push.checks_failed += 1
    if push.checks_failed >= MAX_CHECKS:
        Push.objects.filter(pk=push.pk).update(checks_failed=push.checks_failed)
        push_failed(push=push, message=f"{reason} Checked {push.checks_failed} times; use "
                                       "Retry to send it again.")
        return push
    push.status, push.error = Push.Status.QUEUED, ""
    push.save(update_fields=["status", "error", "checks_failed", "updated_at"])
    _send(push, Work.PUSH_RUN, delay_ms=int(1000 * push.checks_failed))
    return push


def _poll_again(push: Push, attempt: int) -> None:
    if attempt >= POLL_MAX_ATTEMPTS:
        push_failed(push=push, message="The store did not finish processing the image in "
                                       "time; use Retry to check again.")
        return
    if push.waiting_since is not None:
        Push.objects.filter(pk=push.pk).update(waiting_since=None, error="")
    _send(push, Work.PUSH_POLL, attempt, delay_ms=_poll_delay_ms(attempt))


def _poll_delay_ms(attempt: int) -> int:
    return int(min(POLL_MAX_DELAY_S, POLL_FIRST_DELAY_S * 2**attempt) * 1000)


def _soon_ms() -> int:
    """Another write to the product holds its lease: try again in a moment."""
    return int(random.uniform(200, 800))


def store_retry_delay(*, down_for: float | None, retry_after: float | None) -> float:
    """Seconds until the next try. A store that cannot be reached is asked again after half
    the time it has been down (at least 1 s, at most PHOTOSYNC_PUSH_RETRY_MAX_DELAY, with
    jitter), so a long outage costs one try a minute and the push lands within that of the
    store's return; a delay the store asked for (Retry-After) is honoured."""
    if down_for is None:
        return retry_after or 5.0
    cap = settings.PHOTOSYNC_PUSH_RETRY_MAX_DELAY
    backoff = min(cap, max(1.0, down_for / 2)) * random.uniform(0.8, 1.0)
    return max(backoff, retry_after or 0.0)


def _store_retry(push: Push, exc: Retryable, work: str, *args) -> None:
    """The store could not take the write now: record why and try again later."""
    now = timezone.now()
    down = isinstance(exc, Unavailable)
    since = (push.waiting_since or now) if down else None
    status = Push.Status.PROCESSING if work == Work.PUSH_POLL else Push.Status.QUEUED
    with transaction.atomic():
        rows = Push.objects.filter(pk=push.pk, status__in=(*_SENDABLE, Push.Status.PROCESSING))
        if not rows.update(status=status, error=exc.message, waiting_since=since,
                           updated_at=now):
            return  # rolled back or failed meanwhile
        delay = store_retry_delay(
            down_for=(now - since).total_seconds() if since else None,
            retry_after=exc.retry_after)
        _send(push, work, *args, delay_ms=int(delay * 1000))
    if down and push.waiting_since is None:
        log.warning("push %s: store %s cannot be reached (%s); retrying with backoff",
                    push.pk, push.store_id, exc.message)


def push_failed(*, push: Push, message: str) -> None:
    push.status, push.error, push.waiting_since = Push.Status.FAILED, message, None
    push.save(update_fields=["status", "error", "waiting_since", "remote_id", "updated_at"])


def push_give_up(*, push_id: int, reason: str) -> Push | None:
    """The push boundary gave up (an error it did not expect, the time limit, retries spent):
    fail the push, if it is still there and not done, with a message the merchant can act
    on."""
    push = Push.objects.filter(pk=push_id).first()
    if push is not None and push.status not in _DONE:
        push_failed(push=push, message=f"The push stopped. {reason} Use Retry to try again.")
    return push


def _status_set(push: Push, *, status: str, error: str) -> None:
    push.status = status
    push.error = error
    push.waiting_since = None
    push.save(update_fields=["status", "error", "waiting_since", "updated_at"])


def _queue(push: Push, *, kind: str) -> None:
    """Put the row (locked by the caller) back in the outbox as `kind` and send it."""
    push.kind, push.status, push.error = kind, Push.Status.QUEUED, ""
    push.checks_failed, push.waiting_since = 0, None
    push.save(update_fields=["kind", "status", "error", "checks_failed", "waiting_since",
                             "updated_at"])
    _send(push, Work.PUSH_RUN)


def _send(push: Push, work: str, *args, delay_ms: int | None = None) -> None:
    """Send the push's work with the row's send stamp (services.sending), so that recovery
    re-sends it only once no copy can still be in flight."""
    row_send(Push, push.pk, work, push.pk, *args, delay_ms=delay_ms)


def push_queue_update(*, push: Push) -> bool:
    """The merchant changed the alt text or featured choice of an approved image (the row is
    locked by the caller): a live image is updated on the store; one still on its way picks
    the change up when it is read back. True when an update was queued."""
    if push.status != Push.Status.LIVE:
        return False
    image = GeneratedImage.objects.get(pk=push.image_id)
    if (image.alt_text, image.featured) == (push.sent_alt, push.sent_featured):
        return False
    _queue(push, kind=Push.Kind.UPDATE)
    return True


class PushError(Exception):
    """The request cannot be applied to this push; the message says why, for the merchant."""


def push_retry(*, push: Push) -> Push:
    """Queue a failed (or rolled back) push again: the merchant pressed Retry / Push again.
    It is sent as an addition, so an image that is no longer on the store is put back."""
    with transaction.atomic():
        push = Push.objects.select_for_update(of=("self",)).select_related("product").get(
            pk=push.pk)
        if push.product.deleted_at is not None:
            raise PushError("The product was deleted on the store; nothing is pushed to it.")
        if push.status not in (Push.Status.FAILED, Push.Status.ROLLED_BACK,
                               Push.Status.CANCELLED):
            raise PushError(f"This push is {push.status}; only a failed, cancelled or rolled "
                            "back push can be sent again.")
        _queue(push, kind=Push.Kind.ADD)
    return push


def push_rollback(*, push: Push, user=None) -> Push:
    """Take a pushed image back off the product, under the product's write lease. Only our
    image goes: the merchant's later additions, order and featured choice stay, and the
    image featured before the push is featured again only where ours is featured now. The
    row keeps its remote id, so the echo of the rollback is still recognised as ours; its
    image goes back to approved (the decision stands, the image is no longer on the store).
    Rolling back twice is a no-op; a push that never reached the store raises PushError.
    Integration errors propagate for the caller to show (Retryable: try again shortly)."""
    with transaction.atomic():
        push = Push.objects.select_for_update(of=("self",)).select_related(
            "store", "product").get(pk=push.pk)
        if push.status == Push.Status.ROLLED_BACK:
            return push
        if push.status in (Push.Status.QUEUED, Push.Status.UPLOADING):
            raise PushError(f"This push is {push.status}; roll it back once it has finished.")
        if not push.remote_id:
            raise PushError(f"This push is {push.status} and never reached the store: "
                            "there is nothing to roll back.")
    adapter = store_adapter(store=push.store)
    try:
        with product_writes(product_id=push.product_id, wait=ROLLBACK_LEASE_WAIT_S):
            adapter.rollback(target_of(push), push.remote_id, push.previous_state)
            state = adapter.push_status(target_of(push), push.remote_id)
    except LeaseBusy:
        raise Retryable("Another change to this product is being sent to the store right "
                        "now; roll back again in a moment.", retry_after=5) from None
    if state.status is not MediaStatus.MISSING:
        raise Retryable("The store still shows the image; roll back again in a moment.",
                        retry_after=5)
    with transaction.atomic():  # the image, then its push (see _live)
        GeneratedImage.objects.filter(
            pk=push.image_id, status=GeneratedImage.Status.PUSHED
        ).update(status=GeneratedImage.Status.APPROVED)
        Push.objects.filter(pk=push.pk).update(status=Push.Status.ROLLED_BACK, error="",
                                               waiting_since=None, updated_at=timezone.now())
    log.info("push %s of product %s rolled back by %s", push.pk, push.product_id,
             getattr(user, "username", None) or "the system")
    push.status = Push.Status.ROLLED_BACK
    return push
