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


def original_extension(name: str) -> str:
    """The file extension an original is kept under (from its store name; `.img` if none)."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return "." + suffix if suffix.isalnum() and len(suffix) <= 5 else ".img"


def media_save_original(*, store_id: int, data: bytes, extension: str) -> tuple[str, str]:
    """Back up a merchant's original, content-addressed; return (storage name, sha256).

    The same bytes are stored once per store however often they are seen, and an original,
    once stored, is never overwritten or deleted by processing or pushing.
    """
    digest = content_hash(data)
    name = f"originals/{store_id}/{digest[:2]}/{digest}{extension.lower()}"
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent writer won the race with the same bytes
            default_storage.delete(saved)
    return name, digest


def media_public_url(name: str) -> str:
    return f"{settings.PHOTOSYNC_PUBLIC_URL}{settings.MEDIA_URL}{name}"


def media_delete(names: list[str]) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def media_delete_tree(prefix: str) -> int:
    """Delete every file under the storage folder `prefix` (and the folders); return the count.

    Works through the storage API, so it covers the local filesystem and object storage alike.
    """
    prefix = prefix.strip("/")
    if not prefix or ".." in prefix.split("/"):
        raise ValueError(f"refusing to delete the storage folder {prefix!r}")
    deleted = 0
    try:
        folders, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for folder in folders:
        deleted += media_delete_tree(f"{prefix}/{folder}")
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
        deleted += 1
    try:
        default_storage.delete(prefix)  # the emptied folder (filesystem storage)
    except OSError:
        pass
    return deleted
