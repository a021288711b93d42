"""Installing and authenticating: shop names, OAuth query HMACs, ID (session) tokens, and the
token grants (token exchange, authorization code, refresh of expiring offline tokens).

The HMAC and the ID token's signature, audience and claims are checked by Shopify's own Python
library (`shopify.Session.calculate_hmac` / `validate_hmac`, `shopify.session_token`); the
checks it leaves out are kept on top of it: `exp` and `nbf` required, `dest` an https
*.myshopify.com shop whose host `iss` names, a callback timestamp at most 5 minutes old, the
app proxy's `signature` parameter never signed (as Shopify's Node library does). Not used from
it: `Session.validate_params` (it accepts a day-old callback) and `Session.request_token` (its
own urllib request, without timeouts or our error mapping); the grants go through
`transport.oauth_token`. Checks are pure functions. Nothing here logs or puts a token or secret
into an exception message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import shopify
from shopify import session_token

from integrations.errors import AuthRevoked, Invalid
from integrations.shopify import transport

SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
ID_TOKEN_LEEWAY_S = session_token.LEEWAY_SECONDS  # 10 s, as Shopify's libraries allow
AUTH_CALLBACK_MAX_AGE_S = 300  # how old the `timestamp` of an OAuth callback may be
UNSIGNED_PARAMS = ("hmac", "signature")

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


def normalize_shop(value: str | None) -> str | None:
    """`name.myshopify.com` lower-cased, or None when it is anything else (no scheme, port,
    path or other host is accepted)."""
    shop = (value or "").strip().lower()
    return shop if SHOP_RE.fullmatch(shop) else None


def _signer(secret: str) -> type[shopify.Session]:
    """`shopify.Session` reads the secret from the class, and `Session.setup` would set it for
    the whole process; a subclass per call keeps the current and previous secrets (and
    threads) apart."""
    return type("SigningSession", (shopify.Session,), {"secret": secret})


def _signed_part(params: Mapping[str, str | Sequence[str]]) -> dict[str, Any]:
    """What Shopify signs: every parameter but `hmac` and `signature`, with a `name[]` value
    as the list of its values."""
    return {key: [value] if key.endswith("[]") and isinstance(value, str) else value
            for key, value in params.items() if key not in UNSIGNED_PARAMS}


def query_hmac(params: Mapping[str, str | Sequence[str]], secret: str) -> str:
    """Hex HMAC-SHA256 of a Shopify admin query (an OAuth callback, an app launch): the
    parameters but `hmac` and `signature`, sorted, `k=v` joined with `&`."""
    return _signer(secret).calculate_hmac(_signed_part(params))


def verify_query_hmac(params: Mapping[str, str | Sequence[str]], secrets: Iterable[str]) -> bool:
    """Whether the query's `hmac` was made with one of `secrets` (current, previous)."""
    given = str(params.get("hmac") or "").strip().lower()
    if not given:
        return False
    signed = {**_signed_part(params), "hmac": given}
    ok = False
    for secret in secrets:
        if secret:  # every secret is tried, so the time taken does not tell which one matched
            ok |= _signer(secret).validate_hmac(signed)
    return ok


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
    `aud` equal to our client id, `iss`/`dest`/`sub`/`jti`/`sid` present (shopify.session_token),
    then `exp`/`nbf` present and within `leeway` seconds (at most the library's 10 s, which it
    has applied already), `dest` a shop whose host `iss` agrees with. Raises InvalidIdToken."""
    if leeway > ID_TOKEN_LEEWAY_S:
        raise ValueError(f"leeway can only be tightened below {ID_TOKEN_LEEWAY_S} s")
    if not token or token.count(".") != 2:
        raise InvalidIdToken("not a JWT")
    claims = _verified_claims(token, api_key, [s for s in secrets if s])
    now = time.time()
    for claim in ("exp", "nbf"):  # the library requires neither
        if claim not in claims:
            raise InvalidIdToken(f"malformed (no {claim})")
    if now > claims["exp"] + leeway:
        raise InvalidIdToken("expired")
    if now < claims["nbf"] - leeway:
        raise InvalidIdToken("not valid yet")
    return IdToken(shop=_shop_of(claims), user_id=str(claims["sub"]),
                   session_id=str(claims["sid"]), expires_at=int(claims["exp"]))


def _verified_claims(token: str, api_key: str, secrets: list[str]) -> dict:
    if not secrets:
        raise InvalidIdToken("no secret configured")
    for secret in secrets:
        try:
            return session_token.decode_from_header(f"Bearer {token}", api_key, secret)
        except session_token.InvalidIssuerError:
            raise InvalidIdToken("iss is not a shop") from None
        except session_token.MismatchedHostsError:
            # Signature, times and audience held with this secret; only the hosts differ. Name
            # which is wrong from the claims just verified (the library does not return them).
            _shop_of(jwt.decode(token, options={"verify_signature": False}))
            raise InvalidIdToken("iss and dest disagree") from None
        except session_token.SessionTokenError as exc:  # wraps the PyJWT error as __cause__
            if isinstance(exc.__cause__, jwt.InvalidSignatureError):
                continue  # maybe signed with the other secret
            raise InvalidIdToken(_jwt_reason(exc.__cause__)) from None
        except (TypeError, ValueError):  # a signed token whose iss/dest are not strings
            raise InvalidIdToken("malformed (iss or dest)") from None
    raise InvalidIdToken("bad signature")


def _jwt_reason(error: BaseException | None) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "not valid yet"
    if isinstance(error, jwt.InvalidAudienceError):
        return "wrong audience"
    return f"malformed ({type(error).__name__})"


def _shop_of(claims: dict) -> str:
    """The shop `dest` names, when it is an https shop and `iss` is on the same host."""
    dest = urlsplit(str(claims.get("dest", "")))
    shop = normalize_shop(dest.hostname)
    if shop is None or dest.scheme != "https":
        raise InvalidIdToken("dest is not a shop")
    if urlsplit(str(claims.get("iss", ""))).hostname != shop:
        raise InvalidIdToken("iss and dest disagree")
    return shop


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
