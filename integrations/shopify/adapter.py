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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from integrations.base import (
    MediaStatus,
    NewImage,
    PushResult,
    PushState,
    RemoteImage,
    RemoteProduct,
    gallery_moved,
    gallery_without,
)
from integrations.errors import (
    AuthRevoked,
    Invalid,
    NotFound,
    ProductGone,
    Retryable,
    Throttled,
)
from integrations.shopify import files
from integrations.shopify import queries as q
from integrations.shopify.graphql import ShopifyClient
from integrations.shopify.media import (
    MediaCalls,
    extension_for,
    gallery_state,
    marker_of,
    media_status,
    raise_user_errors,
    urls_of,
)
from integrations.shopify.transport import Endpoint
from integrations.shopify.variants import VariantCalls, variant_field
from integrations.shopify.webhooks import parse_timestamp

log = logging.getLogger(__name__)

PAGE_SIZE = 20  # products per page with media(first: 10): ~660 requested points of 1,000
# Ids per PRODUCTS_BY_ID call: 1 + 25 × 33 = 826 requested points of 1,000 where Shopify
# charges `nodes` per id (Shopify takes at most 250 ids in any input list). A call takes no
# more ids than the bucket holds points for now (at least one): at the plan's limit a burst
# is read in smaller calls at once rather than in large ones that wait for the bucket.
IDS_PER_CALL = 25
POINTS_PER_ID = 33  # a product with media(first: 10): 1 + (2 + 10 × 3)


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


class ShopifyAdapter(VariantCalls, MediaCalls):
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

    def fetch_products(self, remote_ids: list[str]) -> dict[str, RemoteProduct | None]:
        """Re-read many products by id, IDS_PER_CALL to a call (`nodes(ids:)`); None for one
        Shopify no longer has (a null node: what a single read raises ProductGone for). One
        id is the single read itself. Keys are the ids as given."""
        gids = {remote_id: product_gid(remote_id) for remote_id in remote_ids}
        if len(gids) == 1:
            (remote_id, gid), = gids.items()
            try:
                return {remote_id: self.get_product(gid)}
            except ProductGone:
                return {remote_id: None}
        found: dict[str, RemoteProduct | None] = {}
        unique = list(dict.fromkeys(gids.values()))
        while unique:
            fits = int((self.client.budget.available_now() - 1) // POINTS_PER_ID)
            size = max(1, min(IDS_PER_CALL, fits))
            chunk, unique = unique[:size], unique[size:]
            nodes = self.client.execute(q.PRODUCTS_BY_ID, {"ids": chunk},
                                        cost=1 + POINTS_PER_ID * len(chunk))["nodes"]
            for gid, node in zip(chunk, nodes, strict=True):
                if not node or node.get("id") != gid:
                    found[gid] = None
                elif node["media"]["pageInfo"]["hasNextPage"]:
                    try:  # more than a page of media: read it whole
                        found[gid] = self.get_product(gid)
                    except ProductGone:
                        found[gid] = None
                else:
                    found[gid] = self._remote(node, node["media"]["nodes"])
        return {remote_id: found[gid] for remote_id, gid in gids.items()}

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
        """staged upload → attach with alt → (featured: reorder to first); PROCESSING.

        Idempotent by content hash: a media of ours with the same hash is returned as is,
        except a FAILED one, which is deleted (the only call Shopify accepts for a file that
        is not READY) and uploaded anew. For a variant's target the media each variant shows
        now is kept too (rollback gives it back); the variants get ours once it is READY
        (`update_image`, from the read-back)."""
        gid, variants = self._split(product_remote_id)
        marker = image.content_hash[:16]
        _, gallery = self._product_and_gallery(gid)
        for media in [m for m in gallery if marker_of(m) == marker]:
            if media.get("status") == "FAILED":
                self._remove(gid, media)
                gallery.remove(media)
            else:
                before = gallery_state([m for m in gallery if m["id"] != media["id"]])
                if variants:
                    before["variant_media"] = self._variants_before(gid, variants, media["id"])
                return PushResult(remote_id=media["id"], status=media_status(media),
                                  previous_state=before)
        previous = gallery_state(gallery)
        if variants:
            previous["variant_media"] = self._variants_before(gid, variants, "")
        unknown = [m for m in gallery if not urls_of(m) and m.get("status") in
                   ("UPLOADED", "PROCESSING")]
        if unknown:
            # A media Shopify is still processing that we cannot identify yet may be ours
            # from an attempt whose answer was lost: wait until its file name shows.
            raise Retryable("Shopify is still processing media on this product; "
                            "the push continues in a moment.", retry_after=2.0)
        filename = f"photosync-{marker}{extension_for(image)}"
        resource_url = self._stage(filename, image)
        attached = self.client.execute(q.PRODUCT_MEDIA_ATTACH, {
            "product": {"id": gid},
            "media": [{"originalSource": resource_url, "mediaContentType": "IMAGE",
                       "alt": image.alt}],
        })["productUpdate"]
        raise_user_errors(attached, "attach the image")
        if attached.get("product") is None:
            raise ProductGone("The product was deleted in Shopify.")
        ours = self._find_ours(gid, attached["product"]["media"]["nodes"], marker, previous)
        if image.featured:
            self._reorder(gid, [(ours, 0)])
        return PushResult(remote_id=ours, status=MediaStatus.PROCESSING,
                          previous_state=previous)

    def push_status(self, product_remote_id: str, remote_id: str) -> PushState:
        """Read the gallery back (ids, alt, status only); for a FAILED media, ask why. For a
        variant's target, whether every one of those variants shows our media."""
        gid, variants = self._split(product_remote_id)
        gallery = self._media_states(gid)
        ids = [m["id"] for m in gallery]
        if remote_id not in ids:
            return PushState(MediaStatus.MISSING, reason="the image is not on the product")
        media = gallery[ids.index(remote_id)]
        status = media_status(media)
        reason = self._failure_reason(remote_id) if status is MediaStatus.FAILED else ""
        on_variant = None
        if variants:
            on_variant = status is MediaStatus.LIVE and self._on_variants(gid, variants,
                                                                         remote_id)
        return PushState(status, reason=reason, alt=media.get("alt") or "",
                         featured=ids[0] == remote_id, count=len(ids), on_variant=on_variant)

    def update_image(self, product_remote_id: str, remote_id: str, *, alt: str | None = None,
                     featured: bool | None = None) -> None:
        """Alt text through fileUpdate (Shopify refuses it until the file is READY); the
        featured choice through productReorderMedia (position 0 is featured); for a variant's
        target, the variants are given our media (productVariantAppendMedia: READY only)."""
        gid, variants = self._split(product_remote_id)
        if alt is not None:
            payload = self.client.execute(
                q.FILE_UPDATE, {"files": [{"id": remote_id, "alt": alt}]})["fileUpdate"]
            self._file_errors(payload, "change the alt text")
        if featured is not None:
            ids = [m["id"] for m in self._media_states(gid)]
            if remote_id not in ids:
                raise NotFound("The image is no longer on the product in Shopify.")
            wanted = gallery_moved(ids, remote_id, featured=featured)
            if wanted != ids:
                self._reorder(gid, [(remote_id, wanted.index(remote_id))])
        if variants:
            self._variants_attach(gid, variants, remote_id)

    def rollback(self, product_remote_id: str, remote_id: str, previous_state: dict) -> None:
        """Take our media off the product (detach a READY one, delete one that is not READY,
        which fileUpdate refuses); the merchant's order stays, and only when ours is featured
        now does the image featured before the push come first again. A variant's target:
        ours leaves the variants first, and each gets back the media it showed before."""
        gid, variants = self._split(product_remote_id)
        gallery = self._media_states(gid)
        ids = [m["id"] for m in gallery]
        if remote_id not in ids:
            return
        if variants:
            self._variants_release(gid, variants, remote_id, previous_state)
        target = gallery_without(ids, remote_id, previous_state.get("featured"))
        self._remove(gid, gallery[ids.index(remote_id)])
        rest = [i for i in ids if i != remote_id]
        if target and target[0] != rest[0]:
            self._reorder(gid, [(target[0], 0)])

    def _media_states(self, gid: str) -> list[dict]:
        media: list[dict] = []
        after = None
        while True:
            product = self.client.execute(q.PRODUCT_MEDIA_STATES,
                                          {"id": gid, "after": after})["product"]
            if product is None:
                raise ProductGone("The product was deleted in Shopify.")
            media.extend(product["media"]["nodes"])
            if not product["media"]["pageInfo"]["hasNextPage"]:
                return media
            after = product["media"]["pageInfo"]["endCursor"]

    def _product_and_gallery(self, gid: str) -> tuple[dict, list[dict]]:
        media: list[dict] = []
        after = None
        while True:
            product = self.client.execute(q.PRODUCT, {"id": gid, "after": after})["product"]
            if product is None:
                raise ProductGone("The product was deleted in Shopify.")
            media.extend(product["media"]["nodes"])
            info = product["media"]["pageInfo"]
            if not info["hasNextPage"]:
                return product, media
            after = info["endCursor"]

    def _remote(self, product: dict, media: list[dict]) -> RemoteProduct:
        """The merchant's READY media, each tied to the variants that show it (if any)."""
        by_media = self._media_variants(product)
        images = []
        for position, item in enumerate(media):
            url = (item.get("image") or {}).get("url")
            if item.get("status") != "READY" or not url or marker_of(item):
                continue  # not processed yet (a later update brings it), or one of ours
            images.append(RemoteImage(
                remote_id=item["id"], src=url, position=position, alt=item.get("alt") or "",
                version=url, width=(item.get("image") or {}).get("width"),
                height=(item.get("image") or {}).get("height"),
                variant_id=variant_field(by_media.get(item["id"], [])),
            ))
        return RemoteProduct(
            remote_id=product["id"],
            title=product.get("title") or "",
            product_type=product.get("productType") or "",
            updated_at=parse_timestamp(product.get("updatedAt") or ""),
            images=tuple(images),
            status=str(product.get("status") or "ACTIVE").lower(),
        )



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
