"""REST API keys and OAuth 1.0a one-legged authentication, checked as
WC_REST_Authentication checks it over plain http (WooCommerce ignores Basic auth there).

Parameters come from the query string (PHP's last-wins `$_GET`), sorted with strcmp,
RFC 3986 encoded twice, `METHOD&rawurlencode(home + path)&params`, HMAC-SHA1 or -SHA256 with
key `secret&`, a 15 minute timestamp window and single-use nonces. Read keys may not write.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import quote, unquote

from emulators.woocommerce.handler import RequestHandler, RestError
from emulators.woocommerce.state import StoreState


def rawurlencode(value: str) -> str:
    """PHP's rawurlencode (RFC 3986: only A-Z a-z 0-9 - _ . ~ stay)."""
    return quote(value, safe="-_.~")


def rfc3986(value: str) -> str:
    """WooCommerce's wc_rest_urlencode_rfc3986."""
    return rawurlencode(value).replace("+", " ").replace("%7E", "~")


class ApiKeys(StoreState):
    url: str

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

    def _authenticate(self, req: RequestHandler, method: str, path: str, query: dict) -> dict:
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
