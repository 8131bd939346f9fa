"""Sockets: per-user limit, transports that never connect the namespace, token expiry and
revocation (POST /auth/logout).

Each limit is tested on a server of its own with small values.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import socketio
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as open_websocket
from websockets.exceptions import ConnectionClosed

from tests.conftest import BACKEND, start_server
from tests.realtime.sockets import TIMEOUT, Connect, Recorder
from tests.support import PASSWORD, Server, User, assert_error, register

PER_USER = 2
MAX_CONNECTIONS = 2
CONNECT_TIMEOUT_SECONDS = 2


async def _try_connect(server: Server, user: User, recorder: Recorder) -> bool:
    try:
        await recorder.client.connect(
            server.url, auth={"token": user.token}, transports=["websocket"]
        )
    except socketio.exceptions.ConnectionError:
        return False
    return True


def _refusal(recorder: Recorder) -> str:
    assert recorder.connect_errors, "no connect_error received"
    return str(recorder.connect_errors[0]["message"])


@asynccontextmanager
async def _sockets(count: int) -> AsyncIterator[list[Recorder]]:
    recorders = [Recorder() for _ in range(count)]
    try:
        yield recorders
    finally:
        for recorder in recorders:
            await recorder.close()


# --------------------------------------------------------------------------- per user

PER_USER_ENV = {"WS_MAX_CONNECTIONS_PER_USER": str(PER_USER)}


@pytest.fixture(scope="module")
def per_user_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, PER_USER_ENV)
    yield running
    running.stop()


async def test_sockets_beyond_the_per_user_limit_are_refused_naming_the_reason(
    per_user_server: Server, client: httpx.AsyncClient
) -> None:
    # Users of their own: with Redis the counts are shared with the suite's other servers.
    user, other = await register(client, "many"), await register(client, "other")
    async with _sockets(PER_USER + 2) as recorders:
        for recorder in recorders[:PER_USER]:
            assert await _try_connect(per_user_server, user, recorder)

        assert not await _try_connect(per_user_server, user, recorders[PER_USER])
        assert _refusal(recorders[PER_USER]).startswith("TOO_MANY_CONNECTIONS_FOR_USER")
        # Another user is not affected.
        assert await _try_connect(per_user_server, other, recorders[PER_USER + 1])


async def test_a_burst_of_one_users_sockets_stops_at_the_per_user_limit(
    per_user_server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client, "burst")
    async with _sockets(8) as recorders:
        admitted = await asyncio.gather(
            *(_try_connect(per_user_server, user, recorder) for recorder in recorders)
        )
        assert sum(admitted) == PER_USER
        refused = [r for r, ok in zip(recorders, admitted, strict=True) if not ok]
        assert all(_refusal(r).startswith("TOO_MANY_CONNECTIONS_FOR_USER") for r in refused)


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
async def test_the_per_user_limit_holds_across_instances(
    per_user_server: Server, client: httpx.AsyncClient, backend_env: dict[str, str]
) -> None:
    user = await register(client, "spread")
    other = start_server(backend_env, PER_USER_ENV)
    try:
        async with _sockets(PER_USER + 2) as recorders:
            servers = [per_user_server, other]
            for index, recorder in enumerate(recorders[:PER_USER]):
                assert await _try_connect(servers[index % 2], user, recorder)

            for server, recorder in zip(servers, recorders[PER_USER:], strict=True):
                assert not await _try_connect(server, user, recorder)
                assert _refusal(recorder).startswith("TOO_MANY_CONNECTIONS_FOR_USER")
    finally:
        other.stop()


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
async def test_the_per_user_limit_across_instances_outlives_the_first_presence_periods(
    client: httpx.AsyncClient, backend_env: dict[str, str]
) -> None:
    """The count kept in Redis is renewed while the sockets stay: it used to lapse 3 x
    PRESENCE_TTL after the last connect, and another instance then admitted past the limit."""
    quick = {**PER_USER_ENV, "PRESENCE_TTL": "1s"}
    first, second = start_server(backend_env, quick), start_server(backend_env, quick)
    user = await register(client, "lasting")
    try:
        async with _sockets(PER_USER + 1) as recorders:
            for recorder in recorders[:PER_USER]:
                assert await _try_connect(first, user, recorder)
            # Past the count's first lifetime (3 x PRESENCE_TTL), the sockets still open.
            await asyncio.sleep(3.5)
            assert not await _try_connect(second, user, recorders[PER_USER])
            assert _refusal(recorders[PER_USER]).startswith("TOO_MANY_CONNECTIONS_FOR_USER")
    finally:
        first.stop()
        second.stop()


# --------------------------------------------------------------------------- raw transports


@pytest.fixture(scope="module")
def guarded_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(
        backend_env,
        {
            "WS_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
            "WS_CONNECT_TIMEOUT": f"{CONNECT_TIMEOUT_SECONDS}s",
        },
    )
    yield running
    running.stop()


async def _raw_transport(server: Server) -> ClientConnection:
    """An Engine.IO session over a websocket that never sends the namespace CONNECT."""
    url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    websocket = await open_websocket(url)
    opening = await asyncio.wait_for(websocket.recv(), TIMEOUT)
    assert isinstance(opening, str) and opening.startswith("0"), opening  # Engine.IO OPEN
    return websocket


async def _closed_by_server(websocket: ClientConnection) -> list[Any]:
    """Wait (at most TIMEOUT) for the server to close the websocket; what came before it."""
    received: list[Any] = []

    async def drain() -> None:
        try:
            async for message in websocket:
                received.append(message)
        except ConnectionClosed:
            pass

    await asyncio.wait_for(drain(), TIMEOUT)
    return received


async def test_a_transport_that_never_connects_the_namespace_is_closed(
    guarded_server: Server,
) -> None:
    websocket = await _raw_transport(guarded_server)
    try:
        received = await _closed_by_server(websocket)
    finally:
        await websocket.close()
    # No Socket.IO packet ever came: only Engine.IO's own (a ping "2", a close "1").
    assert all(str(message)[:1] in {"1", "2"} for message in received), received


async def test_transports_waiting_for_the_namespace_count_against_the_limit(
    guarded_server: Server, alice: User
) -> None:
    raw = [await _raw_transport(guarded_server) for _ in range(MAX_CONNECTIONS)]
    try:
        async with _sockets(2) as (refused, admitted):
            assert not await _try_connect(guarded_server, alice, refused)
            assert _refusal(refused).startswith("TOO_MANY_CONNECTIONS")

            for websocket in raw:
                await _closed_by_server(websocket)
            # Their places are free again once the server closed them.
            assert await _try_connect(guarded_server, alice, admitted)
    finally:
        for websocket in raw:
            await websocket.close()


# --------------------------------------------------------------------------- token expiry


@pytest.fixture(scope="module")
def short_token_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, {"JWT_EXPIRES_IN": "5s"})
    yield running
    running.stop()


async def test_a_socket_is_disconnected_when_its_token_expires(
    short_token_server: Server,
) -> None:
    async with httpx.AsyncClient(base_url=short_token_server.url, timeout=30) as http:
        user = await register(http, "brief")
        recorder = Recorder()
        gone = asyncio.Event()

        async def disconnected(*_reason: Any) -> None:
            gone.set()

        recorder.client.on("disconnect", disconnected)
        try:
            assert await _try_connect(short_token_server, user, recorder)
            await asyncio.wait_for(gone.wait(), TIMEOUT)
        finally:
            await recorder.close()

        # By then REST refuses the token too, and the socket cannot come back with it.
        assert_error(await http.get("/users/me", headers=user.headers), 401, "TOKEN_EXPIRED")
        async with _sockets(1) as (again,):
            assert not await _try_connect(short_token_server, user, again)
            assert _refusal(again).startswith("TOKEN_EXPIRED")


# --------------------------------------------------------------------------- logout


def _watch_disconnect(recorder: Recorder) -> asyncio.Event:
    gone = asyncio.Event()

    async def disconnected(*_reason: Any) -> None:
        gone.set()

    recorder.client.on("disconnect", disconnected)
    return gone


async def _second_token(client: httpx.AsyncClient, user: User) -> User:
    response = await client.post(
        "/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return User(id=user.id, username=user.username, token=response.json()["accessToken"])


async def test_logout_revokes_the_token_and_disconnects_its_sockets(
    server: Server, client: httpx.AsyncClient, connect: Connect
) -> None:
    user = await register(client, "leaving")
    elsewhere = await _second_token(client, user)  # the same user on another device
    socket = await connect(user)
    gone = _watch_disconnect(socket)
    kept = await connect(elsewhere)

    response = await client.post("/auth/logout", headers=user.headers)

    assert response.status_code == 204, response.text
    assert await socket.next_of("session_revoked") == {"reason": "LOGGED_OUT"}
    await asyncio.wait_for(gone.wait(), TIMEOUT)
    assert_error(await client.get("/users/me", headers=user.headers), 401, "INVALID_TOKEN")
    assert_error(await client.post("/auth/logout", headers=user.headers), 401, "INVALID_TOKEN")
    async with _sockets(1) as (again,):
        assert not await _try_connect(server, user, again)
        assert _refusal(again).startswith("INVALID_TOKEN")
    # Only that token: the other device goes on.
    me = await client.get("/users/me", headers=elsewhere.headers)
    assert me.status_code == 200, me.text
    ack = await kept.call("join_conversation", {"conversationId": str(uuid.uuid4())})
    assert ack["error"]["code"] == "CONVERSATION_NOT_FOUND", ack


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
async def test_logout_on_one_instance_holds_on_every_instance(
    client: httpx.AsyncClient, backend_env: dict[str, str]
) -> None:
    user = await register(client, "roaming")
    other = start_server(backend_env)
    try:
        async with httpx.AsyncClient(base_url=other.url, timeout=30) as other_client:
            async with _sockets(1) as (socket,):
                gone = _watch_disconnect(socket)
                assert await _try_connect(other, user, socket)

                response = await client.post("/auth/logout", headers=user.headers)
                assert response.status_code == 204, response.text

                await asyncio.wait_for(gone.wait(), TIMEOUT)
            refused = await other_client.get("/users/me", headers=user.headers)
            assert_error(refused, 401, "INVALID_TOKEN")
    finally:
        other.stop()
