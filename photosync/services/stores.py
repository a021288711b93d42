"""Stores: connecting, credentials at rest, and building the adapter for a store."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from integrations.base import StoreAdapter
from integrations.registry import build_adapter
from photosync.crypto import decrypt_json, encrypt_json
from photosync.models import Platform, Store


def store_credentials_set(*, store: Store, credentials: dict) -> None:
    store.credentials_encrypted = encrypt_json(credentials)
    store.save(update_fields=["credentials_encrypted", "updated_at"])


def store_credentials_get(*, store: Store) -> dict:
    return decrypt_json(store.credentials_encrypted)


def store_adapter(*, store: Store) -> StoreAdapter:
    return build_adapter(
        store.platform,
        domain=store.domain,
        credentials=store_credentials_get(store=store),
        settings=store.settings,
    )


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
