"""Webhook deliveries from a background thread, as WC_Webhook sends them.

A ping is a form body `webhook_id=N` with no signature and no X-WC headers. A delivery carries
the product's representation built at send time, signed with the webhook's secret (base64
HMAC-SHA256); repeated changes while one is pending collapse into one delivery. No retries,
ever: 2xx and 300-302 reset the failure counter, anything else increments it, and past
`max_failures` the webhook is set to `disabled`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import urlencode

import requests

from emulators.woocommerce.state import StoreState


class Deliveries(StoreState):
    url: str
    max_failures: int
    delivery_delay: float
    product_json: Callable[[dict], dict]  # products.Products

    def redeliver(self, webhook_id: int, resource_id: int) -> None:
        """Send the same delivery again (a new X-WC-Webhook-Delivery-ID, same payload)."""
        self._queue.put(("delivery", webhook_id, resource_id))

    def wait_deliveries(self, timeout: float = 30.0) -> None:
        """Block until every queued ping and delivery has been sent."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook deliveries did not finish")
            time.sleep(0.02)

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
                if hook["status"] != "active":
                    return
                if hook["topic"].endswith(".deleted"):  # WC_Webhook: a deletion sends the id
                    resource = {"id": resource_id}
                elif product is None:
                    return
                else:
                    resource = self.product_json(product)
                body = json.dumps(resource, separators=(",", ":"))
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
