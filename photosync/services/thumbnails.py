"""Thumbnails at display size, made once and cached in storage, and signed links to originals.

Generated images live under unguessable names, so their thumbnails are public like them.
Originals are private: pages get expiring signed links, which work inside the store admin's
iframe where no cookie is sent.
"""

from __future__ import annotations

import io

from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image, ImageOps, UnidentifiedImageError

SIZES = (160, 320, 640)
ORIGINAL_LINK_MAX_AGE = 6 * 3600
_SALT = "photosync.original-link"
_MASK_SALT = "photosync.mask-link"
OVERLAY_TINT = (215, 44, 13, 0)  # the editor shows what is backdrop in Polaris critical red


class ThumbnailError(Exception):
    """The stored file is not a picture Pillow can read (a broken or truncated original);
    the message says so, for the merchant."""


def thumbnail_name(*, name: str, size: int) -> str:
    """The storage name of `name`'s thumbnail, created on first use."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}")
    thumb = f"thumbs/{size}/{name.rsplit('.', 1)[0]}.webp"
    if not default_storage.exists(thumb):
        try:
            with default_storage.open(name, "rb") as fh:
                image = ImageOps.exif_transpose(Image.open(fh))
                image.thumbnail((size, size), Image.Resampling.LANCZOS)
                if image.mode not in ("RGB", "RGBA"):
                    image = image.convert("RGBA")
                out = io.BytesIO()
                image.save(out, "WEBP", quality=82, method=4)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            # Pillow says "cannot identify image file", "image file is truncated", or
            # raises SyntaxError for a broken PNG chunk: the file cannot be shown.
            raise ThumbnailError(
                "This file is not a picture that can be shown (it may be damaged or "
                f"truncated): {type(exc).__name__}.") from exc
        saved = default_storage.save(thumb, ContentFile(out.getvalue()))
        if saved != thumb:  # another request made it meanwhile
            default_storage.delete(saved)
    return thumb


def generated_thumb_url(*, name: str, size: int = 320) -> str:
    return reverse("thumb", kwargs={"size": size, "path": name})


def original_link(*, source_id: int, size: int | None = None) -> str:
    """An expiring link to an original (or its thumbnail) that needs no cookie."""
    token = signing.dumps({"s": source_id, "z": size}, salt=_SALT, compress=True)
    return reverse("original", kwargs={"token": token})


def mask_link(*, image_id: int, overlay: bool = False) -> str:
    """An expiring link to the mask an output was made from (PNG, the photo's size): the mask
    itself, or with ``overlay`` the touch-up editor's layer (backdrop tinted, product clear).
    Masks are not public: they outline the merchant's unpublished photo."""
    token = signing.dumps({"i": image_id, "o": int(overlay)}, salt=_MASK_SALT, compress=True)
    return reverse("mask", kwargs={"token": token})


def mask_link_open(token: str) -> tuple[int, bool]:
    """Return (image id, overlay) of a valid link; raise signing.BadSignature otherwise."""
    data = signing.loads(token, salt=_MASK_SALT, max_age=ORIGINAL_LINK_MAX_AGE)
    return int(data["i"]), bool(data.get("o"))


def mask_overlay(data: bytes) -> bytes:
    """The editor's layer for an L-mode mask PNG: RGBA, the backdrop (alpha 0 in the mask)
    opaque in the tint, the product transparent, soft edges in between."""
    with Image.open(io.BytesIO(data)) as mask:
        alpha = ImageOps.invert(mask.convert("L"))
    layer = Image.new("RGBA", alpha.size, OVERLAY_TINT)
    layer.putalpha(alpha)
    out = io.BytesIO()
    layer.save(out, "PNG", compress_level=1)
    return out.getvalue()


def original_link_open(token: str) -> tuple[int, int | None]:
    """Return (source id, size) of a valid link; raise signing.BadSignature otherwise."""
    data = signing.loads(token, salt=_SALT, max_age=ORIGINAL_LINK_MAX_AGE)
    return int(data["s"]), data.get("z")
