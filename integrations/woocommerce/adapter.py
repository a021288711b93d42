"""WooCommerce as a StoreAdapter.

What the platform makes us do (see docs/platform.md, section 2):

- `PUT /products/<id>` with `images` *replaces* the gallery (`[]` deletes every image), so a
  push re-reads the product and sends every existing `{id}` plus the new `{src, alt, name}`,
  first only when the merchant chose it as featured. `src` is PhotoSync's public media URL:
  the store downloads it during the request, which can take long.
- A PUT that got no answer may still have been applied. It is never retried blindly: the
  product is re-read and our image looked for (by the marker in its title and the name of the
  file we sent); only when it is certainly absent may a later attempt PUT again.
- Our images carry a marker in their attachment title (`photosync-<content hash prefix>`).
  They are left out of `RemoteProduct.images`, so the `product.updated` echo of a push never
  looks like new merchant input, even before the push's attachment id is recorded.
- Rollback takes only our image out and keeps the gallery as it is now (the merchant's
  later additions, order and featured choice); only when ours is the featured image now does
  the image featured before the push come first again.
- The app serialises writes to one product (a lease), so each read-modify-write PUT sees
  the gallery the previous one left; after every write it reads the product back.
- `alt` in a PUT is applied only when not empty (WooCommerce's `! empty( $image['alt'] )`):
  an alt text cannot be cleared through the REST API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from integrations.addresses import AddressPolicy, url_check
from integrations.base import (
    MediaStatus,
    NewImage,
    PushResult,
    PushState,
    RemoteImage,
    RemoteProduct,
    gallery_moved,
    gallery_without,
    split_target,
)
from integrations.errors import AuthRevoked, Invalid, NotFound, ProductGone, Unavailable
from integrations.woocommerce.client import MAX_PER_PAGE, OutcomeUnknown, WooClient, download
from integrations.woocommerce.images import (
    _find_ours,
    _gallery,
    _numeric,
    _only_new,
    marker_name,
)
from integrations.woocommerce.variations import Variations
from integrations.woocommerce.webhooks import SUBSCRIBED_TOPICS

SIDELOAD_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
PLUGIN_SETTINGS_GROUP = "photosync"
# What catalog scans ask for (WordPress's `_fields`): descriptions can be megabytes.
FIELDS = "id,name,type,status,parent_id,date_modified_gmt,categories,images,variations"


@dataclass
class WebhookHealth:
    """What a webhook check found and did, by topic."""

    healthy: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # duplicate webhooks of ours, deleted

    @property
    def changed(self) -> bool:
        return bool(self.reactivated or self.created or self.removed)


class WooCommerceAdapter(Variations):
    platform = "woocommerce"

    def __init__(self, *, domain: str, credentials: dict, settings: dict | None = None) -> None:
        options = settings or {}
        key, secret = credentials.get("consumer_key"), credentials.get("consumer_secret")
        if not key or not secret:
            raise AuthRevoked("This store has no API key; connect it again.")
        self.domain = domain.rstrip("/")
        self.allowed = AddressPolicy.of(options.get("allowed_networks") or ()).allowed
        self.policy = AddressPolicy(self.allowed)
        self.download_deadline = float(options.get("download_deadline") or 60.0)
        self.max_image_bytes = int(options.get("max_image_bytes") or 40 * 1024 * 1024)
        self.overlap = timedelta(seconds=float(options.get("overlap_seconds", 120)))
        self.rereads = int(options.get("unknown_outcome_rereads", 3))
        self.reread_interval = float(options.get("unknown_outcome_reread_interval", 10.0))
        self.unknown_retry_after = float(options.get("unknown_outcome_retry_after", 600.0))
        self.client = WooClient(
            self.domain,
            key,
            secret,
            timeout=float(options.get("timeout", 30.0)),
            slow_timeout=float(options.get("push_timeout", 180.0)),
            throttle_wait_max=float(options.get("throttle_wait_max", 10.0)),
            policy=self.policy,
        )

    def iter_products(self, *, updated_since: datetime | None = None) -> Iterator[RemoteProduct]:
        """Products in id order; with `updated_since`, those modified after it minus the
        overlap window (`modified_after` is exclusive and store clocks are not ours)."""
        params: dict = {"per_page": 100, "orderby": "id", "order": "asc", "_fields": FIELDS}
        if updated_since is not None:
            since = (updated_since - self.overlap).astimezone(UTC).replace(tzinfo=None)
            params["modified_after"] = since.isoformat(timespec="seconds")
            params["dates_are_gmt"] = "true"
        for page in self.client.pages("products", params):
            for raw in page:
                yield self._remote(raw)

    def get_product(self, remote_id: str) -> RemoteProduct:
        """Re-read one product; a variation id reads its parent."""
        return self._remote(self._read(remote_id))

    def fetch_products(self, remote_ids: list[str]) -> dict[str, RemoteProduct | None]:
        """Re-read many products by id, 100 to a request (`include=`); None for one the store
        no longer has. An id the listing does not answer (deleted, in the trash, a variation)
        is read on its own, as a single refresh reads it: a trashed product comes back with
        `status: trash`, a variation as its parent, a deleted one as None."""
        wanted = {remote_id: _numeric(remote_id) for remote_id in remote_ids}
        listed: dict[int, RemoteProduct] = {}
        unique = list(dict.fromkeys(wanted.values()))
        if len(unique) > 1:
            for start in range(0, len(unique), MAX_PER_PAGE):
                chunk = unique[start:start + MAX_PER_PAGE]
                reply = self.client.get("products", {
                    "include": ",".join(map(str, chunk)), "per_page": MAX_PER_PAGE,
                    "_fields": FIELDS})
                if not isinstance(reply.data, list):
                    raise Unavailable("The store answered a product list with something else.")
                for raw in reply.data:
                    if isinstance(raw, dict) and raw.get("id") in chunk \
                            and raw.get("type") != "variation":
                        listed[raw["id"]] = self._remote(raw)
        out: dict[str, RemoteProduct | None] = {}
        for remote_id, number in wanted.items():
            if number not in listed:
                try:
                    listed[number] = self.get_product(str(number))
                except ProductGone:
                    out[remote_id] = None
                    continue
            out[remote_id] = listed[number]
        return out

    def fetch_image(self, image: RemoteImage) -> bytes:
        return download(
            image.src,
            max_bytes=self.max_image_bytes,
            policy=self.policy,
            timeout=self.client.timeout,
            deadline=self.download_deadline,
        )

    def verify(self) -> None:
        """Prove the key works for this store (a read every key scope allows)."""
        url_check(self.domain, allowed=self.allowed, what="store address")
        self.client.get("webhooks", {"per_page": 1})

    def push_image(self, product_remote_id: str, image: NewImage) -> PushResult:
        _sideload_url_check(image.public_url)
        product_id, variation_id = split_target(product_remote_id)
        raw = _not_trashed(self._read(product_id))
        if variation_id:
            return self._variation_push(raw["id"], _numeric(variation_id), image)
        pid = raw["id"]
        gallery = _gallery(raw)
        mine = _find_ours(gallery, image)
        if mine is not None:  # an earlier attempt landed: nothing to add
            before = [g for g in gallery if g["id"] != mine["id"]]
            return PushResult(str(mine["id"]), MediaStatus.LIVE, _state(before))
        previous = _state(gallery)
        new: dict = {"src": image.public_url, "name": marker_name(image)}
        if image.alt:
            new["alt"] = image.alt
        kept = [{"id": g["id"]} for g in gallery]  # {id} keeps an image exactly as it is
        images = [new, *kept] if image.featured else [*kept, new]
        try:
            reply = self.client.put(f"products/{pid}", {"images": images}, slow=True)
        except OutcomeUnknown:
            return self._settle(pid, image, previous)
        after = _gallery(reply.data) if isinstance(reply.data, dict) else []
        mine = _find_ours(after, image) or _only_new(after, gallery)
        if mine is None:
            raise Invalid("The store accepted the update but the new image is not on the product.")
        return PushResult(str(mine["id"]), MediaStatus.LIVE, previous)

    def _settle(self, pid: int, image: NewImage, previous: dict) -> PushResult:
        """The PUT got no answer: re-read (a few times) and decide; never PUT again here."""
        for attempt in range(max(1, self.rereads)):
            if attempt:
                time.sleep(self.reread_interval)
            mine = _find_ours(_gallery(self._read(str(pid))), image)
            if mine is not None:
                return PushResult(str(mine["id"]), MediaStatus.LIVE, previous)
        raise Unavailable(
            "The store did not answer in time and the image is not on the product yet; "
            "PhotoSync will look again before trying once more, so it is never added twice.",
            retry_after=self.unknown_retry_after,
        )

    def push_status(self, product_remote_id: str, remote_id: str) -> PushState:
        product_id, variation_id = split_target(product_remote_id)
        if variation_id:
            return self._variation_status(product_id, variation_id, remote_id)
        gallery = _gallery(self._read(product_remote_id))
        ids = [str(g["id"]) for g in gallery]
        if remote_id not in ids:
            return PushState(MediaStatus.MISSING, reason="the image is no longer on the product")
        entry = gallery[ids.index(remote_id)]
        return PushState(MediaStatus.LIVE, alt=str(entry.get("alt") or ""),
                         featured=ids[0] == remote_id, count=len(ids))

    def update_image(self, product_remote_id: str, remote_id: str, *, alt: str | None = None,
                     featured: bool | None = None) -> None:
        """One read-modify-write PUT: every image kept by `{id}`, ours with its new alt and
        first (featured) or last (no longer featured). A variation's image: its alt only."""
        product_id, variation_id = split_target(product_remote_id)
        if variation_id:
            _not_trashed(self._read(product_id))
            self._variation_update(product_id, variation_id, remote_id, alt=alt)
            return
        raw = _not_trashed(self._read(product_remote_id))
        current = [g["id"] for g in _gallery(raw)]
        ours = _numeric(remote_id)
        if ours not in current:
            raise NotFound("The image is no longer on the product in WooCommerce.")
        if alt == "" and any(g["id"] == ours and g.get("alt") for g in _gallery(raw)):
            raise Invalid("WooCommerce's API cannot clear an image's alt text; give it a new "
                          "one, or clear it in the store's media library.")
        order = gallery_moved(current, ours, featured=featured) if featured is not None \
            else current
        images = [{"id": i, **({"alt": alt} if i == ours and alt else {})} for i in order]
        self._put_gallery(raw["id"], images, expect=order)

    def rollback(self, product_remote_id: str, remote_id: str, previous_state: dict) -> None:
        """Take our image out; keep the merchant's gallery as it is now, and put the image
        featured before the push first again only when ours is the featured image now. A
        variation whose image is ours gets its image from before the push back."""
        product_id, variation_id = split_target(product_remote_id)
        if variation_id:
            self._variation_rollback(product_id, variation_id, remote_id, previous_state)
            return
        raw = self._read(product_remote_id)
        current = [g["id"] for g in _gallery(raw)]
        ours = int(remote_id) if str(remote_id).isdigit() else None
        if ours not in current:
            return
        target = gallery_without(current, ours, previous_state.get("featured_id"))
        if not target:
            # `[]` deletes every image: sent only when our image is all the product has.
            self._put_gallery(raw["id"], [], expect=[])
            return
        self._put_gallery(raw["id"], [{"id": i} for i in target], expect=target)

    def _put_gallery(self, pid: int, images: list[dict], *, expect: list[int]) -> None:
        """PUT a gallery of existing attachments; an answer that got lost is settled by
        reading the product again (the PUT is not repeated here)."""
        try:
            self.client.put(f"products/{pid}", {"images": images}, slow=True)
        except OutcomeUnknown:
            if [g["id"] for g in _gallery(self._read(str(pid)))] != expect:
                raise

    def webhooks_ensure(
        self, *, delivery_url: str, secret: str,
        topics: tuple[str, ...] = tuple(sorted(SUBSCRIBED_TOPICS)),
    ) -> WebhookHealth:
        """Make sure one active webhook per topic delivers to `delivery_url`: re-activate
        disabled or paused ones, create missing ones, delete our duplicates."""
        health = WebhookHealth()
        ours: dict[str, list[dict]] = {t: [] for t in topics}
        for page in self.client.pages("webhooks", {"per_page": 100, "status": "all"}):
            for hook in page:
                if hook.get("delivery_url") == delivery_url and hook.get("topic") in ours:
                    ours[hook["topic"]].append(hook)
        for topic in sorted(topics):
            hooks = sorted(ours[topic],  # the active, oldest hook is the one kept
                           key=lambda hook: (hook.get("status") != "active", hook["id"]))
            for extra in hooks[1:]:
                self.client.delete(f"webhooks/{int(extra['id'])}", {"force": "true"})
                health.removed.append(int(extra["id"]))
            if not hooks:
                self.client.post(
                    "webhooks",
                    {
                        "name": f"PhotoSync {topic}",
                        "topic": topic,
                        "delivery_url": delivery_url,
                        "secret": secret,
                        "status": "active",
                    },
                )
                health.created.append(topic)
            elif hooks[0].get("status") != "active":
                self.client.put(
                    f"webhooks/{int(hooks[0]['id'])}", {"status": "active", "secret": secret}
                )
                health.reactivated.append(topic)
            else:
                health.healthy.append(topic)
        return health

    def plugin_configure(self, values: dict[str, str]) -> bool:
        """Write the companion plugin's options through WooCommerce's settings API; False
        when the plugin is not installed (its settings group does not exist)."""
        try:
            self.client.post(
                f"settings/{PLUGIN_SETTINGS_GROUP}/batch",
                {"update": [{"id": k, "value": v} for k, v in values.items()]},
            )
        except NotFound:
            return False
        return True

    def _read(self, remote_id: str) -> dict:
        try:
            raw = self.client.get(f"products/{_numeric(remote_id)}").data
        except NotFound:
            raise ProductGone("The product was deleted in WooCommerce.") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
            raise Unavailable("The store answered a product read with something else.")
        parent = raw.get("parent_id")
        if raw.get("type") == "variation" and isinstance(parent, int) and parent > 0:
            return self._read(str(parent))
        return raw


def _state(gallery: list[dict]) -> dict:
    """The gallery as it is: ids in order (index 0 is the featured image), src, name, alt."""
    images = [
        {"id": g["id"], "src": g.get("src", ""), "name": g.get("name", ""), "alt": g.get("alt", "")}
        for g in gallery
    ]
    return {"images": images, "featured_id": images[0]["id"] if images else None}


def _not_trashed(raw: dict) -> dict:
    """Nothing is written to a product in the store's trash (it is deleted for the shop)."""
    if raw.get("status") == "trash":
        raise ProductGone("The product is in WooCommerce's trash.")
    return raw


def _sideload_url_check(url: str) -> None:
    """The store refuses URLs without an image extension; say so before asking it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("The image has no public URL for the store to download it from.")
    if PurePosixPath(parts.path).suffix.lower() not in SIDELOAD_EXTENSIONS:
        raise Invalid("The image URL must end in .png, .jpg, .jpeg, .webp or .gif.")
