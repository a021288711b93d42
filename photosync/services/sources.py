"""Source images: which of a product's photos need generating, keyed by their content.

A product's listing changed (its input hash): each photo the store now shows is matched to
the sources we hold, first by its store id and version, then, for one we have not seen, by
the sha256 of its bytes. So:

- a photo we know generates nothing (a title-only edit, a reorder, our own push's echo);
- the same bytes at a new URL or id (a CDN plugin, a re-upload) keep their source, and its
  outputs stand;
- a new photo, or new bytes of one, is the only thing generated;
- a photo that left the product, or whose bytes changed, is superseded: its outputs still
  waiting for a decision are marked `superseded` and leave the queue (approved and pushed
  ones are the merchant's decisions and stay), and waiting jobs left with nothing to
  generate are cancelled.

New photos of a product we already hold are downloaded here, outside any transaction, and
kept as originals (content-addressed), so the worker does not fetch them again. A photo that
cannot be fetched now counts as new (the worker fetches it, and names the error).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from integrations.base import RemoteImage
from integrations.errors import IntegrationError
from photosync.models import GeneratedImage, GenerationJob, Product, Push, SourceImage, Store
from photosync.services.media import media_save_original, original_extension
from photosync.services.stores import store_adapter

log = logging.getLogger(__name__)

SUPERSEDED_JOB = ("Cancelled: the photos it was to generate from were removed or changed on "
                  "the store.")


@dataclass(frozen=True)
class Fetched:
    file: str  # the original's storage name
    digest: str  # sha256 of its bytes


def sources_fetch_new(*, store: Store, product: Product | None,
                      images: list[RemoteImage]) -> dict[tuple[str, str], Fetched]:
    """The bytes of each photo of an already known product that no current source matches
    by (store id, version): downloaded and kept, by (remote id, version). Nothing for a new
    product (every photo is new anyway), nor when every photo is known."""
    if product is None:
        return {}
    known = set(product.sources.filter(superseded_at__isnull=True)
                .values_list("remote_id", "version"))
    unknown = [img for img in images if (img.remote_id, img.version) not in known]
    if not unknown:
        return {}
    adapter = store_adapter(store=store)
    fetched: dict[tuple[str, str], Fetched] = {}
    for img in unknown:
        try:
            data = adapter.fetch_image(img)
        except IntegrationError as exc:
            log.info("product %s: photo %s not fetched at ingest (%s); the worker will try",
                     product.pk, img.remote_id, exc.message)
            continue
        if data:
            name, digest = media_save_original(store_id=store.pk, data=data,
                                               extension=original_extension(img.remote_id))
            fetched[(img.remote_id, img.version)] = Fetched(name, digest)
    return fetched


def sources_update(*, product: Product, images: list[RemoteImage], old_title: str,
                   fetched: dict[tuple[str, str], Fetched]) -> list[int]:
    """Bring the product's sources in line with the photos the store shows (the caller holds
    the product's row lock); return the ids of the sources to generate from."""
    now = timezone.now()
    current = list(product.sources.filter(superseded_at__isnull=True))
    by_key = {(s.remote_id, s.version): s for s in current}
    listed = {(img.remote_id, img.version) for img in images}
    by_hash = {s.content_hash: s for s in current
               if s.content_hash and (s.remote_id, s.version) not in listed}
    kept: set[int] = set()
    new: list[int] = []
    for img in images:
        key = (img.remote_id, img.version)
        source = by_key.get(key)
        if source is None and key in fetched:  # the same bytes at a new URL or id
            source = by_hash.pop(fetched[key].digest, None)
        if source is not None and source.pk not in kept:
            kept.add(source.pk)
            _source_refresh(source, img, product, old_title)
            continue
        defaults = {"src": img.src, "alt": img.alt, "position": img.position,
                    "variant_id": img.variant_id, "superseded_at": None}
        if key in fetched:
            defaults.update(file=fetched[key].file, content_hash=fetched[key].digest)
        source, _ = SourceImage.objects.update_or_create(
            product=product, remote_id=img.remote_id, version=img.version, defaults=defaults)
        kept.add(source.pk)
        new.append(source.pk)
    gone = [s.pk for s in current if s.pk not in kept]
    if gone:
        SourceImage.objects.filter(pk__in=gone).update(superseded_at=now)
        n = GeneratedImage.objects.filter(source_id__in=gone,
                                          status=GeneratedImage.Status.READY).update(
            status=GeneratedImage.Status.SUPERSEDED)
        _jobs_without_work_cancel(product, now)
        log.info("product %s: %s photos left or changed; %s waiting outputs superseded",
                 product.pk, len(gone), n)
    if old_title != product.title:
        _alt_suggestions_retitle(product, old_title)
    return new


def _source_refresh(source: SourceImage, img: RemoteImage, product: Product,
                    old_title: str) -> None:
    """A known photo: follow its place, URL and alt text; its outputs stand. Waiting outputs
    that still carry the old alt suggestion get the new one."""
    old_alt = source.alt
    changes = {"src": img.src, "alt": img.alt, "position": img.position,
               "variant_id": _variant_of(source, img)}
    moved = (source.remote_id, source.version) != (img.remote_id, img.version)
    if moved and not SourceImage.objects.filter(  # (a superseded row may hold the new key)
            product=product, remote_id=img.remote_id, version=img.version).exists():
        changes.update(remote_id=img.remote_id, version=img.version)
    if any(getattr(source, k) != v for k, v in changes.items()):
        SourceImage.objects.filter(pk=source.pk).update(**changes)
    if old_alt != img.alt:
        GeneratedImage.objects.filter(
            source=source, status=GeneratedImage.Status.READY,
            alt_text=old_alt or old_title,
        ).update(alt_text=img.alt or product.title)


_ON_VARIANT = (Push.Status.QUEUED, Push.Status.UPLOADING, Push.Status.PROCESSING,
               Push.Status.LIVE)


def _variant_of(source: SourceImage, img: RemoteImage) -> str:
    """The variants the photo belongs to. On Shopify the photo stays in the gallery when our
    output replaces it on its variant, so the store lists it without one then: while an
    output of it is pushed to (or live on) the variant, the photo keeps its variant (its
    pushes' rollback gives the variant the photo back)."""
    if img.variant_id or not source.variant_id:
        return img.variant_id
    pushed = Push.objects.filter(image__source=source, status__in=_ON_VARIANT).exists()
    return source.variant_id if pushed else ""


def _alt_suggestions_retitle(product: Product, old_title: str) -> None:
    """A title edit: waiting outputs whose alt text is still the old title (the suggestion
    when the photo has none of its own) suggest the new title. Images are not regenerated."""
    GeneratedImage.objects.filter(
        product=product, status=GeneratedImage.Status.READY, alt_text=old_title,
        source__alt="",
    ).update(alt_text=product.title)


def _jobs_without_work_cancel(product: Product, now) -> None:
    """Waiting jobs whose every source was superseded would generate what nobody wants (and
    use the month's quota): cancelled."""
    live = set(product.sources.filter(superseded_at__isnull=True).values_list("pk", flat=True))
    waiting = GenerationJob.objects.filter(product=product, status__in=(
        GenerationJob.Status.QUEUED, GenerationJob.Status.HELD))
    for job in waiting:
        if not set(job.config.get("source_ids", [])) & live:
            GenerationJob.objects.filter(pk=job.pk, status=job.status).update(
                status=GenerationJob.Status.CANCELLED, error=SUPERSEDED_JOB, finished_at=now)
