"""Which addresses PhotoSync may connect to: public ones, and the networks an operator allowed.

Store URLs come from whoever starts a connection, image and upload URLs from store payloads,
so every outbound connection (integrations.http) is checked against an `AddressPolicy`: the
address must be public unicast, unless it lies in a network the operator allowed explicitly
(`PHOTOSYNC_ALLOWED_NETWORKS`, e.g. `127.0.0.0/8` for emulators or a LAN for an on-premise
store).

"Public" is decided from IANA's special-purpose registries, written out below rather than
left to `ipaddress.is_global` (whose answers change between Python releases, and which calls
the IPv4-compatible `::a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, NAT64 and 6to4 forms of 127.0.0.1
global). IPv6 forms that carry an IPv4 address (mapped, SIIT, compatible, NAT64's
`64:ff9b::/96`, 6to4's `2002::/16`) are judged by the IPv4 address they carry; the local-use
NAT64 prefix `64:ff9b:1::/48`, whose layout each site chooses, is refused whole.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from integrations.errors import Invalid, Unavailable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Never reachable as a public host: private, shared (CG-NAT), loopback, link-local,
# benchmarking, documentation, relay anycast, multicast, reserved and broadcast ranges.
NON_PUBLIC: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
# IPv6 forms whose last 32 bits are an IPv4 address the packet ends up at.
_TAIL_EMBEDDING: tuple[ipaddress.IPv6Network, ...] = tuple(ipaddress.IPv6Network(n) for n in (
    "::ffff:0:0/96",    # IPv4-mapped
    "::ffff:0:0:0/96",  # SIIT (IPv4-translated)
    "64:ff9b::/96",     # NAT64, well-known prefix
    "::/96",            # IPv4-compatible (deprecated), :: and ::1 aside
))
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


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


def embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries, or None."""
    if isinstance(ip, ipaddress.IPv4Address) or ip in (
        ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")
    ):
        return None
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    if any(ip in net for net in _TAIL_EMBEDDING):
        return ipaddress.IPv4Address(ip.packed[-4:])
    return None


def address_public(ip: Address) -> bool:
    """True for a public unicast address (an embedded IPv4 address must be public too)."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return address_public(inner)
    if any(ip in net for net in NON_PUBLIC if net.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus `allowed` networks the operator opened explicitly."""

    allowed: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allowed: Iterable[str | Network] = ()) -> AddressPolicy:
        return cls(networks_parse(str(n) for n in allowed))

    def allows(self, address: str) -> bool:
        try:
            ip: Address = ipaddress.ip_address(str(address).split("%", 1)[0])
        except ValueError:
            return False
        inner = embedded_ipv4(ip)
        if any(ip in net or (inner is not None and inner in net) for net in self.allowed):
            return True
        return address_public(ip)

    def resolve(self, host: str, port: int, *, what: str = "") -> list[str]:
        """The addresses `host` resolves to, every one of them allowed; else Invalid (a
        refused address) or Unavailable (the name did not resolve, maybe for now)."""
        subject = f"The {what}" if what else f"The host {host}"
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            where = f"The host {host} of the {what}" if what else subject
            raise Unavailable(f"{where} could not be resolved.") from None
        addresses = [str(info[4][0]) for info in infos]
        if not addresses or not all(self.allows(a) for a in addresses):
            raise AddressRefused(
                f"{subject} points to a private or local address"
                f"{f' ({host})' if what else ''}; PhotoSync only connects to public addresses."
            )
        return addresses


class AddressRefused(Invalid):
    """A connection to a private, local or reserved address was refused."""


def address_allowed(address: str, allowed: Iterable[str | Network] = ()) -> bool:
    """True for a public unicast address, or one inside an explicitly allowed network."""
    return AddressPolicy.of(allowed).allows(address)


def url_check(url: str, *, allowed: Iterable[str | Network] = (), what: str = "URL") -> None:
    """Refuse a URL that is not http(s) or whose host resolves to a non-public address, before
    anything is sent (integrations.http checks every connection again when it is made)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"The {what} must be an http(s) address.")
    if parts.username or parts.password:
        raise Invalid(f"The {what} must not contain a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid(f"The {what} has an invalid port.") from None
    AddressPolicy.of(allowed).resolve(parts.hostname, port, what=what)
