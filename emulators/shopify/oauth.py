"""Shopify's OAuth side: access tokens, the token endpoint (token exchange of ID tokens,
expiring offline tokens with refresh, where the previous refresh token stays valid until the
new one is used; authorization codes) and the ID tokens App Bridge hands the embedded page."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import jwt

from emulators.shopify import state as st

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


class OAuthServer:
    api_key: str
    api_secret: str
    scopes: str
    tokens: dict[str, tuple[str, float | None]]
    refresh_tokens: dict[str, dict]
    codes: dict[str, str]
    stats: dict[str, int]
    add_shop: Callable[..., st.Shop]  # server.ShopifyEmulator

    def issue_token(self, domain: str, *, expires_in: float | None = None) -> str:
        self.add_shop(domain)
        token = "shpat_" + secrets.token_hex(16)
        expires = time.monotonic() + expires_in if expires_in is not None else None
        self.tokens[token] = (domain, expires)
        return token

    def authorize(self, domain: str) -> str:
        """What Shopify's authorize page does once the merchant approves: a one-use code."""
        self.add_shop(domain)
        code = secrets.token_hex(16)
        self.codes[code] = domain
        return code

    def revoke_refresh_tokens(self, domain: str) -> None:
        for token in [t for t, v in self.refresh_tokens.items() if v["shop"] == domain]:
            del self.refresh_tokens[token]

    def uninstall(self, domain: str) -> None:
        """The merchant removes the app: Shopify revokes every access and refresh token the
        app holds for the shop at once (the Admin API answers 401 to them from then on) and
        sends app/uninstalled (send it with `send_webhook(..., shop_payload(domain))`)."""
        for token in [t for t, (shop, _) in self.tokens.items() if shop == domain]:
            del self.tokens[token]
        self.revoke_refresh_tokens(domain)

    def id_token(self, domain: str, *, secret: str | None = None, aud: str | None = None,
                 exp_in: float = 60, nbf_in: float = 0, sub: str = "42", **extra) -> str:
        """An ID (session) token as App Bridge hands one to the embedded page."""
        now = int(time.time())
        claims = {
            "iss": f"https://{domain}/admin",
            "dest": f"https://{domain}",
            "aud": self.api_key if aud is None else aud,
            "sub": sub,
            "exp": now + int(exp_in),
            "nbf": now + int(nbf_in),
            "iat": now + int(nbf_in),
            "jti": str(uuid.uuid4()),
            "sid": secrets.token_hex(16),
            **extra,
        }
        return jwt.encode(claims, secret or self.api_secret, algorithm="HS256")

    def oauth(self, body: dict) -> tuple[int, dict]:
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.api_secret:
            return 400, {"error": "invalid_client"}
        grant = body.get("grant_type", "")
        expiring = str(body.get("expiring", "0")) == "1"
        if grant == TOKEN_EXCHANGE:
            if body.get("subject_token_type") != ID_TOKEN_TYPE:
                return 400, {"error": "invalid_request"}
            try:
                claims = jwt.decode(body.get("subject_token", ""), self.api_secret,
                                    algorithms=["HS256"], audience=self.api_key, leeway=10)
            except jwt.PyJWTError:
                return 400, {"error": "invalid_subject_token"}
            shop = urlsplit(claims.get("dest", "")).hostname or ""
            self.stats["exchange"] += 1
            return 200, self._grant(shop, expiring)
        if grant == "refresh_token":
            entry = self.refresh_tokens.get(body.get("refresh_token", ""))
            if entry is None:
                return 400, {"error": "invalid_grant"}
            self.stats["refresh"] += 1
            previous = entry.get("previous")
            if previous:
                self.refresh_tokens.pop(previous, None)  # spent: the new one was used
            return 200, self._grant(entry["shop"], True, previous=body["refresh_token"])
        if "code" in body:
            shop = self.codes.pop(body["code"], None)
            if shop is None:
                return 400, {"error": "invalid_grant"}
            return 200, self._grant(shop, expiring)
        return 400, {"error": "unsupported_grant_type"}

    def _grant(self, shop: str, expiring: bool, previous: str = "") -> dict:
        token = self.issue_token(shop, expires_in=3600 if expiring else None)
        answer = {"access_token": token, "scope": self.scopes}
        if expiring:
            refresh = "shprt_" + secrets.token_hex(16)
            self.refresh_tokens[refresh] = {"shop": shop, "previous": previous}
            answer.update(expires_in=3599, refresh_token=refresh,
                          refresh_token_expires_in=7_776_000)
        return answer
