"""A WooCommerce store on loopback, following the platform's rules as PHP does.

- Authentication over plain http is OAuth 1.0a one-legged, checked like
  WC_REST_Authentication: parameters from the query string (PHP's last-wins `$_GET`), sorted
  with strcmp, RFC 3986 encoded twice, `METHOD&rawurlencode(home + path)&params`, HMAC-SHA1
  or -SHA256 with key `secret&`, a 15 minute timestamp window and single-use nonces. The
  emulator is http only, where WooCommerce ignores Basic auth (it takes it over https only).
- Key scopes: read keys may not write.
- `per_page` at most 100; `X-WP-Total`, `X-WP-TotalPages` and `Link` on collections.
- `throttle(n, retry_after)`: the next n API requests get 429 with `Retry-After`, as a host's
  firewall does (WooCommerce core has no rate limit).
- `PUT /products/<id>` with `images`: absent → untouched; `[]` → every image removed;
  otherwise the list replaces the gallery, index 0 featured. `{id}` keeps an attachment,
  `{src}` downloads the URL *during the request*: the path must end in an image extension,
  the host must be public (loopback allowed here for tests) on port 80/443/8080 (any port
  here for tests), and the bytes must be an image of that extension. `put_delay` makes the
  answer late after the change was applied (a timed-out PUT that succeeded server-side);
  `put_hold` makes the PUT wait before applying (timed out, applied only later);
  `put_answer_status` answers an applied PUT with e.g. a proxy's 504.
- Webhooks: CRUD with status; creating an active webhook sends a ping (form body
  `webhook_id=N`, no signature, no X-WC headers); deliveries run from a background thread
  with the product's representation built at send time, signed with the webhook's secret
  (base64 HMAC-SHA256); repeated changes while one is pending collapse into one delivery; no
  retries, ever: 2xx and 300-302 reset the failure counter, anything else increments it and
  past `max_failures` the webhook is set to `disabled`.
- wc-auth: `/wc-auth/v1/authorize` validates the request, `access_granted` creates a key and
  POSTs it (unsigned JSON) to the callback URL, deletes the key unless the answer is exactly
  200, then redirects to `return_url?success=1&user_id=...`.
- The companion plugin's settings group (`settings/photosync`) exists when
  `plugin_installed` is set, as WooCommerce's settings API exposes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import math
import queue
import secrets
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import requests

IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
TOPICS = {
    "product.created", "product.updated", "product.deleted", "product.restored",
    "order.created", "order.updated",
}
PLUGIN_OPTIONS = ("photosync_app_url", "photosync_store_id", "photosync_embed_secret")


class RestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def rawurlencode(value: str) -> str:
    """PHP's rawurlencode (RFC 3986: only A-Z a-z 0-9 - _ . ~ stay)."""
    return quote(value, safe="-_.~")


def rfc3986(value: str) -> str:
    """WooCommerce's wc_rest_urlencode_rfc3986."""
    return rawurlencode(value).replace("+", " ").replace("%7E", "~")


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (what WordPress checks against the extension)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _gmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WooEmulator:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        sideload_allow_loopback: bool = True,
        sideload_any_port: bool = True,
        allow_http_callback: bool = True,
        plugin_installed: bool = False,
        home: str | None = None,
    ) -> None:
        self.max_failures = max_failures
        self.sideload_allow_loopback = sideload_allow_loopback
        self.sideload_any_port = sideload_any_port
        self.allow_http_callback = allow_http_callback
        self.plugin_options: dict[str, str] | None = (
            dict.fromkeys(PLUGIN_OPTIONS, "") if plugin_installed else None
        )
        self.lock = threading.RLock()
        self._ids = 100  # WordPress posts (products, variations, attachments) share ids
        self._key_ids = 0
        self._hook_ids = 0
        self._delivery_ids = 0
        self.products: dict[int, dict] = {}
        self.attachments: dict[int, dict] = {}
        self.keys: dict[str, dict] = {}
        self.webhooks: dict[int, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query) of API calls
        self.deliveries: list[dict] = []  # pings and deliveries with their outcome
        self.callbacks: list[dict] = []  # wc-auth callback posts and their answers
        self.sideloads: list[str] = []  # every {src} downloaded
        self.throttle_left = 0
        self.throttle_retry_after = "1"
        self.put_delay = 0.0  # seconds to hold a PUT's answer after applying it
        self.put_hold = 0.0  # seconds a PUT waits before it starts applying
        self.put_answer_status = 0  # e.g. 504: a proxy's answer to an applied PUT
        self.strip_total_headers = False  # as some proxies do: only `Link` is left
        self.delivery_delay = 0.0
        self._queue: queue.Queue = queue.Queue()
        self._pending: set[tuple[int, int]] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.emulator = self  # type: ignore[attr-defined]
        self.url = home or f"http://127.0.0.1:{self.server.server_address[1]}"
        self._threads = [
            threading.Thread(target=self.server.serve_forever, name="woo-http", daemon=True),
            threading.Thread(target=self._deliver_loop, name="woo-deliveries", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        self._queue.put(None)
        self.server.shutdown()
        self.server.server_close()

    # --- the merchant's side (what a shop manager does in wp-admin) ---------------------
    def add_key(self, permissions: str = "read_write") -> tuple[str, str]:
        with self.lock:
            self._key_ids += 1
            key = "ck_" + secrets.token_hex(20)
            secret = "cs_" + secrets.token_hex(20)
            self.keys[key] = {
                "key_id": self._key_ids, "secret": secret, "permissions": permissions,
                "nonces": {},
            }
            return key, secret

    def upload(self, filename: str, data: bytes, *, alt: str = "") -> int:
        """Add a file to the media library (as the merchant's own upload)."""
        with self.lock:
            return self._attachment(filename, data, title=PurePosixPath(filename).stem, alt=alt)

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

    def gallery(self, pid: int) -> list[int]:
        with self.lock:
            return list(self.products[pid]["image_ids"])

    def webhook(self, topic: str) -> dict | None:
        with self.lock:
            hooks = [h for h in self.webhooks.values() if h["topic"] == topic]
            return dict(hooks[0]) if hooks else None

    def throttle(self, count: int, retry_after: str = "1") -> None:
        with self.lock:
            self.throttle_left, self.throttle_retry_after = count, retry_after

    def redeliver(self, webhook_id: int, resource_id: int) -> None:
        """Send the same delivery again (a new X-WC-Webhook-Delivery-ID, same payload)."""
        self._queue.put(("delivery", webhook_id, resource_id))

    def approve(self, authorize_url: str) -> requests.Response:
        """The merchant clicks Approve on the authorize page; returns the store's answer."""
        parts = urlsplit(authorize_url)
        return requests.get(
            f"{self.url}/wc-auth/v1/access_granted?{parts.query}",
            allow_redirects=False, timeout=90,
        )

    def deny(self, authorize_url: str) -> requests.Response:
        parts = urlsplit(authorize_url)
        return requests.get(
            f"{self.url}/wc-auth/v1/access_denied?{parts.query}",
            allow_redirects=False, timeout=30,
        )

    def wait_deliveries(self, timeout: float = 30.0) -> None:
        """Block until every queued ping and delivery has been sent."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries did not finish")
            time.sleep(0.02)

    # --- REST representations ----------------------------------------------------------
    def product_json(self, product: dict) -> dict:
        return {
            "id": product["id"],
            "name": product["name"],
            "slug": product["name"].lower().replace(" ", "-"),
            "permalink": f"{self.url}/product/{product['id']}/",
            "date_created": _gmt(product["created"]),
            "date_created_gmt": _gmt(product["created"]),
            "date_modified": _gmt(product["modified"]),
            "date_modified_gmt": _gmt(product["modified"]),
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

    def image_json(self, att_id: int) -> dict:
        att = self.attachments[att_id]
        return {
            "id": att_id,
            "date_created": _gmt(att["created"]),
            "date_created_gmt": _gmt(att["created"]),
            "date_modified": _gmt(att["created"]),
            "date_modified_gmt": _gmt(att["created"]),
            "src": f"{self.url}/wp-content/uploads/2026/11/{att['filename']}",
            "name": att["title"],
            "alt": att["alt"],
        }

    def webhook_json(self, hook: dict) -> dict:
        resource, event = hook["topic"].split(".", 1)
        return {
            "id": hook["id"], "name": hook["name"], "status": hook["status"],
            "topic": hook["topic"], "resource": resource, "event": event,
            "hooks": [f"woocommerce_{event}_{resource}"], "delivery_url": hook["delivery_url"],
            "date_created": _gmt(hook["created"]), "date_created_gmt": _gmt(hook["created"]),
            "date_modified": _gmt(hook["modified"]), "date_modified_gmt": _gmt(hook["modified"]),
        }

    # --- HTTP dispatch --------------------------------------------------------------------
    def handle(self, req: _Handler, method: str) -> None:
        parts = urlsplit(req.path)
        path, pairs = parts.path, parse_qsl(parts.query, keep_blank_values=True)
        query = dict(pairs)  # PHP's $_GET: the last value of a repeated name wins
        try:
            if path.startswith("/wp-json/wc/v3/"):
                self._api(req, method, path, query)
            elif path.startswith("/wp-content/uploads/") and method == "GET":
                self._serve_upload(req, path)
            elif path.startswith("/wc-auth/v1/"):
                self._wc_auth(req, path[len("/wc-auth/v1/"):], query)
            else:
                _send(req, 404, b"Not found", "text/plain")
        except RestError as exc:
            body = {"code": exc.code, "message": exc.message, "data": {"status": exc.status}}
            _send_json(req, exc.status, body)

    def _api(self, req: _Handler, method: str, path: str, query: dict) -> None:
        route = path[len("/wp-json/wc/v3/"):].strip("/")
        body = req.json_body()  # read it all before answering, whatever the answer
        with self.lock:
            self.requests.append((method, route, query))
            if self.throttle_left > 0:
                self.throttle_left -= 1
                _send_json(req, 429, {"code": "too_many_requests", "message": "Slow down."},
                           {"Retry-After": self.throttle_retry_after})
                return
        key = self._authenticate(req, method, path, query)
        segments = route.split("/")
        if segments[0] == "products":
            self._products(req, method, segments[1:], query, body, key)
        elif segments[0] == "webhooks":
            self._webhooks(req, method, segments[1:], query, body)
        elif segments[0] == "settings" and len(segments) >= 2:
            self._settings(req, method, segments[1:], body)
        else:
            raise RestError(404, "rest_no_route", "No route was found matching the URL and "
                                                  "request method.")

    # --- OAuth 1.0a, as WC_REST_Authentication checks it -----------------------------------
    def _authenticate(self, req: _Handler, method: str, path: str, query: dict) -> dict:
        names = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                 "oauth_signature_method")
        if not any(query.get(n) for n in names):
            # Over http WooCommerce ignores Basic auth: the request is anonymous.
            raise RestError(401, "woocommerce_rest_cannot_view",
                            "Sorry, you cannot list resources.")
        for name in names:
            if not query.get(name):
                raise RestError(401, "woocommerce_rest_authentication_error",
                                f"Missing OAuth parameter {name}")
        with self.lock:
            key = self.keys.get(query["oauth_consumer_key"])
        if key is None:
            raise RestError(401, "woocommerce_rest_authentication_error",
                            "Consumer key is invalid.")
        params = dict(query)
        given = unquote(params.pop("oauth_signature").replace(" ", "+"))
        normalized = [
            (rfc3986(k), rfc3986(v)) for k, v in sorted(params.items(), key=lambda i: i[0].encode())
        ]
        query_string = "%26".join(rfc3986(f"{k}={v}") for k, v in normalized)
        to_sign = f"{method}&{rawurlencode(self.url + path)}&{query_string}"
        algorithm = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}.get(
            params["oauth_signature_method"]
        )
        if algorithm is None:
            raise RestError(401, "woocommerce_rest_authentication_error",
                            "Invalid signature - signature method is invalid.")
        expected = base64.b64encode(
            hmac.new((key["secret"] + "&").encode(), to_sign.encode(), algorithm).digest()
        ).decode()
        if not hmac.compare_digest(expected, given):
            raise RestError(401, "woocommerce_rest_authentication_error",
                            "Invalid signature - provided signature does not match.")
        timestamp = int(params["oauth_timestamp"]) if params["oauth_timestamp"].isdigit() else 0
        if abs(time.time() - timestamp) > 15 * 60:
            raise RestError(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        with self.lock:
            if params["oauth_nonce"] in key["nonces"]:
                raise RestError(401, "woocommerce_rest_authentication_error",
                                "Invalid nonce - nonce has already been used.")
            key["nonces"][params["oauth_nonce"]] = timestamp
        if method != "GET" and key["permissions"] == "read":
            raise RestError(401, "woocommerce_rest_authentication_error",
                            "The API key provided does not have write permissions.")
        return key

    # --- products ------------------------------------------------------------------------
    def _products(self, req, method, segments, query, body, key) -> None:
        if not segments:
            if method == "GET":
                return self._product_list(req, query)
            if method == "POST":
                return self._product_create(req, body)
        elif len(segments) == 1 and segments[0].isdigit():
            pid = int(segments[0])
            with self.lock:
                product = self.products.get(pid)
                if product is None:
                    raise RestError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                if method == "GET":
                    return _send_json(req, 200, self.product_json(product))
            if method == "PUT":
                return self._product_update(req, pid, body)
        raise RestError(404, "rest_no_route", "No route was found matching the URL and method.")

    def _product_list(self, req, query) -> None:
        page, per_page = _int_param(query, "page", 1), _int_param(query, "per_page", 10)
        if not 1 <= per_page <= 100:
            raise RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        with self.lock:
            items = [p for p in self.products.values() if p["type"] != "variation"]
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
        _send_json(req, 200, chunk, headers)

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
        _send_json(req, 201, out)

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
            self._touch(product)
            out = self.product_json(product)
        self._fire("product.updated", pid)
        if self.put_delay:
            time.sleep(self.put_delay)  # applied already; the client may have given up
        if self.put_answer_status:
            return _send(req, self.put_answer_status, b"<html>Gateway Time-out</html>",
                         "text/html")
        _send_json(req, 200, out)

    def _resolve_images(self, specs: list) -> list[int]:
        """WC_REST_Products_Controller::set_product_images, one image at a time."""
        ids = []
        for spec in specs:
            spec = spec if isinstance(spec, dict) else {}
            att_id = int(spec.get("id") or 0)
            if not att_id and spec.get("src"):
                att_id = self._sideload(str(spec["src"]))
            with self.lock:
                att = self.attachments.get(att_id)
                if att is None:
                    raise RestError(400, "woocommerce_product_invalid_image_id",
                                    f"#{att_id} is an invalid image ID.")
                if spec.get("alt"):
                    att["alt"] = str(spec["alt"])
                if spec.get("name"):
                    att["title"] = str(spec["name"])
            ids.append(att_id)
        return ids

    def _sideload(self, src: str) -> int:
        """wc_rest_upload_image_from_url: extension, safe URL, download now, real type."""
        def refuse(message: str) -> RestError:
            return RestError(400, "woocommerce_product_image_upload_error", message)

        parts = urlsplit(src)
        filename = PurePosixPath(unquote(parts.path)).name
        extension = PurePosixPath(filename).suffix.lower()
        if extension not in IMAGE_TYPES:
            raise refuse("Invalid image: Sorry, you are not allowed to upload this file type.")
        if not self._safe_url(parts):
            raise refuse(f"Error getting remote image {src}. Error: A valid URL was not provided.")
        self.sideloads.append(src)
        try:
            response = requests.get(src, timeout=30)
        except requests.RequestException:
            raise refuse(f"Error getting remote image {src}. Error: could not connect.") from None
        if response.status_code != 200:
            raise refuse(f"Error getting remote image {src}. Error: {response.reason}")
        if sniff(response.content) != IMAGE_TYPES[extension]:
            raise refuse("Invalid image: Sorry, you are not allowed to upload this file type.")
        with self.lock:
            return self._attachment(filename, response.content,
                                    title=PurePosixPath(filename).stem, alt="")

    def _safe_url(self, parts) -> bool:
        """wp_http_validate_url: http(s), public address, port 80/443/8080."""
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if port not in (80, 443, 8080) and not self.sideload_any_port:
            return False
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return False
        for info in infos:
            ip = ipaddress.ip_address(info[4][0])
            if ip.is_loopback and self.sideload_allow_loopback:
                continue
            if not ip.is_global:
                return False
        return True

    # --- webhooks ------------------------------------------------------------------------
    def _webhooks(self, req, method, segments, query, body) -> None:
        if not segments:
            if method == "GET":
                per_page = _int_param(query, "per_page", 10)
                if not 1 <= per_page <= 100:
                    raise RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
                page = _int_param(query, "page", 1)
                status = query.get("status", "all")
                with self.lock:
                    hooks = [h for h in sorted(self.webhooks.values(), key=lambda h: h["id"])
                             if status == "all" or h["status"] == status]
                    chunk = [self.webhook_json(h)
                             for h in hooks[(page - 1) * per_page:page * per_page]]
                pages = math.ceil(len(hooks) / per_page) if hooks else 0
                return _send_json(req, 200, chunk, {"X-WP-Total": str(len(hooks)),
                                                     "X-WP-TotalPages": str(pages)})
            if method == "POST":
                return self._webhook_create(req, body)
        elif len(segments) == 1 and segments[0].isdigit():
            hid = int(segments[0])
            with self.lock:
                hook = self.webhooks.get(hid)
                if hook is None:
                    raise RestError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
                if method == "GET":
                    return _send_json(req, 200, self.webhook_json(hook))
                if method == "PUT":
                    body = body if isinstance(body, dict) else {}
                    if "status" in body:
                        if body["status"] not in ("active", "paused", "disabled"):
                            raise RestError(400, "rest_invalid_param",
                                            "Invalid parameter(s): status")
                        if body["status"] == "active" and hook["status"] != "active":
                            hook["failure_count"] = 0
                        hook["status"] = body["status"]
                    for field in ("name", "secret", "delivery_url"):
                        if body.get(field):
                            hook[field] = str(body[field])
                    hook["modified"] = time.time()
                    return _send_json(req, 200, self.webhook_json(hook))
                if method == "DELETE":
                    if query.get("force") not in ("true", "1"):
                        raise RestError(501, "woocommerce_rest_trash_not_supported",
                                        "Webhooks do not support trashing.")
                    del self.webhooks[hid]
                    return _send_json(req, 200, self.webhook_json(hook))
        raise RestError(404, "rest_no_route", "No route was found matching the URL and method.")

    def _webhook_create(self, req, body) -> None:
        body = body if isinstance(body, dict) else {}
        if body.get("topic") not in TOPICS:
            raise RestError(400, "woocommerce_rest_webhook_invalid_topic",
                            "Webhook topic is required and must be valid.")
        url = str(body.get("delivery_url") or "")
        if urlsplit(url).scheme not in ("http", "https"):
            raise RestError(400, "woocommerce_rest_webhook_invalid_delivery_url",
                            "Webhook delivery URL must be a valid URL starting with http:// "
                            "or https://.")
        with self.lock:
            self._hook_ids += 1
            now = time.time()
            hook = {
                "id": self._hook_ids, "name": str(body.get("name") or "Webhook"),
                "topic": body["topic"], "delivery_url": url,
                "secret": str(body.get("secret") or secrets.token_urlsafe(37)),
                "status": str(body.get("status") or "active"), "failure_count": 0,
                "created": now, "modified": now,
            }
            self.webhooks[hook["id"]] = hook
            out = self.webhook_json(hook)
        if hook["status"] == "active":
            self._queue.put(("ping", hook["id"], 0))
        _send_json(req, 201, out)

    # --- the companion plugin's settings group --------------------------------------------
    def _settings(self, req, method, segments, body) -> None:
        with self.lock:
            if segments[0] != "photosync" or self.plugin_options is None:
                raise RestError(404, "rest_setting_setting_group_invalid",
                                "Invalid setting group.")
            if len(segments) == 1 and method == "GET":
                return _send_json(req, 200, [_setting(k, v)
                                             for k, v in self.plugin_options.items()])
            if segments[1:] == ["batch"] and method == "POST":
                results = []
                for item in (body or {}).get("update", []):
                    if item.get("id") in self.plugin_options:
                        self.plugin_options[item["id"]] = str(item.get("value", ""))
                        results.append(_setting(item["id"], self.plugin_options[item["id"]]))
                    else:
                        results.append({"id": item.get("id"), "error": {
                            "code": "rest_setting_setting_invalid", "message": "Invalid setting."}})
                return _send_json(req, 200, {"update": results})
        raise RestError(404, "rest_no_route", "No route was found matching the URL and method.")

    # --- uploads and wc-auth --------------------------------------------------------------
    def _serve_upload(self, req, path: str) -> None:
        name = PurePosixPath(path).name
        with self.lock:
            att = next((a for a in self.attachments.values() if a["filename"] == name), None)
        if att is None:
            return _send(req, 404, b"Not found", "text/plain")
        _send(req, 200, att["data"], att["mime"])

    def _wc_auth(self, req, action: str, query: dict) -> None:
        for name in ("app_name", "scope", "user_id", "return_url", "callback_url"):
            if not query.get(name):
                return _send(req, 400, f"Missing parameter {name}".encode(), "text/plain")
        if query["scope"] not in ("read", "write", "read_write"):
            return _send(req, 400, b"Invalid scope", "text/plain")
        if not query["callback_url"].startswith("https://") and not self.allow_http_callback:
            return _send(req, 400, b"The callback_url needs to be over SSL", "text/plain")
        if action == "authorize":
            page = (f"<h1>{query['app_name']} would like to connect to your store</h1>"
                    f"<a href='/wc-auth/v1/access_granted?{urlencode(query)}'>Approve</a>")
            return _send(req, 200, page.encode(), "text/html")
        if action == "access_denied":
            return _redirect(req, _add_query(query["return_url"],
                                              {"success": "0", "user_id": query["user_id"]}))
        if action != "access_granted":
            return _send(req, 404, b"Not found", "text/plain")
        key, secret = self.add_key(query["scope"])
        with self.lock:
            key_id = self.keys[key]["key_id"]
        data = {"key_id": key_id, "user_id": query["user_id"], "consumer_key": key,
                "consumer_secret": secret, "key_permissions": query["scope"]}
        try:
            answer = requests.post(
                query["callback_url"], data=json.dumps(data),
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=60, allow_redirects=False,
            ).status_code
        except requests.RequestException:
            answer = 0
        self.callbacks.append({"user_id": query["user_id"], "status": answer, "key": key})
        if answer != 200:
            with self.lock:
                self.keys.pop(key, None)  # WC_Auth::maybe_delete_key
            return _send(req, 401, b"An error occurred in the request and at the time were "
                                   b"unable to send the consumer data", "text/plain")
        _redirect(req, _add_query(query["return_url"],
                                  {"success": "1", "user_id": query["user_id"]}))

    # --- deliveries ----------------------------------------------------------------------
    def _fire(self, topic: str, resource_id: int) -> None:
        with self.lock:
            hooks = [h for h in self.webhooks.values()
                     if h["topic"] == topic and h["status"] == "active"]
            for hook in hooks:
                if (hook["id"], resource_id) in self._pending:
                    continue  # a delivery is already scheduled: edits collapse into it
                self._pending.add((hook["id"], resource_id))
                self._queue.put(("delivery", hook["id"], resource_id))

    def _deliver_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            try:
                if self.delivery_delay:
                    time.sleep(self.delivery_delay)
                self._deliver(*item)
            except Exception as exc:  # the emulator's own bug must not stop deliveries
                self.deliveries.append({"kind": "error", "error": repr(exc)})
            finally:
                self._queue.task_done()

    def _deliver(self, kind: str, hook_id: int, resource_id: int) -> None:
        with self.lock:
            self._pending.discard((hook_id, resource_id))
            hook = self.webhooks.get(hook_id)
            if hook is None:
                return
            hook = dict(hook)
            product = self.products.get(resource_id)
            self._delivery_ids += 1
            delivery_id = self._delivery_ids
            body = b""
            if kind == "delivery":
                if hook["status"] != "active" or product is None:
                    return
                body = json.dumps(self.product_json(product), separators=(",", ":"))
                body = body.replace("/", "\\/").encode()  # wp_json_encode escapes slashes
        if kind == "ping":
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            body = urlencode({"webhook_id": hook_id}).encode()
        else:
            resource, event = hook["topic"].split(".", 1)
            signature = base64.b64encode(
                hmac.new(hook["secret"].encode(), body, hashlib.sha256).digest()
            ).decode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "WooCommerce/10.3.0 Hookshot (WordPress/6.9)",
                "X-WC-Webhook-Source": self.url + "/",
                "X-WC-Webhook-Topic": hook["topic"],
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": signature,
                "X-WC-Webhook-ID": str(hook_id),
                "X-WC-Webhook-Delivery-ID": str(delivery_id),
            }
        try:
            status = requests.post(hook["delivery_url"], data=body, headers=headers, timeout=10,
                                   allow_redirects=False).status_code
        except requests.RequestException:
            status = 0
        record = {"kind": kind, "webhook_id": hook_id, "topic": hook["topic"],
                  "resource_id": resource_id, "status": status, "delivery_id": delivery_id}
        self.deliveries.append(record)
        if kind == "ping":
            return
        with self.lock:
            live = self.webhooks.get(hook_id)
            if live is None:
                return
            if 200 <= status <= 302:
                live["failure_count"] = 0
            elif live["failure_count"] > self.max_failures:  # WC_Webhook::failed_delivery
                live["status"] = "disabled"
            else:
                live["failure_count"] += 1

    # --- internals -----------------------------------------------------------------------
    def _new_id(self) -> int:
        self._ids += 1
        return self._ids

    def _touch(self, product: dict) -> None:
        # Second precision as WordPress stores it; never the same second twice per product,
        # so that every change has its own date_modified_gmt in tests.
        product["modified"] = max(math.floor(time.time()), product["modified"] + 1)

    def _attachment(self, filename: str, data: bytes, *, title: str, alt: str) -> int:
        name = filename.strip(".-_") or "image"
        stem, ext = PurePosixPath(name).stem, PurePosixPath(name).suffix
        taken = {a["filename"] for a in self.attachments.values()}
        n = 0
        while name in taken:
            n += 1
            name = f"{stem}-{n}{ext}"
        att_id = self._new_id()
        self.attachments[att_id] = {
            "filename": name, "data": data, "mime": IMAGE_TYPES.get(ext.lower(), "image/jpeg"),
            "title": title, "alt": alt, "created": time.time(),
        }
        return att_id


def _setting(option: str, value: str) -> dict:
    return {"id": option, "label": option, "type": "text", "default": "", "value": value,
            "group_id": "photosync"}


def _int_param(query: dict, name: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not str(value).lstrip("-").isdigit():
        raise RestError(400, "rest_invalid_param", f"Invalid parameter(s): {name}")
    return int(value)


def _add_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class _Handler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def json_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise RestError(400, "rest_invalid_json", "Invalid JSON body passed.") from None

    def do_GET(self) -> None:
        self.server.emulator.handle(self, "GET")  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.server.emulator.handle(self, "POST")  # type: ignore[attr-defined]

    def do_PUT(self) -> None:
        self.server.emulator.handle(self, "PUT")  # type: ignore[attr-defined]

    def do_DELETE(self) -> None:
        self.server.emulator.handle(self, "DELETE")  # type: ignore[attr-defined]


def _send(req: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
          headers: dict | None = None) -> None:
    try:
        req.send_response(status)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timed-out PUT): the change stands


def _send_json(req, status: int, data, headers: dict | None = None) -> None:
    _send(req, status, json.dumps(data).encode(), "application/json; charset=UTF-8", headers)


def _redirect(req, location: str) -> None:
    _send(req, 302, b"", "text/html", {"Location": location})
