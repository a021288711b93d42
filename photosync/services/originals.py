"""Backups of the merchant's originals, taken before any push touches their product."""

from __future__ import annotations

import logging

from integrations.base import RemoteImage, StoreAdapter
from integrations.errors import IntegrationError, Retryable
from photosync.models import Product, SourceImage
from photosync.services.media import media_save_original, original_extension
from photosync.services.products import product_own_image_ids

log = logging.getLogger(__name__)


def product_originals_backup(*, product: Product, adapter: StoreAdapter) -> int:
    """Make sure every merchant image now on the product is stored with us; return how many
    were newly stored. Our own pushed images are not originals and are skipped."""
    remote = adapter.get_product(product.remote_id)
    ours = product_own_image_ids(product=product)
    stored = 0
    for image in remote.images:
        if image.remote_id in ours:
            continue
        source, _ = SourceImage.objects.get_or_create(
            product=product,
            remote_id=image.remote_id,
            version=image.version,
            defaults={"src": image.src, "alt": image.alt, "position": image.position},
        )
        if source.file:
            continue
        try:
            data = adapter.fetch_image(
                RemoteImage(remote_id=image.remote_id, src=image.src, version=image.version)
            )
        except Retryable:
            raise
        except IntegrationError as exc:
            log.warning("original %s of product %s could not be backed up: %s",
                        image.remote_id, product.pk, exc.message)
            continue
        if not data:
            continue
        name, digest = media_save_original(
            store_id=product.store_id, data=data, extension=original_extension(image.remote_id)
        )
        source.file.name = name
        source.content_hash = digest
        source.save(update_fields=["file", "content_hash"])
        stored += 1
    return stored
