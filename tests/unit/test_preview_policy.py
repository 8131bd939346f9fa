"""The link preview address policy (parley.previews.policy): which addresses a preview may
connect to. Exhaustive on purpose: this table is the SSRF defence (docs/api.md, Link
previews); the end-to-end refusals are in tests/previews/test_ssrf.py."""

from __future__ import annotations

import ipaddress

import pytest

from parley.previews.policy import AddressPolicy, embedded_ipv4, is_public, scheme_permitted

REFUSED = [
    # IPv4 private, loopback, link-local / metadata, CGNAT
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.255",
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.254",
    # unspecified, "this network", multicast, reserved, broadcast, documentation, benchmarks
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "198.18.0.1",
    "192.88.99.1",
    # IPv6 loopback, unspecified, link-local, unique-local, site-local, multicast, documentation
    "::1",
    "::",
    "fe80::1",
    "febf:ffff::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",
    "100::1",
    # tunnels to arbitrary IPv4 addresses (6to4, Teredo) and local-use NAT64
    "2002:7f00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "64:ff9b:1::a00:1",
    # IPv4 addresses inside IPv6: mapped, compatible (deprecated), NAT64
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:192.168.1.1",
    "::ffff:100.64.0.1",
    "::ffff:0.0.0.0",
    "::127.0.0.1",
    "::10.0.0.1",
    "64:ff9b::127.0.0.1",
    "64:ff9b::a9fe:a9fe",  # 169.254.169.254
]

PERMITTED = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "151.101.1.69",
    "172.15.255.255",  # just outside 172.16/12
    "172.32.0.1",
    "100.63.255.255",  # just outside 100.64/10
    "100.128.0.1",
    "169.253.255.255",
    "11.0.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize("raw", REFUSED)
def test_refused_addresses(raw: str) -> None:
    address = ipaddress.ip_address(raw)
    assert not is_public(address)
    assert not AddressPolicy().permits(address)


@pytest.mark.parametrize("raw", PERMITTED)
def test_public_addresses_are_permitted(raw: str) -> None:
    address = ipaddress.ip_address(raw)
    assert is_public(address)
    assert AddressPolicy().permits(address)


@pytest.mark.parametrize("raw", REFUSED + PERMITTED)
def test_allow_private_permits_everything(raw: str) -> None:
    assert AddressPolicy(allow_private=True).permits(ipaddress.ip_address(raw))


def test_allowed_networks_are_exceptions_and_only_those() -> None:
    policy = AddressPolicy.from_settings(False, ["127.0.0.2/32", "10.1.0.0/16", "fd00::/64"])
    for raw in ("127.0.0.2", "10.1.2.3", "::ffff:127.0.0.2", "fd00::5"):
        assert policy.permits(ipaddress.ip_address(raw)), raw
    for raw in ("127.0.0.1", "10.2.0.1", "169.254.169.254", "::1", "fd00:0:0:1::5"):
        assert not policy.permits(ipaddress.ip_address(raw)), raw


def test_embedded_ipv4_of_mapped_and_nat64_addresses() -> None:
    assert embedded_ipv4(ipaddress.ip_address("::ffff:10.0.0.1")) == ipaddress.ip_address(
        "10.0.0.1"
    )
    assert embedded_ipv4(ipaddress.ip_address("64:ff9b::a00:1")) == ipaddress.ip_address("10.0.0.1")
    assert embedded_ipv4(ipaddress.ip_address("2606:4700::1")) is None
    assert embedded_ipv4(ipaddress.ip_address("10.0.0.1")) is None


@pytest.mark.parametrize(
    ("scheme", "permitted"),
    [
        ("http", True),
        ("https", True),
        ("HTTPS", True),
        ("ftp", False),
        ("file", False),
        ("gopher", False),
        ("data", False),
        ("javascript", False),
        ("", False),
    ],
)
def test_only_http_and_https(scheme: str, permitted: bool) -> None:
    assert scheme_permitted(scheme) is permitted
