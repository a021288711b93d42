"""The companion plugin's handoff: a short-lived signed token, verified here, which the view
(views.woocommerce_session) trades for a PhotoSync session.

The WordPress plugin (integrations/woocommerce/wordpress-plugin) renders PhotoSync in an iframe
on a WooCommerce admin page, for users with `manage_woocommerce`. It signs a token with the
store's embed secret, which PhotoSync generated and wrote into the plugin's options through
WooCommerce's settings API (health.py); the token never carries the secret.

Token: `base64url(payload JSON) "." base64url(HMAC-SHA256(embed secret, first part))`, the
payload `{"v": 1, "iss": home URL, "store": PhotoSync store id, "sub": WordPress user id,
"name": display name, "iat": unix time, "exp": unix time, "jti": random hex}`; at most
five minutes between iat and exp, and each jti is accepted once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.core.cache import cache

from photosync.models import Platform, Store
from photosync.services.credentials import store_credentials_get
from photosync.services.woocommerce.endpoints import url_origin

MAX_AGE = 300  # seconds a token may live
CLOCK_SKEW = 60  # seconds the store's clock may run ahead of ours


class EmbedTokenError(Exception):
    """The token is refused; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class EmbedClaims:
    store_id: int
    wp_user: str
    name: str
    expires_at: int
    jti: str


def woocommerce_embed_token_verify(
    *, store: Store, token: str, now: float | None = None
) -> EmbedClaims:
    """Check the token's signature (the store's embed secret), store, origin, age and
    freshness; raise EmbedTokenError otherwise. A verified token cannot be used again."""
    now = time.time() if now is None else now
    if store.platform != Platform.WOOCOMMERCE or store.status != Store.Status.ACTIVE:
        raise EmbedTokenError("This store is not connected to PhotoSync.")
    secret = store_credentials_get(store=store).get("embed_secret") or ""
    body, _, signature = (token or "").strip().partition(".")
    if not body or not signature or not secret:
        raise EmbedTokenError("The sign-in link is malformed.")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    try:
        given = _b64url_decode(signature)
        claims = json.loads(_b64url_decode(body))
    except (ValueError, binascii.Error):
        raise EmbedTokenError("The sign-in link is malformed.") from None
    if not hmac.compare_digest(expected, given):
        raise EmbedTokenError("The sign-in link is not signed by this store.")
    if not isinstance(claims, dict) or claims.get("v") != 1:
        raise EmbedTokenError("The sign-in link has an unknown format.")
    iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
    if str(claims.get("store")) != str(store.pk) or (
        url_origin(claims.get("iss")) != url_origin(store.domain)
    ):
        raise EmbedTokenError("The sign-in link is for another store.")
    if not all(isinstance(v, int) for v in (iat, exp)) or not isinstance(jti, str):
        raise EmbedTokenError("The sign-in link is malformed.")
    if iat > now + CLOCK_SKEW or exp <= now or exp - iat > MAX_AGE:
        raise EmbedTokenError("The sign-in link has expired; reload the page in WordPress.")
    if not 16 <= len(jti) <= 64 or not cache.add(
        f"photosync:wc-embed:{store.pk}:{jti}", 1, timeout=int(exp - now) + CLOCK_SKEW
    ):
        raise EmbedTokenError("The sign-in link was already used; reload the page in WordPress.")
    return EmbedClaims(
        store_id=store.pk,
        wp_user=str(claims.get("sub") or ""),
        name=str(claims.get("name") or "")[:150],
        expires_at=exp,
        jti=jti,
    )


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
