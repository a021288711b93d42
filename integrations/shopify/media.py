"""Our media on a Shopify product: how we recognise them, and the calls that write them
(staged upload, find after attach, reorder, detach or delete).

"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from integrations.base import MediaStatus, NewImage
from integrations.errors import Invalid, Retryable, Unavailable
from integrations.shopify import files
from integrations.shopify import queries as q

if TYPE_CHECKING:
    from integrations.addresses import AddressPolicy
    from integrations.shopify.graphql import ShopifyClient

MARKER_RE = re.compile(r"(?:^|/)photosync-([0-9a-f]{16})(?:_[0-9a-f-]+)?\.[a-z0-9]+$")
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def marker_of(media: dict) -> str:
    """The content-hash prefix in one of our media's file names, or ""."""
    for url in urls_of(media):
        match = MARKER_RE.search(urlsplit(url).path)
        if match:
            return match.group(1)
    return ""


def urls_of(media: dict) -> list[str]:
    return [u for u in ((media.get("image") or {}).get("url"),
                        (media.get("originalSource") or {}).get("url")) if u]


class MediaCalls:
    """The media mutations of ShopifyAdapter (its `client`, `api_origin` and gallery read)."""

    client: ShopifyClient
    api_origin: str
    policy: AddressPolicy

    def _product_and_gallery(self, gid: str) -> tuple[dict, list[dict]]:
        raise NotImplementedError

    def _stage(self, filename: str, image: NewImage) -> str:
        staged = self.client.execute(q.STAGED_UPLOADS_CREATE, {"input": [{
            "resource": "IMAGE", "filename": filename, "mimeType": image.content_type,
            "httpMethod": "POST", "fileSize": str(len(image.data)),
        }]})["stagedUploadsCreate"]
        raise_user_errors(staged, "prepare the upload")
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

    def _remove(self, gid: str, media: dict) -> None:
        """Take one of our media off the product: detach it when READY (fileUpdate), delete
        the file otherwise (fileUpdate refuses files that are not READY: NON_READY_STATE)."""
        if media.get("status") == "READY":
            payload = self.client.execute(
                q.FILE_UPDATE, {"files": [{"id": media["id"], "referencesToRemove": [gid]}]}
            )["fileUpdate"]
            self._file_errors(payload, "detach the image")
            return
        payload = self.client.execute(q.FILE_DELETE, {"ids": [media["id"]]})["fileDelete"]
        self._file_errors(payload, "take the image off the product")

    @staticmethod
    def _file_errors(payload: dict, doing: str) -> None:
        errors = [e for e in payload.get("userErrors") or []
                  if e.get("code") != "FILE_DOES_NOT_EXIST"]  # already gone: done
        if not errors:
            return
        if {e.get("code") for e in errors} & {"NON_READY_STATE", "FILE_LOCKED"}:
            raise Retryable(f"Shopify is still processing the image and cannot {doing} "
                            "until it has finished.", retry_after=2.0)
        raise Invalid(f"Shopify refused to {doing}: {errors[0].get('message')}")

    def _failure_reason(self, media_id: str) -> str:
        node = self.client.execute(q.MEDIA_STATUS, {"id": media_id})["node"] or {}
        errors = node.get("mediaErrors") or []
        reason = (errors[0].get("message") or errors[0].get("code")) if errors else ""
        return reason or "Shopify could not process the image"

    def _reorder(self, gid: str, moves: list[tuple[str, int]]) -> None:
        payload = self.client.execute(q.PRODUCT_REORDER_MEDIA, {
            "id": gid, "moves": [{"id": mid, "newPosition": str(pos)} for mid, pos in moves],
        })["productReorderMedia"]
        errors = payload.get("mediaUserErrors") or []
        if errors:
            raise Invalid(f"Shopify refused to reorder the images: {errors[0].get('message')}")


def gallery_state(gallery: list[dict]) -> dict:
    """What rollback needs: the merchant's media in order (position 0 is featured), alt."""
    media = [{"id": m["id"], "alt": m.get("alt") or ""} for m in gallery]
    return {"media": media, "featured": media[0]["id"] if media else None}


def media_status(media: dict) -> MediaStatus:
    status = media.get("status")
    if status == "READY":
        return MediaStatus.LIVE
    if status == "FAILED":
        return MediaStatus.FAILED
    return MediaStatus.PROCESSING


def raise_user_errors(payload: dict, doing: str) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        raise Invalid(f"Shopify refused to {doing}: {errors[0].get('message')}")


def extension_for(image: NewImage) -> str:
    suffix = PurePosixPath(image.filename).suffix.lower()
    if re.fullmatch(r"\.[a-z0-9]{2,5}", suffix):
        return suffix
    return _EXTENSIONS.get(image.content_type, ".png")
