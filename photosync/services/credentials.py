"""A store's credentials at rest: encrypted JSON on the store row, read and written only here."""

from __future__ import annotations

from photosync.crypto import decrypt_json, encrypt_json
from photosync.models import Store


def store_credentials_set(*, store: Store, credentials: dict) -> None:
    store.credentials_encrypted = encrypt_json(credentials)
    store.save(update_fields=["credentials_encrypted", "updated_at"])


def store_credentials_get(*, store: Store) -> dict:
    return decrypt_json(store.credentials_encrypted)
