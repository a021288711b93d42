"""The StoreAdapter protocol and the dataclasses that cross the adapter boundary.

The app speaks only these types; vendor dictionaries never leave an adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from integrations.errors import ProductGone


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
    # Set for a variant's (WooCommerce: a variation's) own image: its outputs go back there.
    variant_id: str = ""


def variant_target(product_remote_id: str, variant_id: str) -> str:
    """The push target of a variant's image: what adapters receive as `product_remote_id`
    when the image belongs to a variant rather than to the product's gallery."""
    return f"{product_remote_id}/variants/{variant_id}" if variant_id else product_remote_id


def split_target(target: str) -> tuple[str, str]:
    """(product id, variant id or "") of a push target (see variant_target)."""
    product, sep, variant = str(target).partition("/variants/")
    return product, variant if sep else ""


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


class MediaStatus(StrEnum):
    """What the store shows for one of our images."""

    LIVE = "live"  # on the product, processed
    PROCESSING = "processing"  # accepted; the store is still processing the media
    FAILED = "failed"  # the store could not process it (`PushState.reason` says why)
    MISSING = "missing"  # not on the product (removed there, or a write was lost)


@dataclass(frozen=True)
class PushResult:
    remote_id: str
    status: MediaStatus  # LIVE or PROCESSING
    previous_state: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PushState:
    """One of our images as the store shows it now (read back from the product).

    `featured`: it is the product's featured image (on Shopify and WooCommerce: first in the
    gallery); `count`: how many images the gallery has."""

    status: MediaStatus
    reason: str = ""  # the store's own words for FAILED / MISSING
    alt: str = ""
    featured: bool = False
    count: int = 0
    # For a variant's push target: whether the variant shows our image (None: not a variant).
    on_variant: bool | None = None


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

    def fetch_products(self, remote_ids: list[str]) -> dict[str, RemoteProduct | None]:
        """Re-read many products at once (as few calls as the store allows), keyed by the ids
        given; None for a product the store no longer has (what get_product raises
        ProductGone for). One id is exactly the single read. A failed call raises, for the
        whole batch."""
        ...

    def fetch_image(self, image: RemoteImage) -> bytes:
        """Return the image's bytes."""
        ...

    def push_image(self, product_remote_id: str, image: NewImage) -> PushResult:
        """Add an approved image to the product, idempotent by `image.content_hash`."""
        ...

    def push_status(self, product_remote_id: str, remote_id: str) -> PushState:
        """Read the product back: where our image is, with which alt text, in which state."""
        ...

    def update_image(self, product_remote_id: str, remote_id: str, *, alt: str | None = None,
                     featured: bool | None = None) -> None:
        """Change one of our images already on the product: its alt text (None: leave it),
        and whether it is the featured image (True: first; False: after the others; None:
        leave its position). Raise Retryable while the store cannot change it yet."""
        ...

    def rollback(self, product_remote_id: str, remote_id: str, previous_state: dict) -> None:
        """Take our image off the product, whatever state the store has it in, and keep
        everything else as it is now; only where ours is the featured image now does the
        image that was featured before the push (previous_state) become featured again.
        Taking off an image that is already gone is a no-op."""
        ...


def fetch_each(adapter: StoreAdapter, remote_ids: list[str]) -> dict[str, RemoteProduct | None]:
    """`fetch_products` for a store without a batch read: one get_product per id."""
    out: dict[str, RemoteProduct | None] = {}
    for remote_id in remote_ids:
        try:
            out[remote_id] = adapter.get_product(remote_id)
        except ProductGone:
            out[remote_id] = None
    return out


def gallery_without(current: list, ours, previous_featured) -> list:
    """The gallery a rollback leaves (ids in order): `current` without `ours`, everything
    else in the order it has now; only when `ours` is first (featured) does the image that
    was featured before the push, if it is still there, move back to the front."""
    remaining = [i for i in current if i != ours]
    if current[:1] == [ours] and previous_featured in remaining:
        remaining.remove(previous_featured)
        remaining.insert(0, previous_featured)
    return remaining


def gallery_moved(current: list, ours, *, featured: bool) -> list:
    """The gallery with `ours` first (featured) or after every other image (not featured)."""
    rest = [i for i in current if i != ours]
    return [ours, *rest] if featured else [*rest, ours]
