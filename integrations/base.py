"""The StoreAdapter protocol and the dataclasses that cross the adapter boundary.

The app speaks only these types; vendor dictionaries never leave an adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class RemoteImage:
    remote_id: str
    src: str  # where the adapter fetches the bytes from (URL or path)
    position: int = 0
    alt: str = ""
    # Changes whenever the image's content may have changed (CDN URL, file size+mtime).
    version: str = ""
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class RemoteProduct:
    remote_id: str
    title: str = ""
    product_type: str = ""
    updated_at: datetime | None = None
    images: tuple[RemoteImage, ...] = ()
    status: str = "active"
    parent_id: str | None = None  # set for variations; processing maps them to the parent


@dataclass(frozen=True)
class NewImage:
    """An approved image on its way to a store."""

    data: bytes
    filename: str  # ends in the right extension
    content_type: str
    content_hash: str
    alt: str = ""
    featured: bool = False
    public_url: str = ""  # for stores that download media themselves (WooCommerce)


@dataclass(frozen=True)
class PushResult:
    remote_id: str
    status: str  # "live" or "processing" (the store is still working on it)
    previous_state: dict = field(default_factory=dict)


@runtime_checkable
class StoreAdapter(Protocol):
    """What every store (Shopify, WooCommerce, a local folder) offers the app."""

    platform: str

    def iter_products(self, *, updated_since: datetime | None = None) -> Iterator[RemoteProduct]:
        """Yield products changed since the given time (all of them when None)."""
        ...

    def get_product(self, remote_id: str) -> RemoteProduct:
        """Re-read one product; raise NotFound when it is gone."""
        ...

    def fetch_image(self, image: RemoteImage) -> bytes:
        """Return the image's bytes."""
        ...

    def push_image(self, product_remote_id: str, image: NewImage) -> PushResult:
        """Add an approved image to the product, idempotent by `image.content_hash`."""
        ...

    def push_status(self, product_remote_id: str, remote_id: str) -> str:
        """Return "live", "processing" or "failed: <reason>" for an earlier push."""
        ...

    def rollback(self, product_remote_id: str, remote_id: str, previous_state: dict) -> None:
        """Remove our image and restore the gallery recorded in previous_state."""
        ...
