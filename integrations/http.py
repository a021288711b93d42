"""The one HTTP path for every outbound URL: store APIs (Shopify, WooCommerce), OAuth and token
exchange, the wc-auth key check, uploads and image downloads.

`session(policy)` is a `requests.Session` whose only adapter, `GuardedAdapter`, checks every
connection against an `integrations.addresses.AddressPolicy` where it is made:

- the host is resolved once, in requests' documented hook for choosing a connection
  (`build_connection_pool_key_attributes`); every address it resolves to must be allowed,
  and the connection is pinned to one of them (the first IPv4 one, else the first; the Host
  header, the TLS server name and the certificate check keep the name), so a second DNS
  answer (rebinding) is never used;
- right after a socket connects, the address it actually reached (`getpeername`) is checked
  again, before a byte of the request is written, so no path around the pinning (a reused
  pool, a future change in requests) can reach a private address either;
- proxies and netrc credentials from the environment are never used (`trust_env` off);
  redirects are never followed implicitly (callers pass `allow_redirects=False`, and
  `opened` follows them by hand, checking each hop like the first).

`opened` + `read_body` are the download: at most `max_redirects` hops (http and https only),
a byte cap, and a total deadline per download. Per-read timeouts alone let a server that
drips a byte every few seconds hold a worker thread for ever; the deadline's watchdog shuts
the connection's sockets down when it passes (urllib3's own `shutdown` mechanism), which
ends a blocked read at once.

Why not requests-hardened (Saleor's library, which this follows in pinning the resolved
address): version 1.3.0 lets `::127.0.0.1` (IPv4-compatible) and `::ffff:0:127.0.0.1` (SIIT)
through, its filter has no place for an operator's allowed networks (only "loopback on or
off", while an on-premise store needs e.g. 10.0.0.0/8), the filter is a module function its
adapter imports (no override short of monkeypatching), and it has no total deadline or byte
cap. What it does is the two public hooks used here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.addresses import AddressPolicy, AddressRefused
from integrations.errors import Invalid, Unavailable

USER_AGENT = "PhotoSync/0.1 (+https://github.com/photosync)"
REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_DEADLINE = 60.0

_POLICY: ContextVar[AddressPolicy | None] = ContextVar("photosync_http_policy", default=None)
_DEADLINE: ContextVar[Deadline | None] = ContextVar("photosync_http_deadline", default=None)


class Deadline:
    """A wall-clock limit for everything one download does; when it passes, every socket
    the download connected is shut down, which ends a read that is waiting on it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _CheckedConnection:
    """Mixin for urllib3's connection classes: the reached address is checked on connect."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        sock = self.sock  # type: ignore[attr-defined]
        policy = _POLICY.get() or AddressPolicy()
        try:
            peer = str(sock.getpeername()[0])
        except OSError:
            peer = ""
        if not policy.allows(peer):
            self.close()  # type: ignore[attr-defined]
            raise AddressRefused(
                "The connection reached a private or local address; PhotoSync only connects "
                "to public addresses."
            )
        deadline = _DEADLINE.get()
        if deadline is not None:
            deadline.watch(sock)


class _HTTPConnection(_CheckedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_CheckedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter with every connection checked against `policy` (see the module)."""

    def __init__(self, policy: AddressPolicy | None = None, **kwargs: Any) -> None:
        self.policy = policy or AddressPolicy()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any):
        kwargs["proxies"] = None  # never through a proxy: the address checked is the peer
        token = _POLICY.set(self.policy)
        try:
            return super().send(request, *args, **kwargs)
        finally:
            _POLICY.reset(token)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        name = str(host_params["host"]).strip("[]")
        scheme = host_params["scheme"]
        port = host_params["port"] or (443 if scheme == "https" else 80)
        address = _preferred(self.policy.resolve(name, port))
        # The request keeps the name: Host header, TLS server name and certificate check.
        request.headers = CaseInsensitiveDict(request.headers or {})
        request.headers["Host"] = urlsplit(request.url).netloc.rpartition("@")[2]
        if scheme == "https":
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        host_params["host"] = f"[{address}]" if ":" in address else address
        return host_params, pool_kwargs


def _preferred(addresses: list[str]) -> str:
    """The address to pin: the first IPv4 one when there is one (a host's IPv4 address is
    reachable from far more networks than its IPv6 one; a pinned connection has no second
    try), else the first."""
    return next((a for a in addresses if ":" not in a), addresses[0])


def session(policy: AddressPolicy | None = None, *, user_agent: str = USER_AGENT
            ) -> requests.Session:
    """A session whose every connection is checked against `policy` (public addresses
    only by default)."""
    new = requests.Session()
    new.trust_env = False  # no proxies or netrc credentials picked up from the host
    new.headers["User-Agent"] = user_agent
    adapter = GuardedAdapter(policy)
    new.mount("http://", adapter)
    new.mount("https://", adapter)
    return new


@contextmanager
def opened(
    url: str,
    *,
    policy: AddressPolicy | None = None,
    deadline: float | None = DEFAULT_DEADLINE,
    timeout: tuple[float, float] = (10.0, 30.0),
    max_redirects: int = 3,
    headers: dict[str, str] | None = None,
    check_url: Callable[[str], None] | None = None,
    what: str = "file",
) -> Iterator[requests.Response]:
    """GET `url` for streaming, following at most `max_redirects` redirects by hand (each hop
    http(s), passed to `check_url`, and connected under `policy`); yield the final response
    while the deadline runs. Raises Invalid or Unavailable (with a message for a merchant)."""
    limit = Deadline(deadline) if deadline else None
    token = _DEADLINE.set(limit)
    client = session(policy)
    try:
        for _ in range(max_redirects + 1):
            _url_allowed(url, check_url, what)
            wait = timeout if limit is None else tuple(
                max(0.1, min(t, limit.remaining())) for t in timeout)
            try:
                response = client.get(url, stream=True, timeout=wait, allow_redirects=False,
                                      headers=headers)
            except requests.RequestException as exc:
                raise _failure(exc, limit, url, what) from None
            with response:
                if response.status_code in REDIRECTS and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    continue
                yield response
                return
        raise Invalid(f"The {what} URL redirected too many times.")
    finally:
        if limit is not None:
            limit.cancel()
        _DEADLINE.reset(token)
        client.close()


def read_body(response: requests.Response, *, max_bytes: int, what: str = "file",
              chunk_size: int = 64 * 1024) -> bytes:
    """The body of a response from `opened`, at most `max_bytes` (else Invalid) and within
    the download's deadline (else Unavailable)."""
    host = urlsplit(response.url).netloc
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise Invalid(f"The {what} is larger than the limit of {max_bytes} bytes.")
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size):
            size += len(chunk)
            if size > max_bytes:
                raise Invalid(f"The {what} is larger than the limit of {max_bytes} bytes.")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise _failure(exc, _DEADLINE.get(), response.url, what) from None
    limit = _DEADLINE.get()
    if limit is not None and limit.expired:
        raise _too_slow(limit, host, what)
    return b"".join(chunks)


def stream_body(response: requests.Response, *, what: str = "file",
                chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The body of a response from `opened` in chunks (for files too large to hold)."""
    try:
        yield from response.iter_content(chunk_size)
    except requests.RequestException as exc:
        raise _failure(exc, _DEADLINE.get(), response.url, what) from None


def _url_allowed(url: str, check_url: Callable[[str], None] | None, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"The {what} URL must be an http(s) address.")
    if parts.username or parts.password:
        raise Invalid(f"The {what} URL must not contain a user name or password.")
    if check_url is not None:
        check_url(url)


def _failure(exc: Exception, limit: Deadline | None, url: str, what: str) -> Unavailable:
    host = urlsplit(url).netloc
    if limit is not None and (limit.expired or limit.remaining() <= 0):
        return _too_slow(limit, host, what)
    return Unavailable(f"Could not download the {what} from {host} ({type(exc).__name__}).")


def _too_slow(limit: Deadline, host: str, what: str) -> Unavailable:
    return Unavailable(
        f"The {what} download from {host} did not finish within {limit.seconds:g} s."
    )
