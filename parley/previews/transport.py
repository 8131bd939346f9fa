"""An httpx transport that checks every address it connects to (policy.py), at connect time.

The check sits in the network backend under httpcore's connection pool, not before the
request: the backend resolves the name itself, refuses the connection when any address it
resolves to is refused, and connects to an address it vetted. Nothing resolves the name a
second time between the check and the connect, so a DNS answer that changes in between
(rebinding) cannot slip past, and every redirect hop, keep-alive or not, goes through the
same door. TLS still runs against the URL's host name (httpcore passes it as SNI and for the
certificate check), only the TCP connect uses the vetted address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

from parley.previews.policy import AddressPolicy, IPAddress

# The connections one process keeps for previews: the worker fetches a few URLs at a time.
MAX_CONNECTIONS = 20


class AddressRefused(Exception):
    """The host is, or resolves to, an address the policy refuses (SSRF)."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        # A scoped IPv6 address (`fe80::1%eth0`) is judged without its zone.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, connecting only to addresses the policy permits."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError, ValueError) as error:
            raise httpcore.ConnectError(f"name resolution failed: {type(error).__name__}") from None
        # Any refused address refuses the host (as Synapse does): a name that mixes a public
        # and a private address would otherwise reach the private one on a retry.
        if not addresses or not all(self._policy.permits(address) for address in addresses):
            raise AddressRefused("the host resolves to an address previews may not reach")
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("previews never connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request and error mapping), on a pool whose connections go
    through `GuardedBackend`. httpx 0.28 takes no network backend, so the pool it builds is
    replaced by an equivalent one that does (tests/previews checks the refusal end to end)."""

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_CONNECTIONS // 2,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy),
        )
