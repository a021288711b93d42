"""Pushes: deliver an approved image from the outbox to its store, exactly once."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

from django.db import transaction
from django.utils import timezone

from integrations.base import NewImage
from integrations.errors import Retryable, Terminal
from photosync.models import GeneratedImage, Push
from photosync.queueing import Work
from photosync.services.media import media_public_url
from photosync.services.originals import product_originals_backup
from photosync.services.sending import row_send
from photosync.services.stores import store_adapter

log = logging.getLogger(__name__)

_DONE = {Push.Status.LIVE, Push.Status.ROLLED_BACK}


def push_send(*, push_id: int) -> Push | None:
    """Send one outbox row to its store. Retryable errors propagate for a later retry."""
    with transaction.atomic():
        push = Push.objects.select_for_update().filter(pk=push_id).first()
        if push is None or push.status in _DONE:
            return push
        push.status = Push.Status.UPLOADING
        push.attempts += 1
        push.save(update_fields=["status", "attempts", "updated_at"])
    image = push.image
    with image.file.open("rb") as fh:
        data = fh.read()
    new = NewImage(
        data=data,
        filename=f"{push.product.remote_id}-{image.preset}-{image.pk}"
        f"{PurePosixPath(image.file.name).suffix}",
        content_type=image.content_type,
        content_hash=push.content_hash,
        alt=image.alt_text,
        featured=image.featured,
        public_url=media_public_url(image.file.name),
    )
    adapter = store_adapter(store=push.store)
    try:
        product_originals_backup(product=push.product, adapter=adapter)
        result = adapter.push_image(push.product.remote_id, new)
    except Retryable as exc:
        _status_set(push, status=Push.Status.QUEUED, error=exc.message)
        raise
    except Terminal as exc:
        push_failed(push=push, message=exc.message)
        return push
    with transaction.atomic():
        push.remote_id = result.remote_id
        push.previous_state = result.previous_state
        push.error = ""
        if result.status == "live":
            push.status = Push.Status.LIVE
            push.pushed_at = timezone.now()
            GeneratedImage.objects.filter(pk=image.pk).update(status=GeneratedImage.Status.PUSHED)
        else:
            push.status = Push.Status.PROCESSING
        push.save()
        if push.status == Push.Status.PROCESSING:
            row_send(Push, push.pk, Work.PUSH_POLL, push.pk, 0, delay_ms=_poll_delay_ms(0))
    return push


# The store processes media asynchronously (Shopify: UPLOADED → PROCESSING → READY | FAILED).
# Poll with a doubling delay, capped, for about ten minutes in all.
POLL_FIRST_DELAY_S = 1.0
POLL_MAX_DELAY_S = 60.0
POLL_MAX_ATTEMPTS = 16


def _poll_delay_ms(attempt: int) -> int:
    return int(min(POLL_MAX_DELAY_S, POLL_FIRST_DELAY_S * 2**attempt) * 1000)


def push_status_check(*, push_id: int, attempt: int = 0) -> Push | None:
    """Second pass of a push the store is still processing: live, failed, or poll again."""
    push = Push.objects.select_related("store", "product").filter(pk=push_id).first()
    if push is None or push.status != Push.Status.PROCESSING:
        return push
    try:
        state = store_adapter(store=push.store).push_status(push.product.remote_id, push.remote_id)
    except Terminal as exc:
        push_failed(push=push, message=exc.message)
        return push
    with transaction.atomic():
        push = Push.objects.select_for_update().get(pk=push.pk)
        if push.status != Push.Status.PROCESSING:
            return push
        if state == "live":
            push.status = Push.Status.LIVE
            push.pushed_at = timezone.now()
            push.error = ""
            push.save(update_fields=["status", "pushed_at", "error", "updated_at"])
            GeneratedImage.objects.filter(pk=push.image_id).update(
                status=GeneratedImage.Status.PUSHED
            )
        elif state.startswith("failed"):
            reason = state.partition(":")[2].strip() or "the store could not process the image"
            push_failed(push=push, message=f"The store rejected the image: {reason}")
        elif attempt + 1 >= POLL_MAX_ATTEMPTS:
            push_failed(
                push=push,
                message="The store did not finish processing the image in time; "
                "use Retry to check again.",
            )
        else:
            row_send(Push, push.pk, Work.PUSH_POLL, push.pk, attempt + 1,
                     delay_ms=_poll_delay_ms(attempt + 1))
    return push


def push_failed(*, push: Push, message: str) -> None:
    _status_set(push, status=Push.Status.FAILED, error=message)


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
    push.save(update_fields=["status", "error", "updated_at"])


class PushError(Exception):
    """The request cannot be applied to this push; the message says why, for the merchant."""


def push_retry(*, push: Push) -> Push:
    """Queue a failed (or rolled back) push again: the merchant pressed Retry / Push again."""
    with transaction.atomic():
        push = Push.objects.select_for_update().get(pk=push.pk)
        if push.status not in (Push.Status.FAILED, Push.Status.ROLLED_BACK):
            raise PushError(f"This push is {push.status}; only a failed or rolled back push "
                            "can be sent again.")
        _status_set(push, status=Push.Status.QUEUED, error="")
        row_send(Push, push.pk, Work.PUSH_RUN, push.pk)
    return push


def push_rollback(*, push: Push, user=None) -> Push:
    """Take a pushed image back off the product and restore the gallery recorded before the
    push (order, featured image). The row keeps its remote id, so the echo of the rollback is
    still recognised as ours; its image goes back to approved (the decision stands, the image
    is no longer on the store). Rolling back twice is a no-op; a push that never reached the
    store raises PushError. Integration errors propagate for the caller to show."""
    with transaction.atomic():
        push = Push.objects.select_for_update().select_related("store", "product").get(
            pk=push.pk
        )
        if push.status == Push.Status.ROLLED_BACK:
            return push
        if push.status in (Push.Status.QUEUED, Push.Status.UPLOADING):
            raise PushError(f"This push is {push.status}; roll it back once it has finished.")
        if not push.remote_id:
            raise PushError(f"This push is {push.status} and never reached the store: "
                            "there is nothing to roll back.")
    store_adapter(store=push.store).rollback(
        push.product.remote_id, push.remote_id, push.previous_state
    )
    with transaction.atomic():
        Push.objects.filter(pk=push.pk).update(status=Push.Status.ROLLED_BACK, error="",
                                               updated_at=timezone.now())
        GeneratedImage.objects.filter(
            pk=push.image_id, status=GeneratedImage.Status.PUSHED
        ).update(status=GeneratedImage.Status.APPROVED)
    log.info("push %s of product %s rolled back by %s", push.pk, push.product_id,
             getattr(user, "username", None) or "the system")
    push.status = Push.Status.ROLLED_BACK
    return push
