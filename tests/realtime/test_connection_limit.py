"""WS_MAX_CONNECTIONS: an instance refuses sockets beyond its limit, with a clear reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import socketio

from tests.conftest import start_server
from tests.realtime.sockets import Recorder
from tests.support import Server, User


@pytest.fixture(scope="module")
def small_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, {"WS_MAX_CONNECTIONS": "1"})
    yield running
    running.stop()


async def test_connections_beyond_the_limit_are_refused(
    small_server: Server, alice: User, bob: User
) -> None:
    first, second = Recorder(), Recorder()
    await first.client.connect(
        small_server.url, auth={"token": alice.token}, transports=["websocket"]
    )
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await second.client.connect(
                small_server.url, auth={"token": bob.token}, transports=["websocket"]
            )
        assert str(second.connect_errors[0]["message"]).startswith("TOO_MANY_CONNECTIONS")
    finally:
        await first.close()
        await second.close()
