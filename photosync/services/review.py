"""The merchant's decisions on generated images."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

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
) -> Push:
    """Approve an image and put it in the push outbox (once per content hash).

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
        row_send(Push, push.pk, Work.PUSH_RUN, push.pk)
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
        if image.status != GeneratedImage.Status.READY or image.flags:
            skipped.append(image)
            continue
        pushes.append(image_approve(image=image, user=user))
    return pushes, skipped


def images_auto_approve(*, job: GenerationJob) -> int:
    """Apply the store's auto-approve rule to a finished job; never to flagged outputs."""
    rule = job.store.settings.get("auto_approve", "never")
    if rule == "never":
        return 0
    candidates = GeneratedImage.objects.filter(job=job, status=GeneratedImage.Status.READY,
                                               flags=[])
    if rule == "framed":
        candidates = candidates.filter(kind=GeneratedImage.Kind.FRAMED)
    count = 0
    for image in candidates:
        image_approve(image=image)
        count += 1
    return count
