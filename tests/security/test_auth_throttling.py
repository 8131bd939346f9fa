"""Login and registration are throttled per account and per client address, and the client
address cannot be picked by the client.

Two servers of their own with small limits: one behind a trusted proxy (127.0.0.1 is in
TRUSTED_PROXIES, so each test names its own client address in X-Forwarded-For and its
counters stay apart), one with no trusted proxy (the header must be ignored).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import own_server
from tests.support import PASSWORD, Server, User, assert_error, unique_name

PER_ACCOUNT = 3
PER_ADDRESS = 6


@pytest.fixture(scope="module")
def proxied_server(backend_env: dict[str, str]) -> Iterator[Server]:
    # Redis key prefixes of their own: these counters start from zero.
    settings = {
        "AUTH_RATE_LIMIT_PER_ACCOUNT": str(PER_ACCOUNT),
        "AUTH_RATE_LIMIT_PER_ADDRESS": str(PER_ADDRESS),
        "TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
    }
    with own_server(backend_env, "auth-proxied", settings) as running:
        yield running


@pytest.fixture(scope="module")
def direct_server(backend_env: dict[str, str]) -> Iterator[Server]:
    settings = {"AUTH_RATE_LIMIT_PER_ADDRESS": str(PER_ADDRESS)}
    with own_server(backend_env, "auth-direct", settings) as running:
        yield running


@pytest.fixture
async def proxied(proxied_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxied_server.url, timeout=30) as http:
        yield http


@pytest.fixture
async def direct(direct_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=direct_server.url, timeout=30) as http:
        yield http


class Caller:
    """Requests that come, through the trusted proxy, from one client address."""

    def __init__(self, http: httpx.AsyncClient, forwarded_for: str) -> None:
        self.http = http
        self.headers = {"X-Forwarded-For": forwarded_for}

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post(
            "/auth/login",
            json={"username": username, "password": password},
            headers=self.headers,
        )

    async def register(self, username: str | None = None) -> httpx.Response:
        return await self.http.post(
            "/auth/register",
            json={"username": username or unique_name("reg"), "password": PASSWORD},
            headers=self.headers,
        )


_used: set[str] = set()


def _fresh_address() -> str:
    """A client address of a documentation range (only ever a header value), one per use."""
    while True:
        address = f"198.51.100.{secrets.randbelow(254) + 1}"
        if address not in _used:
            _used.add(address)
            return address


def _assert_limited(response: httpx.Response, scope: str, limit: int) -> dict[str, Any]:
    details = assert_error(response, 429, "RATE_LIMITED")["details"]
    assert details["scope"] == scope
    assert details["limit"] == limit
    assert details["windowSeconds"] == (900 if scope == "ACCOUNT" else 60)
    assert 0 < details["retryAfterMs"] <= details["windowSeconds"] * 1000
    retry_after = int(response.headers["Retry-After"])
    assert retry_after * 1000 >= details["retryAfterMs"] > (retry_after - 1) * 1000
    return dict(details)


async def _user(http: httpx.AsyncClient) -> User:
    """A user registered from an address of its own (not counted against the tests' ones)."""
    caller = Caller(http, _fresh_address())
    response = await caller.register()
    assert response.status_code == 201, response.text
    data = response.json()
    return User(id=data["user"]["id"], username=data["user"]["username"], token=data["accessToken"])


# --------------------------------------------------------------------------- per account


async def test_failed_logins_lock_the_account_even_for_the_right_password(
    proxied: httpx.AsyncClient,
) -> None:
    victim = await _user(proxied)
    # Each guess from another address: the account's limit holds whatever the address.
    for _ in range(PER_ACCOUNT):
        wrong = await Caller(proxied, _fresh_address()).login(victim.username, "not the password")
        assert_error(wrong, 401, "INVALID_CREDENTIALS")

    locked = await Caller(proxied, _fresh_address()).login(victim.username, "another guess")
    right = await Caller(proxied, _fresh_address()).login(victim.username)

    _assert_limited(locked, "ACCOUNT", PER_ACCOUNT)
    _assert_limited(right, "ACCOUNT", PER_ACCOUNT)


async def test_successful_logins_are_not_counted_against_the_account(
    proxied: httpx.AsyncClient,
) -> None:
    user = await _user(proxied)
    for _ in range(PER_ACCOUNT + 1):
        response = await Caller(proxied, _fresh_address()).login(user.username)
        assert response.status_code == 200, response.text
    for _ in range(PER_ACCOUNT):
        wrong = await Caller(proxied, _fresh_address()).login(user.username, "wrong password")
        assert_error(wrong, 401, "INVALID_CREDENTIALS")
    _assert_limited(
        await Caller(proxied, _fresh_address()).login(user.username), "ACCOUNT", PER_ACCOUNT
    )


async def test_a_locked_account_does_not_lock_others_and_ignores_username_case(
    proxied: httpx.AsyncClient,
) -> None:
    victim, bystander = await _user(proxied), await _user(proxied)
    for _ in range(PER_ACCOUNT):
        wrong = await Caller(proxied, _fresh_address()).login(victim.username.upper(), "guess")
        assert_error(wrong, 401, "INVALID_CREDENTIALS")

    _assert_limited(
        await Caller(proxied, _fresh_address()).login(victim.username), "ACCOUNT", PER_ACCOUNT
    )
    fine = await Caller(proxied, _fresh_address()).login(bystander.username)
    assert fine.status_code == 200, fine.text


async def test_unknown_usernames_are_locked_like_known_ones(proxied: httpx.AsyncClient) -> None:
    """The answers do not tell which usernames exist."""
    ghost = unique_name("ghost")
    for _ in range(PER_ACCOUNT):
        wrong = await Caller(proxied, _fresh_address()).login(ghost, "guess")
        assert_error(wrong, 401, "INVALID_CREDENTIALS")
    _assert_limited(await Caller(proxied, _fresh_address()).login(ghost), "ACCOUNT", PER_ACCOUNT)


# --------------------------------------------------------------------------- per address


async def test_attempts_from_one_address_are_limited_logins_and_registrations_together(
    proxied: httpx.AsyncClient,
) -> None:
    user = await _user(proxied)
    caller = Caller(proxied, _fresh_address())
    for index in range(PER_ADDRESS):
        if index % 2:
            response = await caller.register()
            assert response.status_code == 201, response.text
        else:
            response = await caller.login(user.username)
            assert response.status_code == 200, response.text

    _assert_limited(await caller.login(user.username), "ADDRESS", PER_ADDRESS)
    _assert_limited(await caller.register(), "ADDRESS", PER_ADDRESS)
    elsewhere = await Caller(proxied, _fresh_address()).login(user.username)
    assert elsewhere.status_code == 200, elsewhere.text


async def test_concurrent_registrations_from_one_address_stop_at_the_limit(
    proxied: httpx.AsyncClient,
) -> None:
    caller = Caller(proxied, _fresh_address())
    responses = await asyncio.gather(*(caller.register() for _ in range(PER_ADDRESS + 4)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * PER_ADDRESS + [429] * 4, [r.text for r in responses]


async def test_the_address_is_the_first_untrusted_hop_of_x_forwarded_for(
    proxied: httpx.AsyncClient,
) -> None:
    """Hops the client wrote itself (left of the last untrusted one) do not change it."""
    user = await _user(proxied)
    client_address = _fresh_address()
    for index in range(PER_ADDRESS):
        # <spoofed by the client>, <the client as our proxies saw it>, <a trusted proxy>
        chain = f"192.0.2.{index + 1}, {client_address}, 10.1.2.3"
        response = await Caller(proxied, chain).login(user.username)
        assert response.status_code == 200, response.text
    spoofed = Caller(proxied, f"192.0.2.200, {client_address}, 10.1.2.3")
    _assert_limited(await spoofed.login(user.username), "ADDRESS", PER_ADDRESS)


async def test_x_forwarded_for_from_an_untrusted_peer_does_not_pick_the_address(
    direct: httpx.AsyncClient,
) -> None:
    """Without TRUSTED_PROXIES the peer (127.0.0.1 here) is the address, whatever the header."""
    for index in range(PER_ADDRESS):
        response = await Caller(direct, f"198.51.100.{index + 1}").register()
        assert response.status_code == 201, response.text
    refused = await Caller(direct, "198.51.100.250").register()
    _assert_limited(refused, "ADDRESS", PER_ADDRESS)
