"""A socket event that fails because the database is down is answered SERVICE_UNAVAILABLE, as
REST answers 503: clients (the SDK's error table) retry that, and only that."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import start_server
from tests.faults.services import PrivatePostgreSQL
from tests.faults.test_idle_connections import _stop, private_postgres, pytestmark
from tests.realtime.sockets import Recorder
from tests.support import Server, create_conversation, register, send

__all__ = ["private_postgres", "pytestmark"]


@pytest.fixture
async def server_on_private_postgres(
    backend_env: dict[str, str], private_postgres: PrivatePostgreSQL
) -> AsyncIterator[Server]:
    # No Redis: the access record stays cached in the process while the database is down.
    env = {key: value for key, value in backend_env.items() if key != "REDIS_URL"}
    running = start_server(env, {"DATABASE_URL": private_postgres.url})
    try:
        yield running
    finally:
        _stop(running)


async def test_a_socket_event_during_a_database_outage_answers_service_unavailable(
    server_on_private_postgres: Server, private_postgres: PrivatePostgreSQL
) -> None:
    server = server_on_private_postgres
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        alice, bob = await register(http, "alice"), await register(http, "bob")
        conversation = await create_conversation(http, alice, [bob])
        await send(http, alice, conversation["id"], "before the outage")
        socket = Recorder()
        await socket.client.connect(server.url, transports=["websocket"], auth={"token": bob.token})
        try:
            request = {"conversationId": conversation["id"], "afterSeq": 0}
            assert (await socket.call("sync", request))["ok"] is True

            private_postgres.ctl("stop")
            during = await socket.call("sync", request)
            rest = await http.get(
                f"/messages/conversation/{conversation['id']}", headers=bob.headers
            )
        finally:
            await socket.close()

    assert during["ok"] is False
    assert during["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert rest.status_code == 503
