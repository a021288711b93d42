"""The emulator's in-memory shops: products, media, files, staged uploads, bulk operations,
tokens. Time-based state (media processing, bulk operations) is derived from a clock on
read, so nothing needs a background thread except webhook delivery.
"""

from __future__ import annotations

import io
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

ID_BASE = 7_300_000_000_000  # Shopify ids are large; keep them realistic


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str) -> int:
    try:
        return int(str(value).rsplit("/", 1)[-1])
    except ValueError:
        return -1


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Media:
    id: int
    filename: str
    data: bytes
    content_type: str
    alt: str = ""
    created: float = field(default_factory=time.monotonic)
    ready_at: float = 0.0  # monotonic time from which it is READY (or FAILED)
    processing_at: float = 0.0
    error: str = ""  # MediaErrorCode when processing fails
    width: int | None = None
    height: int | None = None
    version: int = field(default_factory=lambda: int(time.time()))
    product_ids: list[int] = field(default_factory=list)

    def status(self, clock: float) -> str:
        if clock >= self.ready_at:
            return "FAILED" if self.error else "READY"
        if clock >= self.processing_at:
            return "PROCESSING"
        return "UPLOADED"


@dataclass
class Variant:
    """A product variant; `media_ids` holds at most one of the product's media (Shopify
    refuses a second: PRODUCT_VARIANT_ALREADY_HAS_MEDIA)."""

    id: int
    title: str = "Default Title"
    media_ids: list[int] = field(default_factory=list)


@dataclass
class Product:
    id: int
    title: str
    product_type: str = ""
    status: str = "ACTIVE"
    updated_at: str = field(default_factory=now_iso)
    media_ids: list[int] = field(default_factory=list)
    # Every product has at least one variant; a product without options has only the default.
    variants: list[Variant] = field(default_factory=list)

    def has_only_default_variant(self) -> bool:
        return len(self.variants) <= 1 and all(v.title == "Default Title" for v in self.variants)

    def media_gone(self, media_id: int) -> None:
        """A media left the product: it leaves the product's variants too."""
        if media_id in self.media_ids:
            self.media_ids.remove(media_id)
        for variant in self.variants:
            if media_id in variant.media_ids:
                variant.media_ids.remove(media_id)


@dataclass
class StagedUpload:
    key: str
    filename: str
    mime_type: str
    method: str
    signature: str
    data: bytes | None = None


@dataclass
class BulkOperation:
    id: int
    query: str
    created: float
    done_at: float
    lines: bytes = b""
    object_count: int = 0
    root_count: int = 0
    notified: bool = False

    def status(self, clock: float) -> str:
        return "COMPLETED" if clock >= self.done_at else "RUNNING"


@dataclass
class Bucket:
    """Shopify's leaky bucket for one (app, shop)."""

    maximum: float
    restore_rate: float
    available: float
    at: float = field(default_factory=time.monotonic)

    def refill(self, clock: float) -> None:
        self.available = min(self.maximum, self.available + (clock - self.at) * self.restore_rate)
        self.at = clock


@dataclass
class Shop:
    domain: str
    bucket: Bucket
    products: dict[int, Product] = field(default_factory=dict)
    media: dict[int, Media] = field(default_factory=dict)
    bulk: dict[int, BulkOperation] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def name(self) -> str:
        return self.domain.split(".", 1)[0]

    def filename_taken(self, filename: str) -> bool:
        return any(m.filename == filename for m in self.media.values())


class Ids:
    def __init__(self) -> None:
        self._counter = itertools.count(ID_BASE + 1)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._counter)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height when `data` is an image Shopify would accept, else None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
            return img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def unique_filename(shop: Shop, filename: str) -> str:
    """Shopify keeps a file's name, adding a suffix when the shop already has one like it."""
    if not shop.filename_taken(filename):
        return filename
    stem, dot, ext = filename.rpartition(".")
    suffix = secrets.token_hex(4)
    return f"{stem}_{suffix}{dot}{ext}" if dot else f"{filename}_{suffix}"
