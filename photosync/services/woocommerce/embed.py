"""The companion plugin's handoff: a short-lived signed token traded for a PhotoSync session.

The WordPress plugin (integrations/woocommerce/wordpress-plugin) renders PhotoSync in an iframe
on a WooCommerce admin page, for users with `manage_woocommerce`. It signs a token with the
store's embed secret, which PhotoSync generated and wrote into the plugin's options through
WooCommerce's settings API (health.py); the token never carries the secret.

Token: `base64url(payload JSON) "." base64url(HMAC-SHA256(embed secret, first part))`, the
payload `{"v": 1, "iss": home URL, "store": PhotoSync store id, "sub": WordPress user id,
"name": display name, "iat": unix time, "exp": unix time, "jti": random hex}`; at most
five minutes between iat and exp, and each jti is accepted once.

Pages shown to a store in its iframe send `Content-Security-Policy: frame-ancestors <store
origin>` (`woocommerce_frame_headers`) and no X-Frame-Options.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model, login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from photosync.models import Platform, Store
from photosync.services.stores import store_credentials_get, store_staff_username

MAX_AGE = 300  # seconds a token may live
CLOCK_SKEW = 60  # seconds the store's clock may run ahead of ours
SESSION_KEY = "photosync_store_id"


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
    if str(claims.get("store")) != str(store.pk) or _origin(claims.get("iss")) != _origin(
        store.domain
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


def woocommerce_embed_session_start(
    *, request: HttpRequest, store: Store, claims: EmbedClaims
):
    """Sign the WordPress user in as the store's staff account, bound to that one store;
    return the account."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=store_staff_username(store=store, remote_user_id=f"wp{claims.wp_user}"),
        defaults={"first_name": claims.name[:150]},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = store.pk
    return user


def woocommerce_session_store(*, request: HttpRequest) -> Store | None:
    """The store an embedded session is bound to, if any."""
    store_id = request.session.get(SESSION_KEY)
    if not store_id:
        return None
    return Store.objects.filter(
        pk=store_id, platform=Platform.WOOCOMMERCE, status=Store.Status.ACTIVE
    ).first()


def woocommerce_frame_headers(response: HttpResponse, *, store: Store) -> HttpResponse:
    """Let only this store's admin frame the response."""
    response["Content-Security-Policy"] = f"frame-ancestors {_origin(store.domain)}"
    response.xframe_options_exempt = True
    return response


def _origin(url: object) -> str:
    parts = urlsplit(str(url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = 443 if parts.scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the page's own credential inside the iframe ------------------------------------------
# Browsers do not send our cookies inside another site's iframe (SameSite), so the embedded
# page authenticates its API calls with a signed token it received in the page itself,
# like the Shopify page does with ID tokens: `Authorization: PhotoSync <token>`.
APP_TOKEN_SALT = "photosync.woocommerce-embed"
APP_TOKEN_MAX_AGE = 8 * 3600


def woocommerce_app_token(*, store: Store, username: str) -> str:
    from django.core import signing

    return signing.dumps({"s": store.pk, "u": username}, salt=APP_TOKEN_SALT, compress=True)


def woocommerce_app_token_user(token: str):
    """The staff account a valid, unexpired app token names, bound to its active store;
    None otherwise."""
    from django.core import signing

    try:
        data = signing.loads(token, salt=APP_TOKEN_SALT, max_age=APP_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    store = Store.objects.filter(pk=data.get("s"), platform=Platform.WOOCOMMERCE,
                                 status=Store.Status.ACTIVE).first()
    if store is None or not str(data.get("u", "")).startswith(f"store{store.pk}:"):
        return None
    return get_user_model().objects.filter(username=data["u"], is_active=True).first()
