"""Pushes: deliver an approved image from the outbox to its store, exactly once."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.db import transaction
from django.utils import timezone

from integrations.base import NewImage
from integrations.errors import Retryable, Terminal
from photosync.models import GeneratedImage, Push
from photosync.services.media import media_public_url
from photosync.services.originals import product_originals_backup
from photosync.services.stores import store_adapter

_DONE = {Push.Status.LIVE, Push.Status.ROLLED_BACK}


def push_run(*, push_id: int) -> Push | None:
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
        _set(push, status=Push.Status.QUEUED, error=exc.message)
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
    return push


def push_failed(*, push: Push, message: str) -> None:
    _set(push, status=Push.Status.FAILED, error=message)


def _set(push: Push, *, status: str, error: str) -> None:
    push.status = status
    push.error = error
    push.save(update_fields=["status", "error", "updated_at"])
