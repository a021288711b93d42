"""The Shopify store adapter: products and media through the Admin GraphQL API.

Our own media are recognisable by their file name, `photosync-<first 16 hex of the content
hash>.<ext>` (Shopify keeps an uploaded file's name, adding a suffix on a clash), which is
what makes a push idempotent: before attaching, the product's gallery is read and a media
carrying the same marker is returned instead of a second one. The app also records the media
ids it created (Push.remote_id), so an echo of our own push never looks like new input; the
marker is a second guard for the moment between attaching and recording.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from integrations.base import NewImage, PushResult, RemoteImage, RemoteProduct
from integrations.errors import AuthRevoked, Invalid, NotFound, Throttled, Unavailable
from integrations.shopify import files
from integrations.shopify import queries as q
from integrations.shopify.graphql import ShopifyClient
from integrations.shopify.transport import Endpoint
from integrations.shopify.webhooks import parse_timestamp

log = logging.getLogger(__name__)

MARKER_RE = re.compile(r"(?:^|/)photosync-([0-9a-f]{16})(?:_[0-9a-f-]+)?\.[a-z0-9]+$")
PAGE_SIZE = 20  # products per page with media(first: 10): ~660 requested points of 1,000
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


@dataclass(frozen=True)
class BulkStatus:
    status: str  # CREATED RUNNING COMPLETED FAILED CANCELED EXPIRED ...
    url: str = ""
    error: str = ""


def product_gid(remote_id: str) -> str:
    """Accept a gid or a bare numeric id (as webhooks' `id`); always answer the gid."""
    remote_id = str(remote_id).strip()
    if remote_id.isdigit():
        return f"gid://shopify/Product/{remote_id}"
    if not remote_id.startswith("gid://shopify/Product/"):
        raise Invalid(f"{remote_id!r} is not a Shopify product id.")
    return remote_id


def marker_of(media: dict) -> str:
    """The content-hash prefix in one of our media's file names, or ""."""
    for url in _urls(media):
        match = MARKER_RE.search(urlsplit(url).path)
        if match:
            return match.group(1)
    return ""


def _urls(media: dict) -> list[str]:
    return [u for u in ((media.get("image") or {}).get("url"),
                        (media.get("originalSource") or {}).get("url")) if u]


class ShopifyAdapter:
    platform = "shopify"

    def __init__(
        self,
        *,
        shop: str,
        access_token: str,
        api_version: str,
        api_origin: str = "",
        max_image_bytes: int = 40 * 1024 * 1024,
        allowed_networks: tuple[str, ...] = (),
        download_deadline: float = 60.0,
        client: ShopifyClient | None = None,
    ) -> None:
        self.shop = shop
        self.api_origin = api_origin
        self.max_image_bytes = max_image_bytes
        self.download_deadline = download_deadline
        self.client = client or ShopifyClient(
            endpoint=Endpoint(shop=shop, api_version=api_version, api_origin=api_origin,
                              allowed_networks=tuple(allowed_networks)),
            access_token=access_token,
        )
        self.policy = self.client.endpoint.policy

    def shop_domain(self) -> str:
        """The shop our token opens (a cheap query). AuthRevoked (401) when Shopify no longer
        accepts the token: the app was uninstalled, which revokes every token at once."""
        return str(self.client.execute(q.SHOP)["shop"]["myshopifyDomain"])

    def get_product(self, remote_id: str) -> RemoteProduct:
        gid = product_gid(remote_id)
        product, media = self._product_and_gallery(gid)
        return self._remote(product, media)

    def iter_products(self, *, updated_since: datetime | None = None) -> Iterator[RemoteProduct]:
        """Products changed after `updated_since` (all when None), oldest change first.

        The caller subtracts its overlap window from its watermark (products updated in the
        same second as the watermark may be read twice; processing is idempotent)."""
        search = None
        if updated_since is not None:
            search = f"updated_at:>'{updated_since.isoformat().replace('+00:00', 'Z')}'"
        after = None
        while True:
            page = self.client.execute(
                q.PRODUCTS_PAGE, {"first": PAGE_SIZE, "after": after, "query": search}
            )["products"]
            for node in page["nodes"]:
                media = node["media"]
                if media["pageInfo"]["hasNextPage"]:
                    yield self.get_product(node["id"])  # more than a page of media
                else:
                    yield self._remote(node, media["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def fetch_image(self, image: RemoteImage) -> bytes:
        """Download a merchant image from Shopify's CDN (https, CDN hosts only, size-capped)."""
        return files.download(image.src, max_bytes=self.max_image_bytes,
                              allow_http_origin=self.api_origin, policy=self.policy,
                              deadline=self.download_deadline)

    def bulk_start(self) -> str:
        """Start a bulk query over every product and its media; return the operation id."""
        payload = self.client.execute(q.BULK_OPERATION_RUN_QUERY,
                                      {"query": q.BULK_PRODUCTS.text})["bulkOperationRunQuery"]
        errors = payload.get("userErrors") or []
        if errors:
            codes = {e.get("code") for e in errors}
            if codes & {"OPERATION_IN_PROGRESS", "LIMIT_REACHED"}:
                raise Throttled("Shopify is already running bulk operations for this store.",
                                retry_after=60)
            raise Invalid(f"Shopify refused the bulk query: {errors[0].get('message')}")
        return payload["bulkOperation"]["id"]

    def bulk_status(self, operation_id: str) -> BulkStatus:
        op = self.client.execute(q.BULK_OPERATION, {"id": operation_id})["bulkOperation"]
        if op is None:
            raise NotFound("The bulk operation is gone (results expire after 7 days).")
        return BulkStatus(status=op["status"], url=op.get("url") or "",
                          error=op.get("errorCode") or "")

    def iter_bulk_products(self, url: str) -> Iterator[RemoteProduct]:
        """Stream a bulk result (JSONL) into products without loading the file whole.

        With `groupObjects: true` each product's media lines follow the product's own line,
        so a product is complete when the next product (or the end) arrives."""
        product: dict | None = None
        media: list[dict] = []
        for line in _lines(files.stream(url, allowed_hosts=files.BULK_RESULT_HOSTS,
                                        allow_http_origin=self.api_origin,
                                        policy=self.policy)):
            row = json.loads(line)
            if row.get("__parentId"):
                if product is not None and row["__parentId"] == product["id"]:
                    media.append(row)
                continue
            if product is not None:
                yield self._remote(product, media)
            product, media = row, []
        if product is not None:
            yield self._remote(product, media)

    def push_image(self, product_remote_id: str, image: NewImage) -> PushResult:
        """staged upload → attach with alt → (featured: reorder to first); "processing".

        Idempotent by content hash: a media of ours with the same hash is returned as is."""
        gid = product_gid(product_remote_id)
        marker = image.content_hash[:16]
        _, gallery = self._product_and_gallery(gid)
        previous = _gallery_state(gallery)
        for media in list(gallery):
            if marker_of(media) == marker and media.get("status") == "FAILED":
                # Asked again after Shopify failed it: take the failed one off, upload anew.
                self._detach(gid, media["id"])
                gallery.remove(media)
                previous = _gallery_state(gallery)
        for media in gallery:
            if marker_of(media) == marker:
                previous = _gallery_state([m for m in gallery if m["id"] != media["id"]])
                if image.featured and gallery[0]["id"] != media["id"]:
                    self._reorder(gid, [(media["id"], 0)])
                return PushResult(remote_id=media["id"], status=_push_state(media),
                                  previous_state=previous)
        unknown = [m for m in gallery if not _urls(m) and m.get("status") in
                   ("UPLOADED", "PROCESSING")]
        if unknown:
            # A media Shopify is still processing that we cannot identify yet may be ours
            # from an attempt whose answer was lost: wait until its file name shows.
            raise Unavailable("Shopify is still processing media on this product; "
                              "the push continues in a moment.")
        filename = f"photosync-{marker}{_extension(image)}"
        resource_url = self._stage(filename, image)
        attached = self.client.execute(q.PRODUCT_MEDIA_ATTACH, {
            "product": {"id": gid},
            "media": [{"originalSource": resource_url, "mediaContentType": "IMAGE",
                       "alt": image.alt}],
        })["productUpdate"]
        _raise_user_errors(attached, "attach the image")
        if attached.get("product") is None:
            raise NotFound("The product was deleted in Shopify.")
        ours = self._find_ours(gid, attached["product"]["media"]["nodes"], marker, previous)
        if image.featured:
            self._reorder(gid, [(ours, 0)])
        return PushResult(remote_id=ours, status="processing", previous_state=previous)

    def push_status(self, product_remote_id: str, remote_id: str) -> str:
        node = self.client.execute(q.MEDIA_STATUS, {"id": remote_id})["node"]
        if not node:
            return "failed: the image was removed in Shopify"
        return _push_state(node)

    def rollback(self, product_remote_id: str, remote_id: str, previous_state: dict) -> None:
        """Detach our media from the product and put the merchant's order back."""
        gid = product_gid(product_remote_id)
        self._detach(gid, remote_id)
        _, gallery = self._product_and_gallery(gid)
        current = [m["id"] for m in gallery]
        wanted = [m["id"] for m in previous_state.get("media", []) if m["id"] in current]
        if current[: len(wanted)] != wanted:
            self._reorder(gid, list(zip(wanted, range(len(wanted)), strict=True)))

    def _product_and_gallery(self, gid: str) -> tuple[dict, list[dict]]:
        media: list[dict] = []
        after = None
        while True:
            product = self.client.execute(q.PRODUCT, {"id": gid, "after": after})["product"]
            if product is None:
                raise NotFound("The product was deleted in Shopify.")
            media.extend(product["media"]["nodes"])
            info = product["media"]["pageInfo"]
            if not info["hasNextPage"]:
                return product, media
            after = info["endCursor"]

    def _remote(self, product: dict, media: list[dict]) -> RemoteProduct:
        images = []
        for position, item in enumerate(media):
            url = (item.get("image") or {}).get("url")
            if item.get("status") != "READY" or not url or marker_of(item):
                continue  # not processed yet (a later update brings it), or one of ours
            images.append(RemoteImage(
                remote_id=item["id"], src=url, position=position, alt=item.get("alt") or "",
                version=url, width=(item.get("image") or {}).get("width"),
                height=(item.get("image") or {}).get("height"),
            ))
        return RemoteProduct(
            remote_id=product["id"],
            title=product.get("title") or "",
            product_type=product.get("productType") or "",
            updated_at=parse_timestamp(product.get("updatedAt") or ""),
            images=tuple(images),
            status=str(product.get("status") or "ACTIVE").lower(),
        )

    def _stage(self, filename: str, image: NewImage) -> str:
        staged = self.client.execute(q.STAGED_UPLOADS_CREATE, {"input": [{
            "resource": "IMAGE", "filename": filename, "mimeType": image.content_type,
            "httpMethod": "POST", "fileSize": str(len(image.data)),
        }]})["stagedUploadsCreate"]
        _raise_user_errors(staged, "prepare the upload")
        target = (staged.get("stagedTargets") or [None])[0]
        if not target or not target.get("url") or not target.get("resourceUrl"):
            raise Unavailable("Shopify returned no upload target; retrying later.")
        files.staged_upload(
            url=target["url"],
            parameters=[(p["name"], p["value"]) for p in target.get("parameters") or []],
            filename=filename, data=image.data, content_type=image.content_type,
            method="POST", allow_http_origin=self.api_origin, policy=self.policy,
        )
        return target["resourceUrl"]

    def _find_ours(self, gid: str, returned: list[dict], marker: str, previous: dict) -> str:
        before = {m["id"] for m in previous["media"]}
        for candidates in (returned, None):
            if candidates is None:
                _, candidates = self._product_and_gallery(gid)
            for media in candidates:
                if marker_of(media) == marker:
                    return media["id"]
            new = [m["id"] for m in candidates if m["id"] not in before]
            if len(new) == 1:
                return new[0]
        raise Unavailable("Shopify accepted the image but has not listed it yet; "
                          "the push is checked again shortly.")

    def _detach(self, gid: str, media_id: str) -> None:
        payload = self.client.execute(
            q.FILE_UPDATE, {"files": [{"id": media_id, "referencesToRemove": [gid]}]}
        )["fileUpdate"]
        errors = [e for e in payload.get("userErrors") or []
                  if e.get("code") != "FILE_DOES_NOT_EXIST"]
        if errors:
            raise Invalid(f"Shopify refused to detach the image: {errors[0].get('message')}")

    def _reorder(self, gid: str, moves: list[tuple[str, int]]) -> None:
        payload = self.client.execute(q.PRODUCT_REORDER_MEDIA, {
            "id": gid, "moves": [{"id": mid, "newPosition": str(pos)} for mid, pos in moves],
        })["productReorderMedia"]
        errors = payload.get("mediaUserErrors") or []
        if errors:
            raise Invalid(f"Shopify refused to reorder the images: {errors[0].get('message')}")


def _gallery_state(gallery: list[dict]) -> dict:
    """What rollback needs: the merchant's media in order (position 0 is featured), alt."""
    media = [{"id": m["id"], "alt": m.get("alt") or ""} for m in gallery]
    return {"media": media, "featured": media[0]["id"] if media else None}


def _push_state(media: dict) -> str:
    status = media.get("status")
    if status == "READY":
        return "live"
    if status == "FAILED":
        errors = media.get("mediaErrors") or []
        reason = (errors[0].get("message") or errors[0].get("code")) if errors else ""
        return f"failed: {reason or 'Shopify could not process the image'}"
    return "processing"


def _raise_user_errors(payload: dict, doing: str) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        raise Invalid(f"Shopify refused to {doing}: {errors[0].get('message')}")


def _extension(image: NewImage) -> str:
    suffix = PurePosixPath(image.filename).suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{2,5}", suffix):
        return suffix
    return _EXTENSIONS.get(image.content_type, ".png")


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        yield from (line for line in complete if line.strip())
    if buffer.strip():
        yield buffer


def build(*, domain: str, credentials: dict, settings: dict) -> ShopifyAdapter:
    """The registry's factory. `credentials` hold the offline access token (the app refreshes
    expiring ones before building); `settings` the API version, the emulator origin in
    tests, and the image size cap."""
    token = credentials.get("access_token", "")
    if not isinstance(token, str):
        raise AuthRevoked("The stored Shopify credentials are unreadable; reconnect the app.")
    return ShopifyAdapter(
        shop=domain,
        access_token=token,
        api_version=str(settings.get("api_version") or "2026-10"),
        api_origin=str(settings.get("api_origin") or ""),
        max_image_bytes=int(settings.get("max_image_bytes") or 40 * 1024 * 1024),
        allowed_networks=tuple(settings.get("allowed_networks") or ()),
        download_deadline=float(settings.get("download_deadline") or 60.0),
    )
