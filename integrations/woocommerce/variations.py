"""WooCommerce variations: their own images are sources, and outputs go back to them.

A variation (`/products/<id>/variations/<vid>`) has one `image`, not a gallery: pushing an
output of a variation's image replaces that image with ours (the one before is kept, and
rollback puts it back), and the parent product's gallery is not touched. A push target names
the variation (`integrations.base.variant_target`). An image that is also in the parent's
gallery is the gallery's photo; one that several variations share belongs to the first.
"""

from __future__ import annotations

from dataclasses import replace

from integrations.base import (
    MediaStatus,
    NewImage,
    PushResult,
    PushState,
    RemoteImage,
    RemoteProduct,
)
from integrations.errors import NotFound, Unavailable
from integrations.woocommerce.client import OutcomeUnknown, WooClient
from integrations.woocommerce.images import (
    _find_ours,
    _numeric,
    _product,
    _product_all,
    is_ours,
    marker_name,
)


class Variations:
    client: WooClient
    unknown_retry_after: float

    def _remote(self, raw: dict) -> RemoteProduct:
        """The product with its variations' own images (a variable product): each is a
        source whose outputs go back to that variation. An image that is also in the
        gallery is the gallery's; one several variations share belongs to the first."""
        product = _product(raw)
        if raw.get("type") != "variable" or not raw.get("variations"):
            return product
        seen = {img.remote_id for img in _product_all(raw)}
        extra: list[RemoteImage] = []
        for page in self.client.pages(f"products/{raw['id']}/variations", {"per_page": 100}):
            for variation in page:
                image = variation.get("image") if isinstance(variation, dict) else None
                if not isinstance(image, dict) or not isinstance(image.get("id"), int) \
                        or str(image["id"]) in seen or is_ours(str(image.get("name") or "")):
                    continue
                seen.add(str(image["id"]))
                extra.append(RemoteImage(
                    remote_id=str(image["id"]), src=str(image.get("src") or ""),
                    position=len(product.images) + len(extra),
                    alt=str(image.get("alt") or ""), version=str(image.get("src") or ""),
                    variant_id=str(variation["id"])))
        return replace(product, images=(*product.images, *extra))

    def _variation_image(self, product_id: str, variation_id: str) -> dict | None:
        raw = self.client.get(
            f"products/{_numeric(product_id)}/variations/{_numeric(variation_id)}").data
        image = raw.get("image") if isinstance(raw, dict) else None
        return image if isinstance(image, dict) and isinstance(image.get("id"), int) else None

    def _variation_put(self, product_id, variation_id, image: dict) -> dict | None:
        """PUT the variation's `image` ({id} keeps an attachment, {src} sideloads one,
        {id: 0} clears it); a lost answer is settled by reading the variation again."""
        path = f"products/{_numeric(str(product_id))}/variations/{_numeric(str(variation_id))}"
        try:
            reply = self.client.put(path, {"image": image}, slow=True)
        except OutcomeUnknown:
            return self._variation_image(str(product_id), str(variation_id))
        data = reply.data.get("image") if isinstance(reply.data, dict) else None
        return data if isinstance(data, dict) else None

    def _variation_push(self, pid: int, vid: int, image: NewImage) -> PushResult:
        """A variation has one image: ours replaces it (the one before is kept for
        rollback); the parent's gallery is not touched."""
        current = self._variation_image(str(pid), str(vid))
        if current is not None and _find_ours([current], image):
            return PushResult(str(current["id"]), MediaStatus.LIVE, {})
        previous = {"variation_image_id": current["id"] if current else None}
        new: dict = {"src": image.public_url, "name": marker_name(image)}
        if image.alt:
            new["alt"] = image.alt
        after = self._variation_put(pid, vid, new)
        if after is None or not _find_ours([after], image):
            after = self._variation_image(str(pid), str(vid))
        if after is None or not _find_ours([after], image):
            raise Unavailable("The store did not show the variation's new image yet; "
                              "PhotoSync will look again before sending it once more.",
                              retry_after=self.unknown_retry_after)
        return PushResult(str(after["id"]), MediaStatus.LIVE, previous)

    def _variation_status(self, product_id: str, variation_id: str, remote_id: str
                          ) -> PushState:
        image = self._variation_image(product_id, variation_id)
        if image is None or str(image["id"]) != str(remote_id):
            return PushState(MediaStatus.MISSING,
                             reason="the image is no longer the variation's image")
        return PushState(MediaStatus.LIVE, alt=str(image.get("alt") or ""), featured=True,
                         count=1, on_variant=True)

    def _variation_update(self, product_id: str, variation_id: str, remote_id: str, *,
                          alt: str | None) -> None:
        current = self._variation_image(product_id, variation_id)
        if current is None or str(current["id"]) != str(remote_id):
            raise NotFound("The image is no longer the variation's image in WooCommerce.")
        if alt:
            self._variation_put(product_id, variation_id, {"id": current["id"], "alt": alt})

    def _variation_rollback(self, product_id: str, variation_id: str, remote_id: str,
                            previous_state: dict) -> None:
        current = self._variation_image(product_id, variation_id)
        if current is not None and str(current["id"]) == str(remote_id):
            before = previous_state.get("variation_image_id")
            self._variation_put(product_id, variation_id, {"id": int(before or 0)})

