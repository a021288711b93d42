"""Files to and from Shopify: staged uploads (the bytes of a new product image) and downloads
from Shopify's CDN (product images, bulk-operation results).

Every URL is checked before a socket is opened: uploads go to https targets only, downloads come
from Shopify's file hosts only (also after each redirect), so a URL taken from a payload cannot
make the worker reach internal addresses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import urljoin, urlsplit

import requests

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
    session: requests.Session | None = None,
) -> None:
    """Send bytes to a staged upload target: for POST, a multipart form with every returned
    parameter in order and the file field last; for PUT, the raw bytes with the returned
    parameters as headers. Repeating it is harmless (same target, same bytes)."""
    _check_upload_url(url, allow_http_origin)
    session = session or new_session()
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
    session = session or new_session()
    for _ in range(MAX_REDIRECTS + 1):
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
    if same_origin(url, allow_http_origin):
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or host not in allowed_hosts or parts.username or parts.password:
        raise Invalid("Refusing to download from a host that is not Shopify's CDN.")
    if parts.port not in (None, 443):
        raise Invalid("Refusing to download from a non-standard port.")
