"""The merchant's decisions on generated images."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from photosync.flags import flag_codes
from photosync.models import GeneratedImage, GenerationJob, Push
from photosync.queueing import Work
from photosync.services.pushes import push_queue_update, push_retry
from photosync.services.sending import row_send


class ReviewError(Exception):
    """The decision cannot be applied; the message says why, for the merchant."""


@transaction.atomic
def image_approve(
    *,
    image: GeneratedImage,
    user=None,
    alt_text: str | None = None,
    featured: bool = False,
    hold: bool = False,
) -> Push:
    """Approve an image and put it in the push outbox (once per content hash). With `hold`
    (the merchant approved one output and is shown an Undo) a new push starts only after
    PHOTOSYNC_APPROVE_UNDO_SECONDS, so that image_unapprove can still take it back.

    Approving again with another alt text or featured choice changes the image: a live one is
    updated on the store (the push goes out again as an update), one still on its way picks
    the change up before it is called live, a failed one is sent again. Choosing an image as
    featured un-features the product's other outputs (the store has one featured image)."""
    image = GeneratedImage.objects.select_for_update().select_related("product").get(pk=image.pk)
    if image.status in (GeneratedImage.Status.REJECTED, GeneratedImage.Status.FAILED):
        raise ReviewError(f"This image is {image.status}; regenerate to get a new one.")
    if image.status == GeneratedImage.Status.SUPERSEDED:
        raise ReviewError("This image is superseded: its photo was removed or changed on the "
                          "store. The product's current photos have their own images.")
    if alt_text is not None:
        image.alt_text = alt_text.strip()[:512]
    image.featured = featured
    if image.status == GeneratedImage.Status.READY:
        image.status = GeneratedImage.Status.APPROVED
        image.decided_by = user if getattr(user, "is_authenticated", False) else None
        image.decided_at = timezone.now()
    image.save()
    if featured:
        GeneratedImage.objects.filter(product_id=image.product_id, featured=True).exclude(
            pk=image.pk).update(featured=False)
    push, created = Push.objects.get_or_create(
        store_id=image.product.store_id,
        product=image.product,
        content_hash=image.content_hash,
        defaults={"image": image, "requested_by": image.decided_by},
    )
    if created:
        wait_ms = int(settings.PHOTOSYNC_APPROVE_UNDO_SECONDS * 1000) if hold else 0
        row_send(Push, push.pk, Work.PUSH_RUN, push.pk, delay_ms=wait_ms or None)
        return push
    push = Push.objects.select_for_update().get(pk=push.pk)
    if push.status == Push.Status.FAILED:
        push_retry(push=push)
        push.refresh_from_db()
    else:
        push_queue_update(push=push)
    return push


@transaction.atomic
def image_reject(*, image: GeneratedImage, user=None) -> GeneratedImage:
    image = GeneratedImage.objects.select_for_update().get(pk=image.pk)
    if image.status != GeneratedImage.Status.READY:
        raise ReviewError(f"This image is already {image.status}.")
    image.status = GeneratedImage.Status.REJECTED
    image.decided_by = user if getattr(user, "is_authenticated", False) else None
    image.decided_at = timezone.now()
    image.save(update_fields=["status", "decided_by", "decided_at"])
    return image


def images_approve_bulk(*, images, user=None) -> tuple[list[Push], list[GeneratedImage]]:
    """Approve many waiting images at once (across products), but only those that passed
    every fidelity threshold: flagged ones need a look each. Returns (pushes, skipped)."""
    pushes: list[Push] = []
    skipped: list[GeneratedImage] = []
    for image in images:
        if image.status != GeneratedImage.Status.READY or flag_codes(image.flags):
            skipped.append(image)
            continue
        pushes.append(image_approve(image=image, user=user))
    return pushes, skipped


def images_auto_approve(*, job: GenerationJob) -> int:
    """Apply the store's auto-approve rule to a finished job; never to flagged outputs."""
    rule = job.store.settings.get("auto_approve", "never")
    if rule == "never":
        return 0
    # Every stored flag has a code (old sentences read as `legacy`): no codes is no flags.
    candidates = GeneratedImage.objects.filter(job=job, status=GeneratedImage.Status.READY,
                                               flags=[])
    if rule == "framed":
        candidates = candidates.filter(kind=GeneratedImage.Kind.FRAMED)
    count = 0
    for image in candidates:
        image_approve(image=image)
        count += 1
    return count


@transaction.atomic
def image_reopen(*, image: GeneratedImage, user=None) -> GeneratedImage:
    """Take back a reject: the output waits for review again, as it was. Nothing is made
    again, so no generation is used from the month's quota."""
    image = GeneratedImage.objects.select_for_update().get(pk=image.pk)
    if image.status != GeneratedImage.Status.REJECTED:
        raise ReviewError(f"Only a rejected image can be reopened; this one is {image.status}.")
    image.status = GeneratedImage.Status.READY
    image.decided_by = None
    image.decided_at = None
    image.save(update_fields=["status", "decided_by", "decided_at"])
    return image


@transaction.atomic
def image_unapprove(*, image: GeneratedImage, user=None) -> GeneratedImage:
    """Take back an approve while its push has not started: the outbox row goes (its message,
    if already sent, finds nothing to do) and the output waits for review again. Once the
    push has started the store may already have the image: Roll back is the way then."""
    image = GeneratedImage.objects.select_for_update().get(pk=image.pk)
    if image.status != GeneratedImage.Status.APPROVED:
        raise ReviewError(f"Only an approved image can be taken back; this one is {image.status}.")
    push = Push.objects.select_for_update().filter(
        product_id=image.product_id, content_hash=image.content_hash).first()
    if push is not None:
        untouched = (push.status == Push.Status.QUEUED and push.attempts == 0
                     and push.kind == Push.Kind.ADD and not push.remote_id)
        if not untouched:
            raise ReviewError("It is already on its way to your store: roll it back from the "
                              "history once it is live.")
        push.delete()
    image.status = GeneratedImage.Status.READY
    image.featured = False
    image.decided_by = None
    image.decided_at = None
    image.save(update_fields=["status", "featured", "decided_by", "decided_at"])
    return image
