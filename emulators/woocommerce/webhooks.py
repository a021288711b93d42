"""Webhooks as `/webhooks` manages them: CRUD with status and paging; creating an active
webhook queues a ping (see deliveries.py)."""

from __future__ import annotations

import math
import secrets
import time
from urllib.parse import urlsplit

from emulators.woocommerce.handler import RestError, int_param, send_json
from emulators.woocommerce.state import StoreState, gmt

TOPICS = {
    "product.created", "product.updated", "product.deleted", "product.restored",
    "order.created", "order.updated",
}


class Webhooks(StoreState):
    def webhook(self, topic: str) -> dict | None:
        with self.lock:
            hooks = [h for h in self.webhooks.values() if h["topic"] == topic]
            return dict(hooks[0]) if hooks else None

    def webhook_json(self, hook: dict) -> dict:
        resource, event = hook["topic"].split(".", 1)
        return {
            "id": hook["id"], "name": hook["name"], "status": hook["status"],
            "topic": hook["topic"], "resource": resource, "event": event,
            "hooks": [f"woocommerce_{event}_{resource}"], "delivery_url": hook["delivery_url"],
            "date_created": gmt(hook["created"]), "date_created_gmt": gmt(hook["created"]),
            "date_modified": gmt(hook["modified"]), "date_modified_gmt": gmt(hook["modified"]),
        }

    def _webhooks(self, req, method, segments, query, body) -> None:
        if not segments:
            if method == "GET":
                per_page = int_param(query, "per_page", 10)
                if not 1 <= per_page <= 100:
                    raise RestError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
                page = int_param(query, "page", 1)
                status = query.get("status", "all")
                with self.lock:
                    hooks = [h for h in sorted(self.webhooks.values(), key=lambda h: h["id"])
                             if status == "all" or h["status"] == status]
                    chunk = [self.webhook_json(h)
                             for h in hooks[(page - 1) * per_page:page * per_page]]
                pages = math.ceil(len(hooks) / per_page) if hooks else 0
                return send_json(req, 200, chunk, {"X-WP-Total": str(len(hooks)),
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
                    return send_json(req, 200, self.webhook_json(hook))
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
                    return send_json(req, 200, self.webhook_json(hook))
                if method == "DELETE":
                    if query.get("force") not in ("true", "1"):
                        raise RestError(501, "woocommerce_rest_trash_not_supported",
                                        "Webhooks do not support trashing.")
                    del self.webhooks[hid]
                    return send_json(req, 200, self.webhook_json(hook))
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
        send_json(req, 201, out)
