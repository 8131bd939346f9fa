"""Which addresses and schemes a link preview may reach (the SSRF rules, docs/api.md).

Modelled on Synapse's `url_preview_ip_range_blacklist` and Stripe's Smokescreen: a link in a
message must never make the server reach into its own network (the database, Redis, a cloud
metadata service at 169.254.169.254, an admin page on loopback). The check runs on the
addresses a name resolves to, at connect time (transport.py), so a name that resolves to a
private address, a redirect to one, or a DNS answer that changes between a check and the
connect (rebinding) are all refused the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Every range that is not the public internet. `ipaddress`'s `is_global` is checked as well,
# as a second net for ranges this list misses; the list states the intent and does not move
# with the Python version.
DENIED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        # IPv4
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        # IPv6 (IPv4-mapped and NAT64 addresses are judged by the IPv4 address they carry)
        "::/96",  # unspecified, loopback, IPv4-compatible (deprecated)
        "100::/64",  # discard
        "64:ff9b:1::/48",  # local-use NAT64
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4: tunnels to any IPv4 address
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (`::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`):
    connecting to it reaches that IPv4 host, so it is judged as that host."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """`allow_private` (PREVIEW_ALLOW_PRIVATE) turns the check off; `allowed` networks
    (PREVIEW_ALLOW_NETWORKS) are exceptions to the denied ranges, as Synapse's
    `url_preview_ip_range_whitelist` (an intranet wiki, or a test's page server)."""

    allow_private: bool = False
    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, allowed: Iterable[str]) -> AddressPolicy:
        return cls(
            allow_private=allow_private,
            allowed=tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allowed),
        )

    def permits(self, address: IPAddress) -> bool:
        """May a preview connect to `address`?"""
        if self.allow_private:
            return True
        target = embedded_ipv4(address) or address
        if any(target.version == net.version and target in net for net in self.allowed):
            return True
        return is_public(target)


def is_public(address: IPAddress) -> bool:
    """Outside every denied range, and global by `ipaddress`'s own tables."""
    target = embedded_ipv4(address) or address
    if any(target.version == net.version and target in net for net in DENIED_NETWORKS):
        return False
    return target.is_global and not target.is_multicast


def scheme_permitted(scheme: str) -> bool:
    return scheme.lower() in ALLOWED_SCHEMES
