"""Products: turning what a store says about a product into generation work, once.

Webhooks, reconciliation and folder scans all land in `product_ingest`; the input hash
makes it idempotent, and our own pushed images are left out of the hash, so the echo of a
push never triggers generation. When the hash changes, generation is decided per photo by
its content (services.sources): only new photos, or new bytes, are generated.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from django.db import IntegrityError, transaction

from integrations.base import RemoteProduct
from photosync.models import GenerationJob, Product, Push, SourceImage, Store
from photosync.services.catalog import TRASHED, product_mark_deleted, product_mark_restored
from photosync.services.generation_config import job_config_for_store
from photosync.services.scheduling import jobs_dispatch
from photosync.services.sources import sources_fetch_new, sources_update


def product_input_hash(*, remote: RemoteProduct, own_image_ids: set[str]) -> str:
    """Hash the inputs that matter: the merchant's own images, the title and the type."""
    images = sorted(
        (img.remote_id, img.version or img.src, *((img.variant_id,) if img.variant_id else ()))
        for img in remote.images
        if img.remote_id not in own_image_ids
    )
    doc = {"title": remote.title, "type": remote.product_type, "images": images}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def product_own_image_ids(*, product: Product) -> set[str]:
    """Remote ids of the images our pushes put on the product (never merchant inputs)."""
    pushes = Push.objects.filter(product=product).exclude(remote_id="")
    return set(pushes.values_list("remote_id", flat=True))


def product_ingest(
    *,
    store: Store,
    remote: RemoteProduct,
    reason: str = GenerationJob.Reason.NEW,
    dispatch: bool = True,
) -> GenerationJob | None:
    """Record the product and queue generation when its inputs are new.

    Returns the job created, or None when nothing new needs generating (an echo, a repeat,
    or a product without images of the merchant's own). Callers that ingest many products
    pass `dispatch=False` and call `jobs_dispatch()` once at the end.

    A product in the store's trash is marked deleted (services.catalog) and generates
    nothing; a deleted product the store shows again is restored first.
    """
    if remote.status == "trash":
        trashed = Product.objects.filter(store=store, remote_id=remote.remote_id).first()
        if trashed is not None:
            product_mark_deleted(product=trashed, reason=TRASHED)
        return None
    existing = Product.objects.filter(store=store, remote_id=remote.remote_id).first()
    fetched = {}
    if existing is not None:  # photos we have not seen are hashed before the row is locked
        own = product_own_image_ids(product=existing)
        if existing.input_hash != product_input_hash(remote=remote, own_image_ids=own):
            fetched = sources_fetch_new(
                store=store, product=existing,
                images=[img for img in remote.images if img.remote_id not in own])
    with transaction.atomic():
        product, created = Product.objects.get_or_create(
            store=store,
            remote_id=remote.remote_id,
            defaults={"title": remote.title, "product_type": remote.product_type},
        )
        if not created:
            # Lock the row so that concurrent deliveries of one product serialize here.
            product = Product.objects.select_for_update().get(pk=product.pk)
            if product.deleted_at is not None:
                product_mark_restored(product=product)
        own = product_own_image_ids(product=product)
        merchant_images = [img for img in remote.images if img.remote_id not in own]
        input_hash = product_input_hash(remote=remote, own_image_ids=own)
        old_title = product.title
        product.title = remote.title
        product.product_type = remote.product_type
        product.remote_updated_at = remote.updated_at
        unchanged = product.input_hash == input_hash
        product.input_hash = input_hash
        product.save()
        if unchanged:
            return None
        # Per photo, by content: only new photos (or new bytes) are generated; a title
        # edit updates the waiting alt suggestions (services.sources).
        sources = sources_update(product=product, images=merchant_images, old_title=old_title,
                                 fetched=fetched)
        if not sources:
            return None
        if not created and reason == GenerationJob.Reason.NEW:
            reason = GenerationJob.Reason.UPDATE
        which = hashlib.sha256(",".join(map(str, sorted(sources))).encode()).hexdigest()[:16]
        return _job_create(
            store=store,
            product=product,
            input_hash=input_hash,
            dedupe_key=f"{product.pk}:{input_hash}:{which}",
            reason=reason,
            source_ids=sources,
            dispatch=dispatch,
        )


def product_regenerate(*, product: Product, overrides: dict | None = None) -> GenerationJob:
    """A merchant asked for new images of the same inputs (perhaps another preset)."""
    sources = list(
        product.sources.exclude(status=SourceImage.Status.FAILED)
        .filter(superseded_at__isnull=True).values_list("pk", flat=True)
    )
    with transaction.atomic():
        job = _job_create(
            store=product.store,
            product=product,
            input_hash=product.input_hash,
            dedupe_key=f"{product.pk}:{product.input_hash}:regen:{uuid.uuid4().hex}",
            reason=GenerationJob.Reason.REGENERATE,
            source_ids=sources,
            overrides=overrides,
        )
    assert job is not None
    return job


def _job_create(
    *,
    store: Store,
    product: Product,
    input_hash: str,
    dedupe_key: str,
    reason: str,
    source_ids: list[int],
    overrides: dict | None = None,
    dispatch: bool = True,
) -> GenerationJob | None:
    config = job_config_for_store(store=store, overrides=overrides)
    try:
        with transaction.atomic():
            job = GenerationJob.objects.create(
                store=store,
                product=product,
                input_hash=input_hash,
                dedupe_key=dedupe_key,
                reason=reason,
                priority=_PRIORITY[reason],
                queue=config.pop("queue"),
                config={**config, "source_ids": source_ids},
            )
    except IntegrityError:  # the same inputs are already queued or done
        return None
    # The dispatcher decides when it runs (priority, fairness, limits); ask it right away.
    if dispatch:
        transaction.on_commit(jobs_dispatch)
    return job


_PRIORITY = {
    GenerationJob.Reason.REGENERATE: 0,
    GenerationJob.Reason.NEW: 5,
    GenerationJob.Reason.UPDATE: 5,
    GenerationJob.Reason.BACKFILL: 9,
}
