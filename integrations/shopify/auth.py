"""Installing and authenticating: shop names, OAuth query HMACs, ID (session) tokens, and the
token grants (token exchange, authorization code, refresh of expiring offline tokens).

Checks are pure functions; the grants go through `transport.oauth_token`, the one HTTP path.
Nothing here logs or puts a token or secret into an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import jwt

from integrations.errors import AuthRevoked, Invalid
from integrations.shopify import transport

SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
ID_TOKEN_LEEWAY_S = 10
AUTH_CALLBACK_MAX_AGE_S = 300  # how old the `timestamp` of an OAuth callback may be

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


def normalize_shop(value: str | None) -> str | None:
    """`name.myshopify.com` lower-cased, or None when it is anything else (no scheme, port,
    path or other host is accepted)."""
    shop = (value or "").strip().lower()
    return shop if SHOP_RE.fullmatch(shop) else None


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 of the query: `hmac`/`signature` dropped, the rest sorted, `k=v&...`."""
    message = "&".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature")
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_query_hmac(params: Mapping[str, str], secrets: Iterable[str]) -> bool:
    given = str(params.get("hmac") or "").strip().lower().encode()
    ok = False
    for secret in secrets:
        if secret:
            ok |= hmac.compare_digest(query_hmac(params, secret).encode(), given)
    return ok and bool(given)


def timestamp_fresh(value: str | None, *, max_age: float = AUTH_CALLBACK_MAX_AGE_S,
                    now: float | None = None) -> bool:
    try:
        stamp = int(str(value))
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    return -ID_TOKEN_LEEWAY_S <= now - stamp <= max_age


def authorize_url(*, shop: str, api_key: str, scopes: str, redirect_uri: str, state: str,
                  api_origin: str = "") -> str:
    origin = api_origin.rstrip("/") if api_origin else f"https://{shop}"
    query = urlencode({"client_id": api_key, "scope": scopes, "redirect_uri": redirect_uri,
                       "state": state})
    return f"{origin}/admin/oauth/authorize?{query}"


class InvalidIdToken(Exception):
    """The ID token is not acceptable; the message names why (safe to log)."""


@dataclass(frozen=True)
class IdToken:
    shop: str
    user_id: str  # `sub`: the staff member in the shop's admin
    session_id: str
    expires_at: int


def decode_id_token(token: str, *, api_key: str, secrets: Iterable[str],
                    leeway: int = ID_TOKEN_LEEWAY_S) -> IdToken:
    """Validate an App Bridge ID token: HS256 with the current or previous client secret,
    `exp`/`nbf` with `leeway` seconds, `aud` equal to our client id, `dest` a shop whose host
    `iss` agrees with. Raises InvalidIdToken."""
    if not token or token.count(".") != 2:
        raise InvalidIdToken("not a JWT")
    last_error: Exception | None = None
    for secret in [s for s in secrets if s]:
        try:
            claims = jwt.decode(
                token, secret, algorithms=["HS256"], audience=api_key, leeway=leeway,
                options={"require": ["exp", "nbf", "iss", "dest", "aud", "sub"]},
            )
            break
        except jwt.InvalidSignatureError as exc:
            last_error = exc
            continue  # maybe signed with the other secret
        except jwt.ExpiredSignatureError:
            raise InvalidIdToken("expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidIdToken("not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidIdToken("wrong audience") from None
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"malformed ({type(exc).__name__})") from None
    else:
        raise InvalidIdToken("bad signature" if last_error else "no secret configured")
    shop = normalize_shop(urlsplit(str(claims["dest"])).hostname)
    if shop is None or urlsplit(str(claims["dest"])).scheme != "https":
        raise InvalidIdToken("dest is not a shop")
    if urlsplit(str(claims["iss"])).hostname != shop:
        raise InvalidIdToken("iss and dest disagree")
    return IdToken(shop=shop, user_id=str(claims["sub"]), session_id=str(claims.get("sid", "")),
                   expires_at=int(claims["exp"]))


@dataclass(frozen=True)
class TokenSet:
    """An offline access token, with its refresh token when it expires."""

    access_token: str
    scope: str
    expires_at: float | None = None  # epoch seconds; None: does not expire (custom apps)
    refresh_token: str = ""
    refresh_expires_at: float | None = None

    def as_credentials(self) -> dict:
        return {
            "access_token": self.access_token,
            "scope": self.scope,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "refresh_expires_at": self.refresh_expires_at,
        }


def _token_set(answer: dict, now: float) -> TokenSet:
    expires_in = answer.get("expires_in")
    refresh_in = answer.get("refresh_token_expires_in")
    return TokenSet(
        access_token=str(answer["access_token"]),
        scope=str(answer.get("scope") or ""),
        expires_at=now + float(expires_in) if expires_in else None,
        refresh_token=str(answer.get("refresh_token") or ""),
        refresh_expires_at=now + float(refresh_in) if refresh_in else None,
    )


def _grant(endpoint: transport.Endpoint, payload: dict) -> TokenSet:
    now = time.time()
    try:
        answer = transport.oauth_token(endpoint, payload)
    except transport.OAuthRefused as exc:
        if exc.code in ("invalid_grant", "invalid_subject_token", "invalid_client"):
            raise AuthRevoked(
                "Shopify no longer accepts this store's authorization; the merchant must open "
                "the app again to re-authorize it."
            ) from None
        raise Invalid(exc.message) from None
    return _token_set(answer, now)


def exchange_id_token(endpoint: transport.Endpoint, *, api_key: str, api_secret: str,
                      id_token: str) -> TokenSet:
    """Token exchange (embedded apps): an ID token for an expiring offline access token."""
    return _grant(endpoint, {
        "client_id": api_key,
        "client_secret": api_secret,
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": id_token,
        "subject_token_type": ID_TOKEN_TYPE,
        "requested_token_type": OFFLINE_TOKEN_TYPE,
        "expiring": "1",
    })


def exchange_code(endpoint: transport.Endpoint, *, api_key: str, api_secret: str,
                  code: str) -> TokenSet:
    """The authorization-code grant (non-embedded installs), asking for an expiring token."""
    return _grant(endpoint, {
        "client_id": api_key, "client_secret": api_secret, "code": code, "expiring": "1",
    })


def refresh_access_token(endpoint: transport.Endpoint, *, api_key: str, api_secret: str,
                         refresh_token: str) -> TokenSet:
    """A new access token and a new refresh token; the old refresh token stays valid until
    the new one is first used. `invalid_grant` → AuthRevoked (the merchant must re-authorize).
    """
    if not refresh_token:
        raise AuthRevoked("This store's Shopify token expired and cannot be refreshed; "
                          "the merchant must open the app again.")
    return _grant(endpoint, {
        "client_id": api_key, "client_secret": api_secret,
        "grant_type": "refresh_token", "refresh_token": refresh_token,
    })
