"""A Shopify Admin emulator: a real HTTP server on loopback that the app's Shopify client talks
to when `SHOPIFY_API_ORIGIN` points at it.

- Admin GraphQL executed by graphql-core against Shopify's published schema (2026-10), with
  products and media held in memory. Documents that do not validate get Shopify's error
  shape; nothing is accepted that the real schema would refuse.
- `nodes(ids:)` (at most 250 ids; a list sized by its ids is charged per id, cost.py).
- Calculated query cost and a leaky bucket per shop (Standard plan: restore 100 points/s,
  bucket 1,000 points): a query the bucket cannot hold is THROTTLED (HTTP 200 by default,
  429 when `throttle_http_status=429`); over 1,000 requested points is MAX_COST_EXCEEDED.
- Staged uploads (POST multipart or PUT), media processing UPLOADED → PROCESSING → READY,
  or FAILED with a MediaErrorCode for a file that is not an image (or, with
  `fail_media_next = n`, for the next n media the app attaches: IMAGE_PROCESSING_FAILURE).
- Files as the schema documents them: `fileUpdate` refuses a file that is not READY
  (`NON_READY_STATE`, nothing applied); `fileDelete` removes files with their product
  references, refusing unknown ids (`FILE_DOES_NOT_EXIST`) and files still processing.
- Faults: `fail_next` (HTTP statuses for the next GraphQL calls), `lose_answer` (run an
  operation, answer 502), `outage = True` (every request answers 503 until it is False).
- The OAuth token endpoint: token exchange of ID tokens, expiring offline tokens with
  refresh (the previous refresh token stays valid until the new one is used), auth codes
  (oauth.py).
- Bulk operations with JSONL results (children after their parent, with `__parentId`).
- Signed webhook deliveries to the app, including the products/update echo of every change
  and products/delete when the merchant deletes a product (webhooks.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

from graphql import GraphQLError, execute, parse, specified_rules, validate

from emulators.shopify import state as st
from emulators.shopify.cost import (
    MAX_INPUT_ITEMS,
    MAX_QUERY_COST,
    actual_cost,
    requested_cost,
)
from emulators.shopify.handler import EmulatorHandler
from emulators.shopify.oauth import OAuthServer
from emulators.shopify.resolvers import Root, flatten, items
from emulators.shopify.schema import API_VERSION, admin_schema
from emulators.shopify.webhooks import WebhookSender


class ShopifyEmulator(OAuthServer, WebhookSender):
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        bucket_size: float = 1000.0,
        restore_rate: float = 100.0,
        throttle_http_status: int = 200,
        media_delays: tuple[float, float] = (0.05, 0.1),
        bulk_delay: float = 0.2,
        webhook_url: str = "",
        original_source_while_processing: bool = True,
        scopes: str = "read_products,write_products,write_files",
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.bucket_size = bucket_size
        self.restore_rate = restore_rate
        self.throttle_http_status = throttle_http_status
        self.media_delays = media_delays
        self.bulk_delay = bulk_delay
        self.webhook_url = webhook_url
        self.original_source_while_processing = original_source_while_processing
        self.scopes = scopes
        self.schema = admin_schema(API_VERSION)
        self.shops: dict[str, st.Shop] = {}
        self.ids = st.Ids()
        self.uploads: dict[str, st.StagedUpload] = {}
        self.tokens: dict[str, tuple[str, float | None]] = {}  # token → (shop, expires)
        self.refresh_tokens: dict[str, dict] = {}
        self.codes: dict[str, str] = {}
        # cost: actual points charged; requested: what the queries that ran asked for.
        self.stats: dict[str, int] = {"graphql": 0, "throttled": 0, "max_cost": 0, "cost": 0,
                                      "requested": 0, "refresh": 0, "exchange": 0}
        self.op_counts: dict[str, int] = {}
        self.deliveries: list[tuple[str, str, int]] = []  # (topic, webhook id, status)
        self.fail_next: list[int] = []  # HTTP statuses to answer the next GraphQL calls with
        self.lose_answer: set[str] = set()  # operations to run, then answer 502 (once each)
        self.fail_media_next = 0  # the next n media the app attaches fail processing
        self.outage = False  # the whole store answers 503 (GraphQL, uploads, CDN)
        self._documents: dict[str, tuple] = {}
        self._lock = threading.RLock()
        self._upload_key = secrets.token_bytes(16)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="emu-webhook")
        self._pending: list[Future] = []
        self._timers: list[threading.Timer] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        handler = type("Handler", (EmulatorHandler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="shopify-emulator",
                         daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> ShopifyEmulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_shop(self, domain: str, *, bucket_size: float | None = None,
                 restore_rate: float | None = None) -> st.Shop:
        size = bucket_size or self.bucket_size
        bucket = st.Bucket(maximum=size, restore_rate=restore_rate or self.restore_rate,
                           available=size)
        with self._lock:
            return self.shops.setdefault(domain, st.Shop(domain=domain, bucket=bucket))

    def create_product(self, domain: str, *, title: str, product_type: str = "",
                       images: list[tuple[str, bytes, str]] = (), notify: bool = False) -> str:
        """A merchant creates a product with images (already processed: READY)."""
        shop = self.add_shop(domain)
        with shop.lock:
            product = st.Product(id=self.ids.next(), title=title, product_type=product_type,
                                 variants=[st.Variant(id=self.ids.next())])
            for filename, data, alt in images:
                media = self._new_media(shop, filename, data, "image/jpeg", alt, delays=(0, 0))
                media.product_ids.append(product.id)
                product.media_ids.append(media.id)
            shop.products[product.id] = product
        if notify:
            self.notify(domain, "products/create", product.id)
        return st.gid("Product", product.id)

    def edit_product(self, domain: str, product_gid: str, *, title: str | None = None,
                     add_images: list[tuple[str, bytes, str]] = (), notify: bool = True) -> None:
        shop = self.shops[domain]
        with shop.lock:
            product = shop.products[st.gid_number(product_gid)]
            if title is not None:
                product.title = title
            for filename, data, alt in add_images:
                media = self._new_media(shop, filename, data, "image/jpeg", alt, delays=(0, 0))
                media.product_ids.append(product.id)
                product.media_ids.append(media.id)
            product.updated_at = st.now_iso()
        if notify:
            self.notify(domain, "products/update", product.id)

    def delete_product(self, domain: str, product_gid: str) -> None:
        """The merchant deletes the product in the admin: it is gone from every query, its
        media with it, and Shopify sends products/delete."""
        shop = self.shops[domain]
        with shop.lock:
            product = shop.products.pop(st.gid_number(product_gid))
            for media_id in product.media_ids:
                shop.media.pop(media_id, None)
        self.notify_deleted(domain, product.id)

    def add_variant(self, domain: str, product_gid: str, title: str,
                    media_gid: str | None = None, *, notify: bool = True) -> str:
        """The merchant adds an option value (the default variant goes, as in the admin) and
        picks one of the product's media for it."""
        shop = self.shops[domain]
        with shop.lock:
            product = shop.products[st.gid_number(product_gid)]
            if product.has_only_default_variant():
                product.variants = []
            media = [st.gid_number(media_gid)] if media_gid else []
            assert all(m in product.media_ids for m in media), "a media of the product"
            variant = st.Variant(id=self.ids.next(), title=title, media_ids=media)
            product.variants.append(variant)
            product.updated_at = st.now_iso()
        if notify:
            self.notify(domain, "products/update", product.id)
        return st.gid("ProductVariant", variant.id)

    def variant_media(self, domain: str, variant_gid: str) -> list[str]:
        """The media ids a variant shows, for assertions."""
        shop = self.shops[domain]
        with shop.lock:
            for product in shop.products.values():
                for variant in product.variants:
                    if variant.id == st.gid_number(variant_gid):
                        return [st.gid("MediaImage", m) for m in variant.media_ids]
        raise KeyError(variant_gid)

    def reorder_media(self, domain: str, product_gid: str, media_gids: list[str]) -> None:
        """The merchant drags the gallery into this order in the admin (first: featured)."""
        shop = self.shops[domain]
        with shop.lock:
            product = shop.products[st.gid_number(product_gid)]
            wanted = [st.gid_number(g) for g in media_gids]
            assert sorted(wanted) == sorted(product.media_ids), "name every media once"
            product.media_ids = wanted
            product.updated_at = st.now_iso()
        self.notify(domain, "products/update", product.id)

    def product_media(self, domain: str, product_gid: str) -> list[dict]:
        """The product's gallery in order, for assertions."""
        shop = self.shops[domain]
        clock = time.monotonic()
        with shop.lock:
            product = shop.products[st.gid_number(product_gid)]
            return [
                {"id": st.gid("MediaImage", m.id), "alt": m.alt, "status": m.status(clock),
                 "filename": m.filename, "error": m.error, "data": m.data}
                for m in (shop.media[i] for i in product.media_ids)
            ]

    def graphql(self, token: str, version: str, body: dict) -> tuple[int, dict]:
        if version != API_VERSION:
            return 404, {"errors": "Not Found"}
        entry = self.tokens.get(token)
        if entry is None or (entry[1] is not None and time.monotonic() > entry[1]):
            return 401, {"errors": "[API] Invalid API key or access token "
                                   "(unrecognized login or wrong password)"}
        shop = self.shops[entry[0]]
        with self._lock:
            self.stats["graphql"] += 1
            if self.fail_next:
                return self.fail_next.pop(0), {"errors": "Internal Server Error"}
        query = body.get("query") or ""
        variables = body.get("variables") or {}
        document, errors = self._document(query)
        if errors:
            return 200, {"errors": errors}
        name = document.definitions[0].name.value if document.definitions[0].name else "-"
        with self._lock:
            self.op_counts[name] = self.op_counts.get(name, 0) + 1
        too_long = [k for k, v in variables.items()
                    if isinstance(v, list) and len(v) > MAX_INPUT_ITEMS]
        if too_long:
            return 200, {"errors": [{
                "message": f"The input array size of {len(variables[too_long[0]])} is greater "
                           f"than the maximum allowed of {MAX_INPUT_ITEMS}.",
                "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"}}]}
        requested = requested_cost(self.schema, document, variables)
        bucket = shop.bucket
        if requested > MAX_QUERY_COST:
            with self._lock:
                self.stats["max_cost"] += 1
            return 200, {
                "errors": [{
                    "message": f"Query cost is {requested}, which exceeds the single query "
                               f"max cost limit ({MAX_QUERY_COST}).",
                    "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                   "maxCost": MAX_QUERY_COST},
                }],
            }
        with shop.lock:
            bucket.refill(time.monotonic())
            if bucket.available < requested:
                with self._lock:
                    self.stats["throttled"] += 1
                return self.throttle_http_status, {
                    "errors": [{"message": "Throttled", "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": self._cost(requested, None, bucket)},
                }
            bucket.available -= requested
            result = execute(self.schema, document, root_value=Root(self, shop),
                             variable_values=variables)
            data = result.data
            actual = actual_cost(self.schema, document, variables, data)
            bucket.available = min(bucket.maximum, bucket.available + requested - actual)
            with self._lock:
                self.stats["cost"] += actual
                self.stats["requested"] += requested
            out: dict = {"data": data, "extensions": {"cost": self._cost(requested, actual,
                                                                         bucket)}}
        if result.errors:
            out["errors"] = [_format(e) for e in result.errors]
        with self._lock:
            if name in self.lose_answer:  # it ran; the client never hears so
                self.lose_answer.discard(name)
                return 502, {"errors": "Bad Gateway"}
        return 200, out

    def _document(self, query: str):
        cached = self._documents.get(query)
        if cached is None:
            try:
                document = parse(query)
                errors = [_format(e) for e in validate(self.schema, document, specified_rules)]
            except GraphQLError as exc:
                document, errors = None, [_format(exc)]
            cached = self._documents[query] = (document, errors)
        return cached

    @staticmethod
    def _cost(requested: int, actual: int | None, bucket: st.Bucket) -> dict:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": bucket.maximum,
                "currentlyAvailable": int(bucket.available),
                "restoreRate": bucket.restore_rate,
            },
        }

    def _new_media(self, shop: st.Shop, filename: str, data: bytes, content_type: str,
                   alt: str, delays: tuple[float, float] | None = None) -> st.Media:
        first, second = delays if delays is not None else self.media_delays
        size = st.image_size(data) if data else None
        error = "" if size else ("GENERIC_FILE_DOWNLOAD_FAILURE" if not data
                                 else "UNSUPPORTED_IMAGE_FILE_TYPE")
        with self._lock:
            if delays is None and self.fail_media_next > 0 and not error:
                self.fail_media_next -= 1
                error = "IMAGE_PROCESSING_FAILURE"
        now = time.monotonic()
        media = st.Media(
            id=self.ids.next(), filename=st.unique_filename(shop, filename), data=data,
            content_type=content_type, alt=alt, processing_at=now + first,
            ready_at=now + first + second, error=error,
            width=size[0] if size else None, height=size[1] if size else None,
        )
        shop.media[media.id] = media
        return media

    def cdn_url(self, shop: st.Shop, media: st.Media) -> str:
        return f"{self.base_url}/cdn/shops/{shop.name}/files/{media.filename}?v={media.version}"

    def _sign(self, key: str) -> str:
        return hmac.new(self._upload_key, key.encode(), hashlib.sha256).hexdigest()

    def receive_upload(self, key: str, signature: str, data: bytes) -> int:
        upload = self.uploads.get(key)
        if upload is None or not hmac.compare_digest(signature, upload.signature):
            return 403
        upload.data = data
        return 201

    def upload_for(self, resource_url: str) -> st.StagedUpload | None:
        path = urlsplit(resource_url).path
        match = re.match(r"^/staged-uploads/tmp/[^/]+/([0-9a-f]+)/", path)
        return self.uploads.get(match.group(1)) if match else None

    def run_bulk(self, shop: st.Shop, query: str) -> st.BulkOperation:
        document = parse(query)
        result = execute(self.schema, document, root_value=Root(self, shop, unbounded=True))
        lines = []
        roots = 0
        for connection in (result.data or {}).values():
            for node in items(connection):
                roots += 1
                flatten(node, None, lines)
        now = time.monotonic()
        op = st.BulkOperation(
            id=self.ids.next(), query=query, created=now, done_at=now + self.bulk_delay,
            lines=b"".join(json.dumps(line).encode() + b"\n" for line in lines),
            object_count=len(lines), root_count=roots,
        )
        shop.bulk[op.id] = op
        timer = threading.Timer(self.bulk_delay, self._bulk_finished, args=(shop, op))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()
        return op


def _format(error: GraphQLError) -> dict:
    formatted = error.formatted
    formatted.setdefault("extensions", {})
    return formatted
