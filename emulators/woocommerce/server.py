"""A WooCommerce store on loopback, following the platform's rules as PHP does.

Each part lives in its own module beside this one (auth, media, products, webhooks,
deliveries, wc_auth, plugin_settings) with the rules it follows:

- Authentication over plain http is OAuth 1.0a one-legged, checked like
  WC_REST_Authentication: parameters from the query string (PHP's last-wins `$_GET`), sorted
  with strcmp, RFC 3986 encoded twice, `METHOD&rawurlencode(home + path)&params`, HMAC-SHA1
  or -SHA256 with key `secret&`, a 15 minute timestamp window and single-use nonces. The
  emulator is http only, where WooCommerce ignores Basic auth (it takes it over https only).
- Key scopes: read keys may not write.
- `per_page` at most 100; `X-WP-Total`, `X-WP-TotalPages` and `Link` on collections.
- `throttle(n, retry_after)`: the next n API requests get 429 with `Retry-After`, as a host's
  firewall does (WooCommerce core has no rate limit).
- `outage = True`: every request (API, uploads, wc-auth) answers 503 from the host, as a
  store whose PHP or database is down does, until it is set back to False.
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

import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from emulators.woocommerce.deliveries import Deliveries
from emulators.woocommerce.handler import RequestHandler, RestError, send, send_json
from emulators.woocommerce.plugin_settings import PLUGIN_OPTIONS, PluginSettings
from emulators.woocommerce.products import Products
from emulators.woocommerce.wc_auth import WcAuth
from emulators.woocommerce.webhooks import Webhooks


class WooEmulator(Products, Webhooks, Deliveries, WcAuth, PluginSettings):
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
        super().__init__()
        self.max_failures = max_failures
        self.sideload_allow_loopback = sideload_allow_loopback
        self.sideload_any_port = sideload_any_port
        self.allow_http_callback = allow_http_callback
        self.plugin_options: dict[str, str] | None = (
            dict.fromkeys(PLUGIN_OPTIONS, "") if plugin_installed else None
        )
        self.throttle_left = 0
        self.throttle_retry_after = "1"
        self.put_delay = 0.0  # seconds to hold a PUT's answer after applying it
        self.put_hold = 0.0  # seconds a PUT waits before it starts applying
        self.put_answer_status = 0  # e.g. 504: a proxy's answer to an applied PUT
        self.strip_total_headers = False  # as some proxies do: only `Link` is left
        # Appended to every attachment URL, as a CDN or image-optimising plugin rewrites
        # them (e.g. "?ver=2"): the same bytes at a new URL.
        self.src_suffix = ""
        self.delivery_delay = 0.0
        self.outage = False  # the host answers 503 to everything
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
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

    def throttle(self, count: int, retry_after: str = "1") -> None:
        with self.lock:
            self.throttle_left, self.throttle_retry_after = count, retry_after

    def handle(self, req: RequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        path, pairs = parts.path, parse_qsl(parts.query, keep_blank_values=True)
        query = dict(pairs)  # PHP's $_GET: the last value of a repeated name wins
        if self.outage:
            req.rfile.read(int(req.headers.get("Content-Length") or 0))  # drain the body
            send(req, 503, b"<html><body><h1>503 Service Unavailable</h1></body></html>",
                 "text/html")
            return
        try:
            if path.startswith("/wp-json/wc/v3/"):
                self._api(req, method, path, query)
            elif path.startswith("/wp-content/uploads/") and method == "GET":
                self._serve_upload(req, path)
            elif path.startswith("/wc-auth/v1/"):
                self._wc_auth(req, path[len("/wc-auth/v1/"):], query)
            else:
                send(req, 404, b"Not found", "text/plain")
        except RestError as exc:
            body = {"code": exc.code, "message": exc.message, "data": {"status": exc.status}}
            send_json(req, exc.status, body)

    def _api(self, req: RequestHandler, method: str, path: str, query: dict) -> None:
        route = path[len("/wp-json/wc/v3/"):].strip("/")
        body = req.json_body()  # read it all before answering, whatever the answer
        with self.lock:
            self.requests.append((method, route, query))
            if self.throttle_left > 0:
                self.throttle_left -= 1
                send_json(req, 429, {"code": "too_many_requests", "message": "Slow down."},
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
