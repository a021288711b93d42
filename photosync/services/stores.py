"""Stores: building the adapter for a store, connecting a folder, uninstalling and erasing.

Credentials at rest live in services.credentials, staff accounts in services.staff.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from integrations.base import StoreAdapter
from integrations.registry import build_adapter
from photosync.models import (
    GeneratedImage,
    GenerationJob,
    Platform,
    Push,
    SourceImage,
    Store,
    WebhookEvent,
    WooCommerceAuthRequest,
)
from photosync.services.credentials import store_credentials_get
from photosync.services.media import media_delete, media_delete_tree
from photosync.services.shopify.auth import shopify_credentials_fresh
from photosync.services.staff import store_staff_delete
from photosync.services.thumbnails import SIZES

log = logging.getLogger(__name__)

# The storage folders a store's files live under (by store id), and their thumbnails'.
STORE_MEDIA = ("originals", "sources", "generated", "masks")


def store_adapter(*, store: Store) -> StoreAdapter:
    credentials = store_credentials_get(store=store)
    if store.platform == Platform.SHOPIFY:
        credentials = shopify_credentials_fresh(store=store, credentials=credentials)
    return build_adapter(
        store.platform,
        domain=store.domain,
        credentials=credentials,
        settings={**store.settings, **adapter_options(platform=store.platform)},
    )


def adapter_options(*, platform: str) -> dict:
    """Process-wide options for a platform's adapter (timeouts, network policy, download
    limits), from settings; they win over a store's own settings."""
    options = getattr(django_settings, "PHOTOSYNC_ADAPTER_OPTIONS", {}) or {}
    common = {
        "allowed_networks": list(django_settings.PHOTOSYNC_ALLOWED_NETWORKS),
        "download_deadline": django_settings.PHOTOSYNC_DOWNLOAD_DEADLINE,
        "max_image_bytes": django_settings.PHOTOSYNC_MAX_IMAGE_BYTES,
    }
    if platform == Platform.SHOPIFY:  # read per call: tests point SHOPIFY_API_ORIGIN elsewhere
        return {
            **common,
            "api_version": django_settings.SHOPIFY_API_VERSION,
            "api_origin": django_settings.SHOPIFY_API_ORIGIN,
            **options.get(platform, {}),
        }
    return {**common, **options.get(platform, {})}


@transaction.atomic
def store_connect_local(*, path: str | Path, name: str = "", settings: dict | None = None) -> Store:
    """Register a folder as a store (idempotent: the same folder is the same store)."""
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    store, created = Store.objects.get_or_create(
        platform=Platform.LOCAL,
        domain=str(folder),
        defaults={"name": name or folder.name, "settings": settings or {}},
    )
    if not created and store.status != Store.Status.ACTIVE:
        store.status = Store.Status.ACTIVE
        store.save(update_fields=["status", "updated_at"])
    return store


def store_uninstall(*, store: Store, reason: str = "The app was uninstalled.") -> None:
    """The merchant removed the app: mark the store uninstalled, drop its credentials and
    cancel its queued work. The platform has already revoked every token: nothing remote is
    called. Outputs and history stay until the platform asks for erasure (shop/redact).
    """
    with transaction.atomic():
        Store.objects.filter(pk=store.pk).update(
            status=Store.Status.UNINSTALLED, credentials_encrypted=b"", updated_at=timezone.now()
        )
        GenerationJob.objects.filter(
            store=store, status__in=[GenerationJob.Status.QUEUED, GenerationJob.Status.HELD]
        ).update(status=GenerationJob.Status.CANCELLED, error=reason, finished_at=timezone.now())
        Push.objects.filter(
            store=store, status__in=[Push.Status.QUEUED, Push.Status.UPLOADING]
        ).update(status=Push.Status.FAILED, error=reason, updated_at=timezone.now())
    store.status = Store.Status.UNINSTALLED
    store.credentials_encrypted = b""


def store_redact(*, store: Store) -> dict[str, int]:
    """Erase everything held for a store: its rows (cascading from the store), its staff
    accounts, its webhook records, and its files and their folders, which go once the rows
    are gone for good.

    Nothing stays readable: the credentials are overwritten before the rows are deleted
    (SQLite also zeroes deleted content, `secure_delete`: photosync.database), and on SQLite
    the write-ahead log, which still holds the old pages, is checkpointed and truncated.
    Returns counts by kind, for the audit log line.
    """
    with transaction.atomic():
        store = Store.objects.select_for_update().get(pk=store.pk)
        names = list(
            SourceImage.objects.filter(product__store=store)
            .exclude(file="")
            .values_list("file", flat=True)
        )
        names += list(
            GeneratedImage.objects.filter(product__store=store).values_list("file", flat=True)
        )
        counts = {"files": len(names), "staff": store_staff_delete(store=store)}
        WebhookEvent.objects.filter(platform=store.platform, shop_domain=store.domain).delete()
        Store.objects.filter(pk=store.pk).update(credentials_encrypted=b"")
        requests = WooCommerceAuthRequest.objects.filter(store=store)
        requests.update(credentials_encrypted=b"")
        requests.delete()
        store_pk = store.pk
        _, deleted = store.delete()
        counts["rows"] = sum(deleted.values())

        def delete_files() -> None:
            media_delete(names)
            # Also anything else under the store's folders (an interrupted job's output, the
            # thumbnails of its originals), the folders themselves included.
            for folder in store_media_folders(store_pk=store_pk):
                media_delete_tree(folder)
            _sqlite_log_truncate()

        transaction.on_commit(delete_files)
    return counts


def store_media_folders(*, store_pk: int) -> list[str]:
    """Every storage folder that holds files of the store."""
    folders = [f"{kind}/{store_pk}" for kind in STORE_MEDIA]
    return folders + [f"thumbs/{size}/{folder}" for size in SIZES for folder in folders]


def _sqlite_log_truncate() -> None:
    """Write the erased pages into the database file and empty the write-ahead log, where the
    pages as they were before the erasure would otherwise stay until overwritten."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return  # inside a transaction (a test's) SQLite cannot checkpoint
    try:
        with connection.cursor() as cursor:
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except DatabaseError:
        busy = 1
    if busy:
        log.warning("the SQLite log could not be truncated after an erasure (a reader held "
                    "it); the next checkpoint overwrites it")
