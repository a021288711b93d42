"""The companion plugin's handoff and the embedded page's own credential, both standard HS256
JWTs (PyJWT here, a few lines of PHP in the plugin's includes/token.php).

The WordPress plugin (integrations/woocommerce/wordpress-plugin) renders PhotoSync in an iframe
on a WooCommerce admin page, for users with `manage_woocommerce`. It signs a handoff token
with the store's embed secret, which PhotoSync generated and wrote into the plugin's options
through WooCommerce's settings API (health.py); the token never carries the secret.

Handoff token claims: `iss` the store's home URL (its origin must be the store's), `aud`
`photosync:woocommerce-embed`, `sub` the WordPress user id, `store` PhotoSync's store id,
`name`, `iat`, `exp` (at most five minutes after iat) and a random `jti`. A verified token
is spent in the database (`UsedToken`, unique on the jti), so it opens one session whichever
process gets it; spent rows are deleted once expired.

Page token (what the iframe's page sends as `Authorization: PhotoSync <token>`): signed with a
key derived from SECRET_KEY, `iss` PHOTOSYNC_PUBLIC_URL, `aud` `photosync:woocommerce-page`,
`sub` the staff username, `store`, `iat`, `exp` (eight hours) and `jti`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from photosync.models import Platform, Store, UsedToken
from photosync.services.credentials import store_credentials_get
from photosync.services.woocommerce.endpoints import url_origin

MAX_AGE = 300  # seconds a handoff token may live
CLOCK_SKEW = 60  # seconds the store's clock may run ahead of ours
HANDOFF_AUDIENCE = "photosync:woocommerce-embed"
PAGE_AUDIENCE = "photosync:woocommerce-page"
PAGE_MAX_AGE = 8 * 3600
ALGORITHMS = ["HS256"]  # never "none", never an algorithm the token picks for itself


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
    """Check the token's signature (the store's embed secret), audience, store, origin, age
    and freshness, and spend it; raise EmbedTokenError otherwise. A verified token cannot be
    used again, by any process."""
    now = time.time() if now is None else now
    if store.platform != Platform.WOOCOMMERCE or store.status != Store.Status.ACTIVE:
        raise EmbedTokenError("This store is not connected to PhotoSync.")
    secret = store_credentials_get(store=store).get("embed_secret") or ""
    if not secret or (token or "").count(".") != 2:
        raise EmbedTokenError("The sign-in link is malformed.")
    claims = _decode(token.strip(), secret, audience=HANDOFF_AUDIENCE, now=now,
                     required=["iss", "aud", "sub", "iat", "exp", "jti", "store"])
    iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
    if str(claims["store"]) != str(store.pk) or (
        url_origin(claims["iss"]) != url_origin(store.domain)
    ):
        raise EmbedTokenError("The sign-in link is for another store.")
    if not all(isinstance(v, int) for v in (iat, exp)) or not isinstance(jti, str):
        raise EmbedTokenError("The sign-in link is malformed.")
    if iat > now + CLOCK_SKEW or exp - iat > MAX_AGE:
        raise EmbedTokenError("The sign-in link has expired; reload the page in WordPress.")
    if not 16 <= len(jti) <= 64 or not _spend(f"wc-embed:{store.pk}:{jti}", exp + CLOCK_SKEW):
        raise EmbedTokenError("The sign-in link was already used; reload the page in WordPress.")
    return EmbedClaims(
        store_id=store.pk,
        wp_user=str(claims.get("sub") or ""),
        name=str(claims.get("name") or "")[:150],
        expires_at=exp,
        jti=jti,
    )


def woocommerce_page_token(*, store: Store, username: str, now: float | None = None) -> str:
    """The embedded page's credential for API calls: this staff account, this store."""
    now = int(time.time() if now is None else now)
    claims = {"iss": settings.PHOTOSYNC_PUBLIC_URL, "aud": PAGE_AUDIENCE, "sub": username,
              "store": store.pk, "iat": now, "exp": now + PAGE_MAX_AGE,
              "jti": secrets.token_hex(16)}
    return jwt.encode(claims, _page_key(), algorithm=ALGORITHMS[0])


def woocommerce_page_token_claims(token: str) -> tuple[int, str] | None:
    """(store id, username) of a valid, unexpired page token; None otherwise."""
    try:
        claims = jwt.decode(token, _page_key(), algorithms=ALGORITHMS, audience=PAGE_AUDIENCE,
                            issuer=settings.PHOTOSYNC_PUBLIC_URL,
                            options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]})
    except jwt.PyJWTError:
        return None
    store_id = claims.get("store")
    if not isinstance(store_id, int) or not isinstance(claims["sub"], str):
        return None
    return store_id, claims["sub"]


def used_tokens_clean(*, now: datetime | None = None) -> int:
    """Delete spent tokens that have expired (they can no longer be presented)."""
    deleted, _ = UsedToken.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def _spend(jti: str, expires: float) -> bool:
    """Record `jti` as used; False when some process already did."""
    used_tokens_clean()
    try:
        with transaction.atomic():
            UsedToken.objects.create(jti=jti, expires_at=datetime.fromtimestamp(expires, UTC))
    except IntegrityError:
        return False
    return True


def _decode(token: str, secret: str, *, audience: str, now: float, required: list[str]) -> dict:
    try:
        claims = jwt.decode(
            token, secret, algorithms=ALGORITHMS, audience=audience,
            # exp and iat are checked below against `now`, iat with the store's clock skew
            options={"require": required, "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise EmbedTokenError("The sign-in link is not signed by this store.") from None
    except jwt.InvalidAudienceError:
        raise EmbedTokenError("The sign-in link is not meant for PhotoSync.") from None
    except jwt.PyJWTError:
        raise EmbedTokenError("The sign-in link is malformed.") from None
    if not isinstance(claims["exp"], int) or claims["exp"] <= now:
        raise EmbedTokenError("The sign-in link has expired; reload the page in WordPress.")
    return claims


def _page_key() -> str:
    return salted_hmac("photosync.woocommerce-page-token", "HS256",
                       algorithm="sha256").hexdigest()
