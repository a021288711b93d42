"""Products and variations: what the merchant does in wp-admin, their REST representation,
and `/products` (list with paging, `modified_after` and `include=<ids>`, create, read,
update). A listing leaves out variations and, unless asked for `status=trash`, the trash; so
`include=` answers only the ids it can list, as WP_Query's post__in does.

`PUT /products/<id>` with `images`: absent → untouched; `[]` → every image removed; otherwise
the list replaces the gallery, index 0 featured. `DELETE /products/<id>` moves a product to the
trash (`status: trash`; listings leave it out unless asked for `status=trash`), with
`force=true` deletes it for good; both fire `product.deleted`, whose body is only `{"id": N}`
(WC_Webhook's payload for a deletion). Restoring from the trash (wp-admin only) fires
`product.restored`. The PUT faults (`put_hold`, `put_delay`,
`put_answer_status`) act here; `strip_total_headers` drops the paging totals as some proxies do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from emulators.woocommerce.handler import RestError, int_param, send, send_json
from emulators.woocommerce.media import Media
from emulators.woocommerce.state import gmt


class Products(Media):
    put_delay: float
    put_hold: float
    put_answer_status: int
    strip_total_headers: bool
    _fire: Callable[[str, int], None]  # deliveries.Deliveries

    def create_product(
        self,
        name: str,
        images: list[tuple[str, bytes]] | list[int] = (),  # type: ignore[assignment]
        *,
        categories: tuple[str, ...] = (),
        kind: str = "simple",
    ) -> int:
        with self.lock:
            image_ids = [
                img if isinstance(img, int) else self.upload(img[0], img[1]) for img in images
            ]
            pid = self._new_id()
            now = time.time()
            self.products[pid] = {
                "id": pid, "name": name, "type": kind, "status": "publish", "parent_id": 0,
                "categories": list(categories), "image_ids": image_ids, "created": now,
                "modified": math.floor(now), "variations": [],
            }
        self._fire("product.created", pid)
        return pid

    def create_variation(self, parent_id: int, name: str) -> int:
        with self.lock:
            parent = self.products[parent_id]
            vid = self._new_id()
            now = time.time()
            self.products[vid] = {
                "id": vid, "name": name, "type": "variation", "status": "publish",
                "parent_id": parent_id, "categories": [], "image_ids": [], "created": now,
                "modified": math.floor(now), "variations": [],
            }
            parent["variations"].append(vid)
        self._fire("product.created", vid)
        return vid

    def update_product(self, pid: int, **changes) -> None:
        with self.lock:
            product = self.products[pid]
            product.update(changes)
            self._touch(product)
        self._fire("product.updated", pid)

    def trash_product(self, pid: int) -> None:
        """The merchant moves the product to the trash in wp-admin."""
        with self.lock:
            product = self.products[pid]
            if product["status"] != "trash":
                product["before_trash"] = product["status"]
                product["status"] = "trash"
                self._touch(product)
        self._fire("product.deleted", pid)

    def restore_product(self, pid: int) -> None:
        """The merchant restores it from the trash (wp-admin's Restore link)."""
        with self.lock:
            product = self.products[pid]
            product["status"] = product.pop("before_trash", "draft")
            self._touch(product)
        self._fire("product.restored", pid)

    def delete_product(self, pid: int) -> None:
        """The merchant deletes the product permanently."""
        with self.lock:
            product = self.products.pop(pid)
            parent = self.products.get(product["parent_id"])
            if parent is not None and pid in parent["variations"]:
                parent["variations"].remove(pid)
        self._fire("product.deleted", pid)

    def set_gallery(self, pid: int, image_ids: list[int]) -> None:
        """The merchant edits the gallery in wp-admin (first: the featured image)."""
        self.update_product(pid, image_ids=list(image_ids))

    def gallery(self, pid: int) -> list[int]:
        with self.lock:
            return list(self.products[pid]["image_ids"])

    def product_json(self, product: dict) -> dict:
        return {
            "id": product["id"],
            "name": product["name"],
            "slug": product["name"].lower().replace(" ", "-"),
            "permalink": f"{self.url}/product/{product['id']}/",
            "date_created": gmt(product["created"]),
            "date_created_gmt": gmt(product["created"]),
            "date_modified": gmt(product["modified"]),
            "date_modified_gmt": gmt(product["modified"]),
            "type": product["type"],
            "status": product["status"],
            "parent_id": product["parent_id"],
            "categories": [
                {"id": i + 1, "name": c, "slug": c.lower()}
                for i, c in enumerate(product["categories"])
            ],
            "images": [self.image_json(i) for i in product["image_ids"] if i in self.attachments],
            "variations": list(product["variations"]),
        }

    def _products(self, req, method, segments, query, body, key) -> None:
        if not segments:
            if method == "GET":
                return self._product_list(req, query)
            if method == "POST":
                return self._product_create(req, body)
        elif len(segments) in (2, 3) and segments[0].isdigit() and segments[1] == "variations":
            return self._variations(req, method, int(segments[0]), segments[2:], body)
        elif len(segments) == 1 and segments[0].isdigit():
            pid = int(segments[0])
            with self.lock:
                product = self.products.get(pid)
                if product is None:
                    raise RestError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                if method == "GET":
                    return send_json(req, 200, self.product_json(product))
            if method == "PUT":
                return self._product_update(req, pid, body)
            if method == "DELETE":
                return self._product_delete(req, pid, query)
        raise RestError(404, "rest_no_route", "No route was found matching the URL and method.")

    def _product_list(self, req, query) -> None:
        page, per_page = int_param(query, "page", 1), int_param(query, "per_page", 10)
        if not 1 <= per_page <= 100:
            raise RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        with self.lock:
            items = [p for p in self.products.values() if p["type"] != "variation"]
            wanted = query.get("status", "any")  # WP_Query's "any" leaves the trash out
            items = [p for p in items if (p["status"] != "trash" if wanted == "any"
                                          else p["status"] == wanted)]
            include = query.get("include")
            if include:  # ids, comma-separated (WP_Query post__in): only those, if listed
                try:
                    wanted_ids = {int(i) for i in include.split(",") if i.strip()}
                except ValueError:
                    raise RestError(400, "rest_invalid_param",
                                    "Invalid parameter(s): include") from None
                items = [p for p in items if p["id"] in wanted_ids]
            after = query.get("modified_after")
            if after:
                try:
                    limit = datetime.fromisoformat(after)
                except ValueError:
                    raise RestError(400, "rest_invalid_param",
                                    "Invalid parameter(s): modified_after") from None
                if limit.tzinfo is None:
                    limit = limit.replace(tzinfo=UTC)  # dates_are_gmt=true; site time is UTC
                items = [p for p in items if p["modified"] > limit.timestamp()]
            orderby = query.get("orderby", "date")
            sort_key = (lambda p: p["id"]) if orderby == "id" else (lambda p: (p["created"],
                                                                                p["id"]))
            items.sort(key=sort_key, reverse=query.get("order", "desc") == "desc")
            total = len(items)
            pages = max(1, math.ceil(total / per_page)) if total else 0
            chunk = [self.product_json(p) for p in items[(page - 1) * per_page:page * per_page]]
        if query.get("_fields"):  # WordPress trims the representation to these fields
            wanted = set(query["_fields"].split(","))
            chunk = [{k: v for k, v in item.items() if k in wanted} for item in chunk]
        links = []
        base = f"{self.url}/wp-json/wc/v3/products"
        common = {k: v for k, v in query.items() if not k.startswith("oauth_") and k != "page"}
        if page > 1:
            links.append(f'<{base}?{urlencode({**common, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{base}?{urlencode({**common, "page": page + 1})}>; rel="next"')
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if self.strip_total_headers:
            headers = {}
        if links:
            headers["Link"] = ", ".join(links)
        send_json(req, 200, chunk, headers)

    def _product_create(self, req, body) -> None:
        if not isinstance(body, dict):
            raise RestError(400, "rest_invalid_json", "Invalid JSON body passed.")
        ids = self._resolve_images(body.get("images") or [])
        with self.lock:
            pid = self._new_id()
            now = time.time()
            self.products[pid] = {
                "id": pid, "name": str(body.get("name", "")), "type": body.get("type", "simple"),
                "status": "publish", "parent_id": 0,
                "categories": [c.get("name", "") for c in body.get("categories") or []],
                "image_ids": ids, "created": now, "modified": math.floor(now), "variations": [],
            }
            out = self.product_json(self.products[pid])
        self._fire("product.created", pid)
        send_json(req, 201, out)

    def set_variation_image(self, vid: int, image_id: int | None) -> None:
        """The merchant picks a variation's image in wp-admin (None: no image)."""
        self.update_product(vid, image_ids=[image_id] if image_id else [])

    def variation_json(self, variation: dict) -> dict:
        """`/products/<id>/variations/<vid>`: one `image` (or null), not a gallery."""
        ids = [i for i in variation["image_ids"] if i in self.attachments]
        return {
            "id": variation["id"], "name": variation["name"], "status": variation["status"],
            "date_modified_gmt": gmt(variation["modified"]),
            "image": self.image_json(ids[0]) if ids else None,
        }

    def _variations(self, req, method, pid: int, rest: list[str], body) -> None:
        with self.lock:
            parent = self.products.get(pid)
            if parent is None or parent["type"] == "variation":
                raise RestError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
            if not rest:
                if method != "GET":
                    raise RestError(404, "rest_no_route", "No route was found.")
                return send_json(req, 200, [self.variation_json(self.products[v])
                                            for v in parent["variations"]],
                                 {"X-WP-Total": str(len(parent["variations"])),
                                  "X-WP-TotalPages": "1"})
            vid = int(rest[0]) if rest[0].isdigit() else 0
            if vid not in parent["variations"]:
                raise RestError(404, "woocommerce_rest_product_variation_invalid_id",
                                "Invalid ID.")
            if method == "GET":
                return send_json(req, 200, self.variation_json(self.products[vid]))
        if method != "PUT" or not isinstance(body, dict):
            raise RestError(404, "rest_no_route", "No route was found.")
        image = body.get("image")
        if isinstance(image, dict):  # set_variation_image: {src} sideloads, {id: 0} clears
            ids = [] if not image.get("id") and not image.get("src") else \
                self._resolve_images([image])
            with self.lock:
                self.products[vid]["image_ids"] = ids
                self._touch(self.products[vid])
        with self.lock:
            out = self.variation_json(self.products[vid])
        self._fire("product.updated", vid)
        send_json(req, 200, out)

    def _product_delete(self, req, pid: int, query) -> None:
        force = query.get("force") in ("true", "1")
        with self.lock:
            product = self.products[pid]
            if not force and product["status"] == "trash":
                raise RestError(410, "woocommerce_rest_already_trashed",
                                f"The product with ID {pid} has already been deleted.")
            out = self.product_json(product)
        if force:
            self.delete_product(pid)
        else:
            self.trash_product(pid)
            with self.lock:
                out = self.product_json(self.products[pid])
        send_json(req, 200, out)

    def _product_update(self, req, pid: int, body) -> None:
        if not isinstance(body, dict):
            raise RestError(400, "rest_invalid_json", "Invalid JSON body passed.")
        if self.put_hold:
            time.sleep(self.put_hold)  # still working when the client gives up
        images = body.get("images")
        if images is not None and not isinstance(images, list):
            raise RestError(400, "rest_invalid_param", "Invalid parameter(s): images")
        ids = self._resolve_images(images) if images is not None else None
        with self.lock:
            product = self.products[pid]
            if ids is not None:
                product["image_ids"] = ids  # replaces the gallery; [] removes every image
            if "name" in body:
                product["name"] = str(body["name"])
            if body.get("status") in ("publish", "draft", "pending", "private", "trash"):
                product["status"] = body["status"]
            self._touch(product)
            out = self.product_json(product)
        self._fire("product.updated", pid)
        if self.put_delay:
            time.sleep(self.put_delay)  # applied already; the client may have given up
        if self.put_answer_status:
            return send(req, self.put_answer_status, b"<html>Gateway Time-out</html>",
                        "text/html")
        send_json(req, 200, out)
