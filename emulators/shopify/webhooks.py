"""Signed webhook deliveries to the app, as Shopify sends them: the products/create|update
payload (REST-shaped) built at send time, products/delete (only the id),
bulk_operations/finish, on a small thread pool."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import requests

from emulators.shopify import state as st
from emulators.shopify.schema import API_VERSION


class WebhookSender:
    api_secret: str
    webhook_url: str
    shops: dict[str, st.Shop]
    deliveries: list[tuple[str, str, int]]
    _lock: threading.RLock
    _pool: ThreadPoolExecutor
    _pending: list[Future]
    cdn_url: Callable[[st.Shop, st.Media], str]  # server.ShopifyEmulator

    def notify(self, domain: str, topic: str, product_id: int) -> Future | None:
        """Queue the webhook Shopify sends after a change (delivered on a pool thread)."""
        if not self.webhook_url:
            return None
        payload = self._product_payload(self.shops[domain], product_id)
        future = self._pool.submit(self.send_webhook, domain, topic, payload)
        self._pending.append(future)
        return future

    def notify_deleted(self, domain: str, product_id: int) -> Future | None:
        """products/delete as Shopify sends it: the body is only `{"id": <product id>}`."""
        if not self.webhook_url:
            return None
        future = self._pool.submit(self.send_webhook, domain, "products/delete",
                                   {"id": product_id})
        self._pending.append(future)
        return future

    def send_webhook(self, domain: str, topic: str, payload: dict, *, webhook_id: str = "",
                     url: str = "", secret: str = "", triggered_at: str = "") -> int:
        """Deliver one signed webhook to the app; return its HTTP status."""
        body = json.dumps(payload).replace("/", "\\/").encode()
        signature = base64.b64encode(
            hmac.new((secret or self.api_secret).encode(), body, hashlib.sha256).digest()
        ).decode()
        webhook_id = webhook_id or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": triggered_at or st.now_iso(),
        }
        try:
            response = requests.post(url or self.webhook_url, data=body, headers=headers,
                                     timeout=(1, 5), allow_redirects=False)
            status = response.status_code
        except requests.RequestException:
            status = 0
        with self._lock:
            self.deliveries.append((topic, webhook_id, status))
        return status

    def wait_for_webhooks(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self._pending:
            future = self._pending.pop(0)
            future.result(timeout=max(0.1, deadline - time.monotonic()))

    def shop_payload(self, domain: str) -> dict:
        """app/uninstalled as Shopify sends it: the shop (REST-shaped), which names itself in
        `myshopify_domain` (and its primary domain in `domain`)."""
        shop = self.shops[domain]
        return {
            "id": st.ID_BASE + sorted(self.shops).index(domain) + 1,
            "name": shop.name.title(),
            "email": f"owner@{shop.name}.example",
            "domain": domain,
            "myshopify_domain": domain,
            "province": None,
            "country": "US",
            "currency": "USD",
            "plan_name": "basic",
            "created_at": st.now_iso(),
        }

    def compliance_payload(self, topic: str, domain: str) -> dict:
        """shop/redact and customers/* as Shopify sends them: they name the shop in
        `shop_domain`."""
        payload: dict = {"shop_id": self.shop_payload(domain)["id"], "shop_domain": domain}
        if topic.startswith("customers/"):
            payload["customer"] = {"id": 191167, "email": "john@example.com",
                                   "phone": "555-625-1199"}
            payload["orders_to_redact" if topic == "customers/redact"
                    else "orders_requested"] = [299938, 280263]
        return payload

    def _product_payload(self, shop: st.Shop, product_id: int) -> dict:
        """products/create|update as Shopify sends it (REST-shaped)."""
        clock = time.monotonic()
        with shop.lock:
            product = shop.products[product_id]
            media = [shop.media[i] for i in product.media_ids]
            ready = [m for m in media if m.status(clock) == "READY"]
            images = [
                {"id": m.id, "position": n + 1, "alt": m.alt, "width": m.width,
                 "height": m.height, "src": self.cdn_url(shop, m), "variant_ids": [],
                 "admin_graphql_api_id": st.gid("ProductImage", m.id)}
                for n, m in enumerate(ready)
            ]
            return {
                "id": product.id,
                "admin_graphql_api_id": st.gid("Product", product.id),
                "title": product.title,
                "body_html": "",
                "vendor": shop.name,
                "product_type": product.product_type,
                "handle": re.sub(r"[^a-z0-9]+", "-", product.title.lower()).strip("-"),
                "status": product.status.lower(),
                "tags": "",
                "updated_at": product.updated_at,
                "variants": [],
                "options": [],
                "images": images,
                "image": images[0] if images else None,
                "media": [
                    {"id": m.id, "position": n + 1, "alt": m.alt,
                     "status": m.status(clock).lower(), "media_content_type": "IMAGE",
                     "preview_image": None,
                     "admin_graphql_api_id": st.gid("MediaImage", m.id)}
                    for n, m in enumerate(media)
                ],
            }

    def _bulk_finished(self, shop: st.Shop, op: st.BulkOperation) -> None:
        if not self.webhook_url or op.notified:
            return
        op.notified = True
        payload = {
            "admin_graphql_api_id": st.gid("BulkOperation", op.id),
            "completed_at": st.now_iso(),
            "created_at": st.now_iso(),
            "error_code": None,
            "status": "completed",
            "type": "query",
        }
        self._pending.append(self._pool.submit(
            self.send_webhook, shop.domain, "bulk_operations/finish", payload))

