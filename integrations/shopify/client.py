"""The one module that talks HTTP to Shopify: Admin GraphQL, OAuth tokens, staged uploads,
and downloads from Shopify's CDN.

It owns timeouts, status checks, JSON parsing and the mapping to `integrations.errors`.
Error messages are written for a merchant and never carry tokens, secrets or raw bodies.

Rate limits are cost-based per (app, shop) leaky bucket. `budget.CostBudget` keeps a model of
the bucket from each response's `throttleStatus` and makes a caller wait *before* sending a
query the bucket cannot hold, so that THROTTLED answers stay rare; when one comes anyway (with
HTTP 200 or 429) the call waits `(requested - available) / restoreRate` and is sent again.
Retries use tenacity; only documents marked `retry_safe` are re-sent after an outcome that
cannot be known (a timeout or a 5xx).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from integrations.errors import (
    AuthRevoked,
    IntegrationError,
    Invalid,
    NotFound,
    Terminal,
    Throttled,
    Unavailable,
)
from integrations.metrics import THROTTLE_WAIT_SECONDS, THROTTLED_CALLS
from integrations.shopify.budget import CostBudget, budget_for
from integrations.shopify.queries import Document

log = logging.getLogger(__name__)

USER_AGENT = "PhotoSync (+https://github.com/photosync)"
# (connect, read) seconds. Shopify answers GraphQL in well under a second normally.
GRAPHQL_TIMEOUT = (5.0, 30.0)
OAUTH_TIMEOUT = (5.0, 20.0)
UPLOAD_TIMEOUT = (5.0, 120.0)
DOWNLOAD_TIMEOUT = (5.0, 60.0)
MAX_ATTEMPTS = 6

# Hosts Shopify serves files from. Anything else is refused before a socket is opened.
CDN_HOSTS = frozenset({"cdn.shopify.com", "cdn.shopifycdn.net"})
BULK_RESULT_HOSTS = frozenset({"storage.googleapis.com", *CDN_HOSTS})


@dataclass(frozen=True)
class Endpoint:
    """Where a shop's Admin API lives: https://{shop} in production, the emulator in tests."""

    shop: str
    api_version: str
    api_origin: str = ""  # "http://127.0.0.1:PORT" points everything at an emulator

    @property
    def origin(self) -> str:
        return self.api_origin.rstrip("/") if self.api_origin else f"https://{self.shop}"

    @property
    def graphql_url(self) -> str:
        return f"{self.origin}/admin/api/{self.api_version}/graphql.json"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/admin/oauth/access_token"


# --- retry plumbing -------------------------------------------------------------------
class _Again(Exception):
    """Internal: the request may be sent again after `wait` seconds."""

    def __init__(self, error: IntegrationError, wait: float) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


def _wait_for(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, _Again):
        return exc.wait
    return 1.0


def _backoff(attempt: int) -> float:
    return min(30.0, 0.5 * 2 ** (attempt - 1))


@dataclass
class CallStats:
    """Counters a benchmark or test can read (per client)."""

    requests: int = 0
    throttled: int = 0
    waited_s: float = 0.0


# --- GraphQL --------------------------------------------------------------------------
class ShopifyClient:
    """Admin GraphQL for one shop. `execute` returns `data` or raises an IntegrationError."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        access_token: str,
        session: requests.Session | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        budget: CostBudget | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._token = access_token
        self._session = session or _session()
        self._max_attempts = max_attempts
        self._sleep = sleep
        self.budget = budget or budget_for(endpoint.shop)
        self.stats = CallStats()

    def execute(self, document: Document, variables: dict | None = None) -> dict:
        if not self._token:
            raise AuthRevoked("This Shopify store has no access token; reconnect the app.")
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=_wait_for,
            retry=retry_if_exception(lambda e: isinstance(e, _Again)),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send(document, variables or {}, attempt.retry_state)
        except _Again as again:
            raise again.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, document: Document, variables: dict, state: RetryCallState) -> dict:
        name = document.name
        reserved = self.budget.estimate(name)
        wait = self.budget.reserve(reserved)
        if wait > 0:
            self.stats.waited_s += wait
            THROTTLE_WAIT_SECONDS.labels(platform="shopify").inc(wait)
            self._sleep(wait)
        self.stats.requests += 1
        cost = None
        try:
            response = self._session.post(
                self.endpoint.graphql_url,
                data=json.dumps({"query": document.text, "variables": variables}),
                headers={
                    "X-Shopify-Access-Token": self._token,
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                timeout=GRAPHQL_TIMEOUT,
                allow_redirects=False,
            )
            body = _json_or_none(response)
            cost = (body or {}).get("extensions", {}).get("cost") if body else None
        except requests.ConnectTimeout:
            raise _Again(Unavailable("Shopify could not be reached (connect timeout)."),
                         _backoff(state.attempt_number)) from None
        except requests.RequestException as exc:
            error = Unavailable(f"Shopify could not be reached ({type(exc).__name__}).")
            if document.retry_safe:
                raise _Again(error, _backoff(state.attempt_number)) from None
            raise error from None
        finally:
            self.budget.settle(name, reserved, cost)
        return self._result(document, response, body, state)

    def _result(self, document: Document, response: requests.Response, body: dict | None,
                state: RetryCallState) -> dict:
        status = response.status_code
        errors = (body or {}).get("errors") or []
        if isinstance(errors, str):  # REST-style {"errors": "..."} on 401/403/404
            errors = [{"message": errors}]
        codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors
                 if isinstance(e, dict)}
        if status == 429 or "THROTTLED" in codes:
            self.stats.throttled += 1
            wait = _throttle_wait(body, response)
            THROTTLED_CALLS.labels(platform="shopify").inc()
            THROTTLE_WAIT_SECONDS.labels(platform="shopify").inc(wait)
            raise _Again(Throttled("Shopify's rate limit was reached; retrying shortly.",
                                   retry_after=wait), wait)
        if status == 401:
            raise AuthRevoked("Shopify no longer accepts this store's access token; "
                              "reconnect the app.")
        if status == 402:
            raise Terminal("The Shopify store is frozen (unpaid plan); try again once the "
                           "merchant has settled it.")
        if status == 403:
            raise Invalid("The app lacks a permission this needs; reinstall it to grant the "
                          "requested access scopes.")
        if status == 404:
            raise NotFound("The Shopify store was not found (it may have been closed).")
        if status == 423:
            raise Terminal("Shopify has locked this store's API access; contact Shopify.")
        if status >= 500 or status in (408, 425):
            error = Unavailable(f"Shopify answered {status}; retrying later.")
            if document.retry_safe:
                raise _Again(error, _backoff(state.attempt_number))
            raise error
        if status != 200 or body is None:
            raise Invalid(f"Shopify answered {status} to {document.name}.")
        if errors:
            if "INTERNAL_SERVER_ERROR" in codes:
                error = Unavailable("Shopify had an internal error; retrying later.")
                if document.retry_safe:
                    raise _Again(error, _backoff(state.attempt_number))
                raise error
            if "ACCESS_DENIED" in codes:
                raise Invalid("The app lacks a permission this needs; reinstall it to grant "
                              "the requested access scopes.")
            first = errors[0] if isinstance(errors[0], dict) else {}
            message = str(first.get("message", "unknown error"))[:300]
            raise Invalid(f"Shopify refused {document.name}: {message}")
        return body.get("data") or {}


def _throttle_wait(body: dict | None, response: requests.Response) -> float:
    cost = ((body or {}).get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    requested = cost.get("requestedQueryCost")
    available = status.get("currentlyAvailable")
    rate = status.get("restoreRate")
    if all(isinstance(v, int | float) for v in (requested, available, rate)) and rate > 0:
        return max(0.05, (requested - available) / rate)
    retry_after = response.headers.get("Retry-After", "")
    try:
        return max(0.05, float(retry_after))
    except ValueError:
        return 1.0


def _json_or_none(response: requests.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False  # no proxies or netrc credentials picked up from the host
    return session


# --- OAuth ----------------------------------------------------------------------------
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
    session = session or _session()
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
    body = _json_or_none(response) or {}
    if response.status_code >= 500:
        raise Unavailable(f"Shopify answered {response.status_code} to a token request.")
    if response.status_code != 200 or not body.get("access_token"):
        code = str(body.get("error") or f"http_{response.status_code}")[:64]
        raise OAuthRefused(f"Shopify refused the token request ({code}).", code=code)
    return body


# --- staged uploads -------------------------------------------------------------------
def staged_upload(
    *,
    url: str,
    parameters: Sequence[tuple[str, str]],
    filename: str,
    data: bytes,
    content_type: str,
    method: str = "POST",
    allow_http_origin: str = "",
    session: requests.Session | None = None,
) -> None:
    """Send bytes to a staged upload target: for POST, a multipart form with every returned
    parameter in order and the file field last; for PUT, the raw bytes with the returned
    parameters as headers. Repeating it is harmless (same target, same bytes)."""
    _check_upload_url(url, allow_http_origin)
    session = session or _session()
    try:
        if method == "PUT":
            response = session.put(url, data=data, headers=dict(parameters),
                                   timeout=UPLOAD_TIMEOUT, allow_redirects=False)
        else:
            fields = [(name, (None, value)) for name, value in parameters]
            fields.append(("file", (filename, data, content_type)))
            response = session.post(url, files=fields, timeout=UPLOAD_TIMEOUT,
                                    allow_redirects=False)
    except requests.RequestException as exc:
        raise Unavailable(f"The upload to Shopify failed ({type(exc).__name__}).") from None
    if response.status_code >= 500:
        raise Unavailable(f"Shopify's upload storage answered {response.status_code}.")
    if response.status_code not in (200, 201, 204):
        raise Invalid(f"Shopify's upload storage refused the file ({response.status_code}).")


def _check_upload_url(url: str, allow_http_origin: str) -> None:
    parts = urlsplit(url)
    if _same_origin(url, allow_http_origin):
        return
    if parts.scheme != "https" or not parts.hostname:
        raise Invalid("Shopify returned an upload target that is not https; refusing it.")


# --- downloads from Shopify's CDN -----------------------------------------------------
def download(
    url: str,
    *,
    max_bytes: int,
    allowed_hosts: frozenset[str] = CDN_HOSTS,
    allow_http_origin: str = "",
    session: requests.Session | None = None,
) -> bytes:
    """Fetch a file from Shopify's CDN: https and an allowed host only (also after each
    redirect, at most 3), at most `max_bytes`. Anything else is refused, so a URL taken from a
    payload cannot make the worker fetch internal addresses."""
    chunks = []
    size = 0
    for chunk in stream(url, allowed_hosts=allowed_hosts, allow_http_origin=allow_http_origin,
                        session=session):
        size += len(chunk)
        if size > max_bytes:
            raise Invalid(f"The image is larger than the {max_bytes // (1024 * 1024)} MB limit.")
        chunks.append(chunk)
    return b"".join(chunks)


def stream(
    url: str,
    *,
    allowed_hosts: frozenset[str],
    allow_http_origin: str = "",
    session: requests.Session | None = None,
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """Yield a file's bytes in chunks (for JSONL results that must not be loaded whole)."""
    session = session or _session()
    for _ in range(4):
        _check_download_url(url, allowed_hosts, allow_http_origin)
        try:
            response = session.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT,
                                   allow_redirects=False)
        except requests.RequestException as exc:
            raise Unavailable(f"The file could not be downloaded ({type(exc).__name__}).") from None
        with response:
            if response.status_code in (301, 302, 303, 307, 308):
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            if response.status_code == 404 or response.status_code == 410:
                raise NotFound("The file is gone from Shopify's CDN.")
            if response.status_code >= 500 or response.status_code == 429:
                raise Unavailable(f"Shopify's CDN answered {response.status_code}.")
            if response.status_code != 200:
                raise Invalid(f"Shopify's CDN answered {response.status_code}.")
            try:
                yield from response.iter_content(chunk_size=chunk_size)
            except requests.RequestException as exc:
                raise Unavailable(
                    f"The download was interrupted ({type(exc).__name__})."
                ) from None
            return
    raise Invalid("Too many redirects while downloading from Shopify's CDN.")


def _check_download_url(url: str, allowed_hosts: frozenset[str], allow_http_origin: str) -> None:
    if _same_origin(url, allow_http_origin):
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or host not in allowed_hosts or parts.username or parts.password:
        raise Invalid("Refusing to download from a host that is not Shopify's CDN.")
    if parts.port not in (None, 443):
        raise Invalid("Refusing to download from a non-standard port.")


def _same_origin(url: str, origin: str) -> bool:
    """True when `url` is on the configured emulator origin (tests only; unset in production)."""
    if not origin:
        return False
    a, b = urlsplit(url), urlsplit(origin)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
