"""Files to and from Shopify: staged uploads (the bytes of a new product image) and downloads
from Shopify's CDN (product images, bulk-operation results).

Every URL is checked before a socket is opened: uploads go to https targets only, downloads come
from Shopify's file hosts only (also after each redirect), and every connection goes through
integrations.http (its address checked when it is made), so a URL taken from a payload cannot
make the worker reach internal addresses. Image downloads have a total deadline.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests

from integrations import http
from integrations.addresses import AddressPolicy
from integrations.errors import Invalid, NotFound, Unavailable
from integrations.shopify.transport import (
    DOWNLOAD_TIMEOUT,
    UPLOAD_TIMEOUT,
    new_session,
    same_origin,
)

# Hosts Shopify serves files from. Anything else is refused before a socket is opened.
CDN_HOSTS = frozenset({"cdn.shopify.com", "cdn.shopifycdn.net"})
BULK_RESULT_HOSTS = frozenset({"storage.googleapis.com", *CDN_HOSTS})
MAX_REDIRECTS = 3


def staged_upload(
    *,
    url: str,
    parameters: Sequence[tuple[str, str]],
    filename: str,
    data: bytes,
    content_type: str,
    method: str = "POST",
    allow_http_origin: str = "",
    policy: AddressPolicy | None = None,
    session: requests.Session | None = None,
) -> None:
    """Send bytes to a staged upload target: for POST, a multipart form with every returned
    parameter in order and the file field last; for PUT, the raw bytes with the returned
    parameters as headers. Repeating it is harmless (same target, same bytes)."""
    _check_upload_url(url, allow_http_origin)
    session = session or new_session(policy)
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
    if same_origin(url, allow_http_origin):
        return
    if parts.scheme != "https" or not parts.hostname:
        raise Invalid("Shopify returned an upload target that is not https; refusing it.")


def download(
    url: str,
    *,
    max_bytes: int,
    allowed_hosts: frozenset[str] = CDN_HOSTS,
    allow_http_origin: str = "",
    policy: AddressPolicy | None = None,
    deadline: float = http.DEFAULT_DEADLINE,
) -> bytes:
    """Fetch a file from Shopify's CDN: https and an allowed host only (also after each
    redirect, at most 3), at most `max_bytes`, all of it within `deadline` seconds. Anything
    else is refused, so a URL taken from a payload cannot make the worker fetch internal
    addresses or hold it for long."""
    with _opened(url, allowed_hosts, allow_http_origin, policy, deadline) as response:
        return http.read_body(response, max_bytes=max_bytes, what="image")


def stream(
    url: str,
    *,
    allowed_hosts: frozenset[str],
    allow_http_origin: str = "",
    policy: AddressPolicy | None = None,
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """Yield a file's bytes in chunks (for JSONL results that must not be loaded whole; no
    deadline: a bulk result can be large)."""
    with _opened(url, allowed_hosts, allow_http_origin, policy, None) as response:
        yield from http.stream_body(response, what="file", chunk_size=chunk_size)


@contextmanager
def _opened(url: str, allowed_hosts: frozenset[str], allow_http_origin: str,
            policy: AddressPolicy | None, deadline: float | None) -> Iterator[requests.Response]:
    """The checked GET of a CDN file, its status mapped to our errors."""
    with http.opened(
        url, policy=policy, deadline=deadline, timeout=DOWNLOAD_TIMEOUT,
        max_redirects=MAX_REDIRECTS, what="file",
        check_url=lambda u: _check_download_url(u, allowed_hosts, allow_http_origin),
    ) as response:
        status = response.status_code
        if status in (404, 410):
            raise NotFound("The file is gone from Shopify's CDN.")
        if status >= 500 or status == 429:
            raise Unavailable(f"Shopify's CDN answered {status}.")
        if status != 200:
            raise Invalid(f"Shopify's CDN answered {status}.")
        yield response


def _check_download_url(url: str, allowed_hosts: frozenset[str], allow_http_origin: str) -> None:
    if same_origin(url, allow_http_origin):
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or host not in allowed_hosts or parts.username or parts.password:
        raise Invalid("Refusing to download from a host that is not Shopify's CDN.")
    if parts.port not in (None, 443):
        raise Invalid("Refusing to download from a non-standard port.")
