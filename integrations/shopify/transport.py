"""HTTP to a shop: where its endpoints are, the session, timeouts, JSON bodies, the resend
signal the GraphQL client retries on, and the OAuth token request.

`graphql` (Admin GraphQL) and `files` (staged uploads, CDN downloads) build on this module;
together they are the only code that talks HTTP to Shopify, always through integrations.http
(every connection's address checked against the endpoint's policy). Error messages are written for a
merchant and never carry tokens, secrets or raw bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from integrations import http
from integrations.addresses import AddressPolicy
from integrations.errors import IntegrationError, Terminal, Unavailable

USER_AGENT = "PhotoSync (+https://github.com/photosync)"
# (connect, read) seconds. Shopify answers GraphQL in well under a second normally.
GRAPHQL_TIMEOUT = (5.0, 30.0)
OAUTH_TIMEOUT = (5.0, 20.0)
UPLOAD_TIMEOUT = (5.0, 120.0)
DOWNLOAD_TIMEOUT = (5.0, 60.0)
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Endpoint:
    """Where a shop's Admin API lives: https://{shop} in production, the emulator in tests."""

    shop: str
    api_version: str
    api_origin: str = ""  # "http://127.0.0.1:PORT" points everything at an emulator
    # Networks besides public addresses this shop's traffic may reach (an emulator's).
    allowed_networks: tuple[str, ...] = ()

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy.of(self.allowed_networks)

    @property
    def origin(self) -> str:
        return self.api_origin.rstrip("/") if self.api_origin else f"https://{self.shop}"

    @property
    def graphql_url(self) -> str:
        return f"{self.origin}/admin/api/{self.api_version}/graphql.json"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/admin/oauth/access_token"


class ResendAfter(Exception):
    """The request may be sent again after `wait` seconds; `error` is what the caller gets
    when no attempt is left."""

    def __init__(self, error: IntegrationError, wait: float) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


def backoff(attempt: int) -> float:
    """Seconds before resending after an unknown outcome: 0.5 s doubling, at most 30 s."""
    return min(30.0, 0.5 * 2 ** (attempt - 1))


def resending(*, max_attempts: int, sleep: Callable[[float], None]) -> Retrying:
    """A tenacity loop that resends on `ResendAfter` after its `wait`, at most
    `max_attempts` times in all, and then raises the last `ResendAfter`."""
    return Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=_resend_wait,
        retry=retry_if_exception_type(ResendAfter),
        sleep=sleep,
        reraise=True,
    )


def _resend_wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    return exc.wait if isinstance(exc, ResendAfter) else 1.0


def new_session(policy: AddressPolicy | None = None) -> requests.Session:
    return http.session(policy, user_agent=USER_AGENT)


def json_or_none(response: requests.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def same_origin(url: str, origin: str) -> bool:
    """True when `url` is on the configured emulator origin (tests only; unset in production)."""
    if not origin:
        return False
    target, allowed = urlsplit(url), urlsplit(origin)
    return (target.scheme, target.hostname, target.port) == (
        allowed.scheme, allowed.hostname, allowed.port)


class OAuthRefused(Terminal):
    """Shopify refused a token request; `code` is its OAuth error code (e.g. invalid_grant)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def oauth_token(endpoint: Endpoint, payload: dict,
                session: requests.Session | None = None) -> dict:
    """POST to the shop's `/admin/oauth/access_token` and return the JSON answer.

    4xx → OAuthRefused (its `code` from the body, never the body itself); 5xx or network →
    Unavailable. Nothing is retried: a token request is not idempotent (a refresh token is
    spent by its first use).
    """
    session = session or new_session(endpoint.policy)
    try:
        response = session.post(
            endpoint.token_url,
            json=payload,
            headers={"Accept": "application/json"},
            timeout=OAUTH_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise Unavailable(f"Shopify could not be reached ({type(exc).__name__}).") from None
    body = json_or_none(response) or {}
    if response.status_code >= 500:
        raise Unavailable(f"Shopify answered {response.status_code} to a token request.")
    if response.status_code != 200 or not body.get("access_token"):
        code = str(body.get("error") or f"http_{response.status_code}")[:64]
        raise OAuthRefused(f"Shopify refused the token request ({code}).", code=code)
    return body

