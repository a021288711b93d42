"""Files we keep: merchants' originals and generated images, under unguessable names."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_save(*, folder: str, data: bytes, extension: str) -> str:
    """Store bytes under `folder/<random>.<ext>` and return the storage name.

    The random part makes URLs unguessable: stores download our media from public URLs.
    """
    if not extension.startswith("."):
        extension = "." + extension
    name = f"{folder.strip('/')}/{secrets.token_urlsafe(24)}{extension.lower()}"
    return default_storage.save(name, ContentFile(data))


def media_public_url(name: str) -> str:
    return f"{settings.PHOTOSYNC_PUBLIC_URL}{settings.MEDIA_URL}{name}"


def media_delete(names: list[str]) -> None:
    for name in names:
        if name:
            default_storage.delete(name)
