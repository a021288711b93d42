"""Variants in the emulator: their media in product reads, and the two mutations that tie a
product's media to a variant, with the userErrors (MediaUserErrorCode) the schema documents.

A variant's media is one of its product's media, READY, and at most one per variant: Shopify
answers NON_READY_MEDIA, MEDIA_DOES_NOT_EXIST_ON_PRODUCT, PRODUCT_VARIANT_ALREADY_HAS_MEDIA,
TOO_MANY_MEDIA_PER_INPUT_PAIR ... and then applies nothing of the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulators.shopify import state as st

if TYPE_CHECKING:
    from emulators.shopify.server import ShopifyEmulator

MAX_PAIRS = 100


def _error(field: list[str], code: str, message: str) -> dict:
    return {"field": field, "code": code, "message": message}


class VariantResolvers:
    """Mixed into resolvers.Root (its `shop`, `emu`, `clock`, `product_obj`, `media_obj`)."""

    emu: ShopifyEmulator
    shop: st.Shop
    clock: float
    unbounded: bool

    def product_obj(self, product: st.Product) -> dict:
        raise NotImplementedError

    def media_obj(self, media: st.Media) -> dict:
        raise NotImplementedError

    def variant_obj(self, product: st.Product, variant: st.Variant) -> dict:
        from emulators.shopify.resolvers import connection

        def media(info, first=None, last=None, after=None, **_):
            found = [self.media_obj(self.shop.media[i]) for i in variant.media_ids
                     if i in self.shop.media]
            return connection(found, first, last, after, self.unbounded)

        return {"__typename": "ProductVariant", "id": st.gid("ProductVariant", variant.id),
                "title": variant.title, "displayName": f"{product.title} - {variant.title}",
                "media": media, "product": lambda info, **_: self.product_obj(product)}

    def variants_of(self, product: st.Product):
        from emulators.shopify.resolvers import connection

        def variants(info, first=None, last=None, after=None, **_):
            found = [self.variant_obj(product, v) for v in product.variants]
            return connection(found, first, last, after, self.unbounded)

        return variants

    def r_productVariant(self, info, id):
        found = self._variant(id)
        return self.variant_obj(*found) if found else None

    def _variant(self, variant_gid: str) -> tuple[st.Product, st.Variant] | None:
        if "/ProductVariant/" not in str(variant_gid):
            return None
        number = st.gid_number(variant_gid)
        for product in self.shop.products.values():
            for variant in product.variants:
                if variant.id == number:
                    return product, variant
        return None

    def _pairs(self, productId, variantMedia, *, append: bool):
        """The product and [(variant, media ids)] of a request, or the userErrors."""
        product = self.shop.products.get(st.gid_number(productId)) \
            if "/Product/" in str(productId) else None
        if product is None:
            return None, [], [_error(["productId"], "PRODUCT_DOES_NOT_EXIST",
                                     "Product does not exist")]
        if len(variantMedia) > MAX_PAIRS:
            return product, [], [_error(["variantMedia"], "MAXIMUM_VARIANT_MEDIA_PAIRS_EXCEEDED",
                                        "Exceeded the maximum number of 100 variant-media "
                                        "pairs per mutation call.")]
        errors, pairs, seen = [], [], set()
        by_id = {v.id: v for v in product.variants}
        for n, pair in enumerate(variantMedia):
            at = ["variantMedia", str(n)]
            variant = by_id.get(st.gid_number(pair["variantId"])) \
                if "/ProductVariant/" in pair["variantId"] else None
            if variant is None:
                errors.append(_error([*at, "variantId"],
                                     "PRODUCT_VARIANT_DOES_NOT_EXIST_ON_PRODUCT",
                                     "Variant does not exist on the given product."))
                continue
            if variant.id in seen:
                errors.append(_error([*at, "variantId"],
                                     "PRODUCT_VARIANT_SPECIFIED_MULTIPLE_TIMES",
                                     "Variant specified in more than one pair."))
                continue
            seen.add(variant.id)
            ids = [st.gid_number(m) if "/MediaImage/" in m else -1 for m in pair["mediaIds"]]
            if append and len(ids) > 1:
                errors.append(_error([*at, "mediaIds"], "TOO_MANY_MEDIA_PER_INPUT_PAIR",
                                     "Only one mediaId is allowed per variant-media input pair."))
                continue
            for media_id in ids:
                media = self.shop.media.get(media_id)
                if media is None:
                    errors.append(_error([*at, "mediaIds"], "MEDIA_DOES_NOT_EXIST",
                                         "Media does not exist."))
                elif media_id not in product.media_ids:
                    errors.append(_error([*at, "mediaIds"], "MEDIA_DOES_NOT_EXIST_ON_PRODUCT",
                                         "Media does not exist on the given product."))
                elif append and media.status(self.clock) != "READY":
                    errors.append(_error([*at, "mediaIds"], "NON_READY_MEDIA",
                                         "Non-ready media are not supported."))
                elif append and variant.media_ids:
                    errors.append(_error([*at, "variantId"], "PRODUCT_VARIANT_ALREADY_HAS_MEDIA",
                                         "Product variant already has attached media."))
                elif not append and media_id not in variant.media_ids:
                    errors.append(_error([*at, "mediaIds"], "MEDIA_IS_NOT_ATTACHED_TO_VARIANT",
                                         "The specified media is not attached to the "
                                         "specified variant."))
            pairs.append((variant, ids))
        return product, pairs, errors

    def _variant_payload(self, product, pairs, errors) -> dict:
        if errors or product is None:
            return {"product": None, "productVariants": None, "userErrors": errors}
        product.updated_at = st.now_iso()
        self.emu.notify(self.shop.domain, "products/update", product.id)
        return {"product": self.product_obj(product),
                "productVariants": [self.variant_obj(product, v) for v, _ in pairs],
                "userErrors": []}

    def r_productVariantAppendMedia(self, info, productId, variantMedia):
        product, pairs, errors = self._pairs(productId, variantMedia, append=True)
        if not errors:
            for variant, ids in pairs:
                variant.media_ids.extend(ids)
        return self._variant_payload(product, pairs, errors)

    def r_productVariantDetachMedia(self, info, productId, variantMedia):
        product, pairs, errors = self._pairs(productId, variantMedia, append=False)
        if not errors:
            for variant, ids in pairs:
                variant.media_ids = [i for i in variant.media_ids if i not in ids]
        return self._variant_payload(product, pairs, errors)
