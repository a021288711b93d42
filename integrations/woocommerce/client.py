"""The one module that talks HTTP to WooCommerce stores.

Every request goes through integrations.http (the address of each connection is checked when
it is made, so a stored store address that now resolves to a private one is refused at every
call, not only at connect). Authentication is as the `woocommerce` package does it: Basic over
https, OAuth 1.0a one-legged (HMAC-SHA256, the package's signer) over plain http, chosen from
the URL's scheme; the secret never goes into a URL. This module owns the rest:

- timeouts: the package's 5 s default is far too short; image PUTs get a long one of their
  own, because the store downloads and resizes the image while the request is open;
- redirects are never followed (a redirected PUT turns into a GET);
- 429: a short `Retry-After` is waited out here, a long one becomes `Throttled`;
- pagination from `X-WP-TotalPages` (or `Link: rel="next"`), `per_page` at most 100;
- every failure mapped to integrations.errors with a message safe to show a merchant (never
  the consumer key or secret, never a raw body). A request that was sent but not answered,
  or a write answered with a 5xx, raises `OutcomeUnknown`: the write may have been applied
  and must be re-read, not retried.

`download` fetches image bytes from a URL a store gave us (integrations.http's checked download:
addresses, redirects, size, total deadline).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests.auth import HTTPBasicAuth
from urllib3.exceptions import MaxRetryError, NewConnectionError
from woocommerce.oauth import OAuth

from integrations import http
from integrations.addresses import AddressPolicy
from integrations.errors import (
    AuthRevoked,
    IntegrationError,
    Invalid,
    NotFound,
    Throttled,
    Unavailable,
)
from integrations.metrics import THROTTLE_WAIT_SECONDS, THROTTLED_CALLS

USER_AGENT = http.USER_AGENT
API_PREFIX = "wp-json/wc/v3"
MAX_PER_PAGE = 100
_TAGS = re.compile(r"<[^>]+>")


class OutcomeUnknown(Unavailable):
    """The request was sent but no answer came back: a write may have been applied."""


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any
    headers: Mapping[str, str]


class WooClient:
    """A store's REST API (`{url}/wp-json/wc/v3/`), with PhotoSync's error classes."""

    def __init__(
        self,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: float = 30.0,
        slow_timeout: float = 180.0,
        connect_timeout: float = 10.0,
        throttle_wait_max: float = 10.0,
        throttle_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        policy: AddressPolicy | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.host = urlsplit(self.url).netloc or self.url
        self._secrets = tuple(s for s in (consumer_key, consumer_secret) if s)
        self.throttle_wait_max = throttle_wait_max
        self.throttle_retries = throttle_retries
        self._sleep = sleep
        self._key, self._secret = consumer_key, consumer_secret
        self._session = http.session(policy, user_agent=USER_AGENT)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.slow_timeout = slow_timeout

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Reply:
        return self._call("GET", endpoint, params=params)

    def post(self, endpoint: str, data: Any) -> Reply:
        return self._call("POST", endpoint, data=data)

    def put(self, endpoint: str, data: Any, *, slow: bool = False) -> Reply:
        """`slow`: the store does real work while answering (image sideloads)."""
        return self._call("PUT", endpoint, data=data, slow=slow)

    def delete(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Reply:
        return self._call("DELETE", endpoint, params=params)

    def pages(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Iterator[list]:
        """Yield each page of a collection until `X-WP-TotalPages` (or `Link`) says done."""
        query = dict(params or {})
        query["per_page"] = min(int(query.get("per_page", MAX_PER_PAGE)), MAX_PER_PAGE)
        page = int(query.pop("page", 1))
        while True:
            reply = self.get(endpoint, {**query, "page": page})
            if not isinstance(reply.data, list):
                raise Unavailable(f"{self.host} answered a list request with something else.")
            yield reply.data
            total = _int(reply.headers.get("X-WP-TotalPages"))
            more = page < total if total is not None else _has_next(reply.headers)
            if not reply.data or not more:
                return
            page += 1

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        data: Any = None,
        params: Mapping[str, Any] | None = None,
        slow: bool = False,
    ) -> Reply:
        """The one place requests are made: sends, waits out 429s, maps failures."""
        for attempt in range(self.throttle_retries + 1):
            try:
                response = self._send(method, endpoint, data, dict(params or {}), slow=slow)
            except requests.RequestException as exc:
                raise self._transport_error(exc, slow=slow) from None
            if response.status_code == 429:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                THROTTLED_CALLS.labels(platform="woocommerce").inc()
                if wait <= self.throttle_wait_max and attempt < self.throttle_retries:
                    THROTTLE_WAIT_SECONDS.labels(platform="woocommerce").inc(wait)
                    self._sleep(wait)
                    continue
                raise Throttled(
                    f"{self.host} asked PhotoSync to slow down (HTTP 429).", retry_after=wait
                )
            return self._reply(response, write=method != "GET")
        raise AssertionError("unreachable")  # the loop returns or raises

    def _send(self, method: str, endpoint: str, data: Any, params: dict, *, slow: bool
              ) -> requests.Response:
        """As the `woocommerce` package sends it, through the checked session, never
        following a redirect (a redirected PUT turns into a GET)."""
        url = f"{self.url}/{API_PREFIX}/{endpoint}"
        auth = None
        if urlsplit(url).scheme == "https":
            auth = HTTPBasicAuth(self._key, self._secret)
        else:  # OAuth 1.0a one-legged: the signed parameters travel in the query
            query = f"{url}?{urlencode(params)}" if params else url
            url = OAuth(url=query, consumer_key=self._key, consumer_secret=self._secret,
                        version="wc/v3", method=method).get_oauth_url()
            params = {}
        headers = {"Accept": "application/json"}
        body = None
        if data is not None:
            body = json.dumps(data, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json;charset=utf-8"
        read = self.slow_timeout if slow else self.timeout
        return self._session.request(
            method, url, params=params or None, data=body, headers=headers, auth=auth,
            timeout=(self.connect_timeout, read), allow_redirects=False,
        )

    def _reply(self, response: requests.Response, *, write: bool = False) -> Reply:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return Reply(status, None, response.headers)
            try:
                return Reply(status, response.json(), response.headers)
            except ValueError:
                raise Unavailable(
                    f"{self.host} answered with something that is not JSON "
                    "(a maintenance page or a firewall?)."
                ) from None
        if write and status >= 500:
            # A proxy's 502/504 while PHP goes on sideloading, or a fatal error half-way:
            # the write may have been applied.
            raise OutcomeUnknown(
                f"{self.host} answered HTTP {status}; the change may or may not have been "
                "applied."
            )
        raise self._status_error(response)

    def _status_error(self, response: requests.Response) -> IntegrationError:
        status = response.status_code
        code, message = _wc_error(response)
        detail = self._safe(f"{message} ({code})" if code else message)
        if 300 <= status < 400:
            target = urlsplit(urljoin(self.url + "/", response.headers.get("Location", "")))
            where = f"{target.scheme}://{target.netloc}" if target.netloc else "another address"
            return Invalid(
                f"{self.host} redirected PhotoSync to {where}; connect the store with its "
                "final address."
            )
        if status in (401, 403):
            return AuthRevoked(
                f"{self.host} refused PhotoSync's API key (HTTP {status}"
                f"{': ' + detail if detail else ''}). Reconnect the store."
            )
        if status in (404, 410):
            return NotFound(f"{self.host} has no such resource (HTTP {status}).")
        if 400 <= status < 500:
            return Invalid(
                f"{self.host} refused the request (HTTP {status}"
                f"{': ' + detail if detail else ''})."
            )
        return Unavailable(f"{self.host} had a server error (HTTP {status}).")

    def _transport_error(self, exc: requests.RequestException, *, slow: bool) -> Unavailable:
        if _never_sent(exc):
            return Unavailable(f"Could not connect to {self.host}.")
        if isinstance(exc, requests.Timeout):
            limit = self.slow_timeout if slow else self.timeout
            return OutcomeUnknown(f"{self.host} did not answer within {limit:.0f} s.")
        return OutcomeUnknown(f"The connection to {self.host} broke before it answered.")

    def _safe(self, text: str) -> str:
        text = " ".join(_TAGS.sub(" ", text or "").split())
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text[:300]


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach the server (nothing to re-read)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            return isinstance(reason.reason, NewConnectionError)
    return False


def retry_after_seconds(value: str | None, *, default: float = 5.0) -> float:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; `default` when absent."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _has_next(headers: Mapping[str, str]) -> bool:
    return any('rel="next"' in part for part in headers.get("Link", "").split(","))


def _wc_error(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if isinstance(body, dict):
        return str(body.get("code") or ""), str(body.get("message") or "")
    return "", ""


IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/avif")


def download(
    url: str,
    *,
    max_bytes: int,
    policy: AddressPolicy | None = None,
    timeout: float = 30.0,
    deadline: float = http.DEFAULT_DEADLINE,
    max_redirects: int = 3,
) -> bytes:
    """Fetch an image from a URL a store gave us: every connection's address checked (also
    after each redirect), the content type must be an image, the body at most `max_bytes`
    and all of it within `deadline` seconds. Raises Invalid / NotFound / Unavailable."""
    accept = {"Accept": ", ".join(IMAGE_TYPES)}
    with http.opened(url, policy=policy, deadline=deadline, timeout=(10.0, timeout),
                     max_redirects=max_redirects, headers=accept, what="image") as response:
        host = urlsplit(response.url).netloc
        status = response.status_code
        if status in (404, 410):
            raise NotFound(f"The image is gone from {host} (HTTP {status}).")
        if status >= 500 or status == 429:
            raise Unavailable(f"{host} could not serve the image (HTTP {status}).")
        if status != 200:
            raise Invalid(f"{host} refused the image download (HTTP {status}).")
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not kind.startswith("image/"):
            raise Invalid(f"The file at {host} is not an image (content type {kind or 'none'}).")
        return http.read_body(response, max_bytes=max_bytes, what="image")
