"""WS_MAX_CONNECTIONS: an instance refuses sockets beyond its limit, with a clear reason."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import socketio

from tests.conftest import start_server
from tests.realtime.sockets import Recorder
from tests.support import Server, User


@pytest.fixture(scope="module")
def small_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, {"WS_MAX_CONNECTIONS": "3"})
    yield running
    running.stop()


async def _try_connect(server: Server, user: User, recorder: Recorder) -> bool:
    try:
        await recorder.client.connect(
            server.url, auth={"token": user.token}, transports=["websocket"]
        )
    except socketio.exceptions.ConnectionError:
        return False
    return True


async def test_connections_beyond_the_limit_are_refused(
    small_server: Server, alice: User, bob: User
) -> None:
    sockets = [Recorder() for _ in range(4)]
    try:
        for recorder in sockets[:3]:
            assert await _try_connect(small_server, alice, recorder)
        assert not await _try_connect(small_server, bob, sockets[3])
        assert str(sockets[3].connect_errors[0]["message"]).startswith("TOO_MANY_CONNECTIONS")
    finally:
        for recorder in sockets:
            await recorder.close()


async def test_a_burst_of_handshakes_does_not_overshoot_the_limit(
    small_server: Server, alice: User
) -> None:
    sockets = [Recorder() for _ in range(12)]
    try:
        admitted = await asyncio.gather(*(_try_connect(small_server, alice, r) for r in sockets))
        assert sum(admitted) == 3
        refused = [r for r, ok in zip(sockets, admitted, strict=True) if not ok]
        assert all(
            str(r.connect_errors[0]["message"]).startswith("TOO_MANY_CONNECTIONS") for r in refused
        )
    finally:
        for recorder in sockets:
            await recorder.close()
