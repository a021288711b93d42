"""WooCommerce products and images as the REST API shows them: our marker, the gallery, ids.

Shared by the adapter and its variations (pure functions, no I/O)."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from integrations.base import NewImage, RemoteImage, RemoteProduct
from integrations.errors import Invalid
from integrations.woocommerce.webhooks import parse_gmt

MARKER = "photosync-"


def marker_name(image: NewImage) -> str:
    """The attachment title we give our images: readable, and recognisable as ours."""
    stem = PurePosixPath(image.filename).stem or "image"
    return f"{stem} ({MARKER}{image.content_hash[:16]})"


def is_ours(name: str) -> bool:
    start = name.rfind(f"({MARKER}")
    if start < 0 or not name.endswith(")"):
        return False
    tag = name[start + len(MARKER) + 1 : -1]
    return len(tag) == 16 and all(c in "0123456789abcdef" for c in tag)


def _find_ours(gallery: list[dict], image: NewImage) -> dict | None:
    tag = f"({MARKER}{image.content_hash[:16]})"
    token = _url_token(image.public_url)
    for entry in gallery:
        if tag in str(entry.get("name") or ""):
            return entry
        if token and token in _url_token(str(entry.get("src") or "")):
            return entry
    return None


def _url_token(url: str) -> str:
    """The distinctive part of a file name in a URL, as WordPress keeps it (it trims
    `.-_` at the ends and may add `-1`, `-scaled` after the stem)."""
    name = PurePosixPath(unquote(urlsplit(url).path)).stem
    return name.strip(".-_").lower() if len(name) >= 16 else ""


def _only_new(after: list[dict], before: list[dict]) -> dict | None:
    known = {g["id"] for g in before}
    new = [g for g in after if g["id"] not in known]
    return new[0] if len(new) == 1 else None


def _gallery(raw: dict) -> list[dict]:
    images = raw.get("images") or []
    return [img for img in images if isinstance(img, dict) and isinstance(img.get("id"), int)]


def _product_all(raw: dict) -> tuple[RemoteImage, ...]:
    """Every image of the gallery, ours included (to tell variation images apart)."""
    return tuple(RemoteImage(remote_id=str(img["id"]), src="") for img in _gallery(raw))


def _product(raw: dict) -> RemoteProduct:
    images = tuple(
        RemoteImage(
            remote_id=str(img["id"]),
            src=str(img.get("src") or ""),
            position=position,
            alt=str(img.get("alt") or ""),
            version=str(img.get("src") or ""),
        )
        for position, img in enumerate(_gallery(raw))
        if not is_ours(str(img.get("name") or ""))
    )
    categories = [
        str(c.get("name")) for c in raw.get("categories") or [] if isinstance(c, dict)
    ]
    parent = raw.get("parent_id")
    return RemoteProduct(
        remote_id=str(raw["id"]),
        title=str(raw.get("name") or ""),
        product_type=", ".join(sorted(categories)),
        updated_at=parse_gmt(raw.get("date_modified_gmt")),
        images=images,
        status="active" if raw.get("status", "publish") == "publish" else str(raw.get("status")),
        parent_id=str(parent) if isinstance(parent, int) and parent > 0 else None,
    )


def _numeric(remote_id: str) -> int:
    text = str(remote_id).strip()
    if not text.isdigit() or int(text) <= 0:
        raise Invalid(f"{remote_id!r} is not a WooCommerce product id.")
    return int(text)
