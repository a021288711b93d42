"""wc-auth: `/wc-auth/v1/authorize` validates the request, `access_granted` creates a key
and POSTs it (unsigned JSON) to the callback URL, deletes the key unless the answer is exactly
200, then redirects to `return_url?success=1&user_id=...`."""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlsplit

import requests

from emulators.woocommerce.auth import ApiKeys
from emulators.woocommerce.handler import add_query, redirect, send


class WcAuth(ApiKeys):
    allow_http_callback: bool

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

    def _wc_auth(self, req, action: str, query: dict) -> None:
        for name in ("app_name", "scope", "user_id", "return_url", "callback_url"):
            if not query.get(name):
                return send(req, 400, f"Missing parameter {name}".encode(), "text/plain")
        if query["scope"] not in ("read", "write", "read_write"):
            return send(req, 400, b"Invalid scope", "text/plain")
        if not query["callback_url"].startswith("https://") and not self.allow_http_callback:
            return send(req, 400, b"The callback_url needs to be over SSL", "text/plain")
        if action == "authorize":
            page = (f"<h1>{query['app_name']} would like to connect to your store</h1>"
                    f"<a href='/wc-auth/v1/access_granted?{urlencode(query)}'>Approve</a>")
            return send(req, 200, page.encode(), "text/html")
        if action == "access_denied":
            return redirect(req, add_query(query["return_url"],
                                            {"success": "0", "user_id": query["user_id"]}))
        if action != "access_granted":
            return send(req, 404, b"Not found", "text/plain")
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
            return send(req, 401, b"An error occurred in the request and at the time were "
                                  b"unable to send the consumer data", "text/plain")
        redirect(req, add_query(query["return_url"],
                                {"success": "1", "user_id": query["user_id"]}))
