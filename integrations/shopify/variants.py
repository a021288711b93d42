"""Shopify variant media: which of a product's media each variant shows, and the calls that
tie our media to variants and take it off them again.

A variant shows at most one of its product's media (productVariantAppendMedia refuses a
second: PRODUCT_VARIANT_ALREADY_HAS_MEDIA, and media that are not READY: NON_READY_MEDIA).
A merchant's media shown by variants is a source tied to them (`RemoteImage.variant_id`: the
variants' numeric ids, comma-separated); an approved output of it goes on the product as any
other (the gallery rules hold) and then, once READY, replaces the merchant's media on those
variants. The media each variant showed before is kept in the push's previous state, and
rollback gives it back to the variants before our media leaves the product.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from integrations.base import split_target
from integrations.errors import Invalid, NotFound, Retryable
from integrations.shopify import queries as q

if TYPE_CHECKING:
    from integrations.shopify.graphql import ShopifyClient

log = logging.getLogger(__name__)
VARIANT_ID_MAX = 255  # SourceImage.variant_id
_VARIANT = "gid://shopify/ProductVariant/"


def variant_gids(variant_ids: str) -> list[str]:
    """The variant gids of a push target's variant part ("11,12" or gids)."""
    out = []
    for part in filter(None, (p.strip() for p in str(variant_ids).split(","))):
        if part.isdigit():
            out.append(_VARIANT + part)
        elif part.startswith(_VARIANT) and part[len(_VARIANT):].isdigit():
            out.append(part)
        else:
            raise Invalid(f"{part!r} is not a Shopify variant id.")
    return out


def variant_field(gids: list[str]) -> str:
    """The variants as a source records them: numeric ids, comma-separated, as many as fit."""
    out = ""
    for gid in gids:
        number = gid.rsplit("/", 1)[-1]
        joined = f"{out},{number}" if out else number
        if len(joined) > VARIANT_ID_MAX:
            log.warning("a photo shown by %d variants is tied to the first %d only (the "
                        "source's variant field holds %d characters)", len(gids),
                        out.count(",") + 1, VARIANT_ID_MAX)
            break
        out = joined
    return out


class VariantCalls:
    """The variant reads and writes of ShopifyAdapter (its `client`)."""

    client: ShopifyClient

    def _split(self, target: str) -> tuple[str, list[str]]:
        from integrations.shopify.adapter import product_gid

        product, variants = split_target(target)
        return product_gid(product), variant_gids(variants)

    def _variant_media(self, gid: str) -> dict[str, list[str]]:
        """Each variant of the product (gid) and the media ids it shows."""
        found: dict[str, list[str]] = {}
        after = None
        while True:
            product = self.client.execute(q.PRODUCT_VARIANT_MEDIA,
                                          {"id": gid, "after": after})["product"]
            if product is None:
                return found
            page = product["variants"]
            for node in page["nodes"]:
                found[node["id"]] = [m["id"] for m in node["media"]["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    def _media_variants(self, product: dict) -> dict[str, list[str]]:
        """media id → the variants (gids) showing it; nothing to read for a product
        without options."""
        if product.get("hasOnlyDefaultVariant", True):
            return {}
        by_media: dict[str, list[str]] = {}
        for variant, media in self._variant_media(product["id"]).items():
            for media_id in media:
                by_media.setdefault(media_id, []).append(variant)
        return by_media

    def _variants_before(self, gid: str, variants: list[str], ours: str) -> dict:
        """What rollback gives back: the media each target variant shows now (not ours)."""
        current = self._variant_media(gid)
        return {v: [m for m in current.get(v, []) if m != ours] for v in variants}

    def _on_variants(self, gid: str, variants: list[str], remote_id: str) -> bool:
        current = self._variant_media(gid)
        return all(current.get(v) == [remote_id] for v in variants)

    def _variants_attach(self, gid: str, variants: list[str], remote_id: str) -> None:
        """Our (READY) media becomes what the variants show: theirs is detached first (a
        variant shows one media), then ours appended."""
        current = self._variant_media(gid)
        missing = [v for v in variants if v not in current]
        if missing:
            raise NotFound("The variant is no longer on the product in Shopify.")
        detach = [{"variantId": v, "mediaIds": [m for m in current[v] if m != remote_id]}
                  for v in variants if any(m != remote_id for m in current[v])]
        if detach:
            self._variant_call(q.PRODUCT_VARIANT_DETACH_MEDIA, "productVariantDetachMedia",
                               gid, detach, "take the variant's image off it")
        append = [{"variantId": v, "mediaIds": [remote_id]} for v in variants
                  if remote_id not in current[v]]
        if append:
            self._variant_call(q.PRODUCT_VARIANT_APPEND_MEDIA, "productVariantAppendMedia",
                               gid, append, "give the variant the image")

    def _variants_release(self, gid: str, variants: list[str], remote_id: str,
                          previous_state: dict) -> None:
        """Rollback's first step: our media off the variants, and each variant's media
        before the push back on it where that media is still on the product."""
        current = self._variant_media(gid)
        showing = [v for v in variants if remote_id in current.get(v, [])]
        if showing:
            self._variant_call(q.PRODUCT_VARIANT_DETACH_MEDIA, "productVariantDetachMedia",
                               gid, [{"variantId": v, "mediaIds": [remote_id]} for v in showing],
                               "take the image off the variant")
        before = previous_state.get("variant_media") or {}
        on_product = {m["id"] for m in self._media_states(gid)}
        give_back = [{"variantId": v, "mediaIds": before[v][:1]} for v in showing
                     if before.get(v) and before[v][0] in on_product
                     and not [m for m in current.get(v, []) if m != remote_id]]
        if give_back:
            self._variant_call(q.PRODUCT_VARIANT_APPEND_MEDIA, "productVariantAppendMedia",
                               gid, give_back, "give the variant its image back")

    def _media_states(self, gid: str) -> list[dict]:
        raise NotImplementedError

    def _variant_call(self, document, field: str, gid: str, pairs: list[dict],
                      doing: str) -> None:
        payload = self.client.execute(document, {"productId": gid,
                                                 "variantMedia": pairs})[field]
        errors = [e for e in payload.get("userErrors") or [] if e.get("code") not in (
            "MEDIA_IS_NOT_ATTACHED_TO_VARIANT",)]  # a detach done already
        if not errors:
            return
        codes = {e.get("code") for e in errors}
        if codes & {"NON_READY_MEDIA", "MEDIA_CANNOT_BE_MODIFIED",
                    "PRODUCT_VARIANT_ALREADY_HAS_MEDIA"}:
            raise Retryable(f"Shopify cannot {doing} yet ({errors[0].get('message')}); "
                            "PhotoSync tries again in a moment.", retry_after=2.0)
        if codes & {"PRODUCT_VARIANT_DOES_NOT_EXIST_ON_PRODUCT", "MEDIA_DOES_NOT_EXIST_ON_PRODUCT",
                    "MEDIA_DOES_NOT_EXIST", "PRODUCT_DOES_NOT_EXIST"}:
            raise NotFound(f"Shopify could not {doing}: {errors[0].get('message')}")
        raise Invalid(f"Shopify refused to {doing}: {errors[0].get('message')}")
