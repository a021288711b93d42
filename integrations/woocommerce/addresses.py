"""Which hosts PhotoSync may call: public addresses only, as WordPress itself insists.

Store URLs come from whoever starts a connection and image URLs from store payloads, so both
are checked before a connection is made: every address the name resolves to must be public
(global unicast), unless it lies in a network the operator allowed explicitly
(`PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS`, e.g. `127.0.0.0/8` for tests or a LAN for an
on-premise store).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from integrations.errors import Invalid, Unavailable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks_parse(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDR strings; raise ValueError naming the bad one."""
    parsed = []
    for value in values:
        value = str(value).strip()
        if value:
            try:
                parsed.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a network (expected CIDR like 10.0.0.0/8)"
                ) from None
    return tuple(parsed)


def address_allowed(address: str, allowed: Iterable[Network] = ()) -> bool:
    """True for a global unicast address, or one inside an explicitly allowed network."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed):
        return True
    return ip.is_global and not ip.is_multicast


def url_check(url: str, *, allowed: Iterable[Network] = (), what: str = "URL") -> None:
    """Refuse a URL that is not http(s) or whose host resolves to a non-public address.

    Raises Invalid (the URL itself is unacceptable) or Unavailable (the name did not resolve,
    which may be temporary).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"The {what} must be an http(s) address.")
    if parts.username or parts.password:
        raise Invalid(f"The {what} must not contain a user name or password.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unavailable(
            f"The host {parts.hostname} of the {what} could not be resolved."
        ) from None
    allowed = tuple(allowed)
    for info in infos:
        if not address_allowed(str(info[4][0]), allowed):
            raise Invalid(
                f"The {what} points to a private or local address ({parts.hostname}); "
                "PhotoSync only connects to public addresses."
            )


def peer_allowed(peer: str | None, allowed: Iterable[Network] = ()) -> bool:
    """Check the address a connection actually reached (guards against DNS rebinding)."""
    return peer is None or address_allowed(peer, tuple(allowed))
