"""No error from a connection that died while idle: the first request after a restart of
PostgreSQL or of Redis succeeds (the pools check or reopen their connections)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, start_server
from tests.faults.services import PrivatePostgreSQL, PrivateRedis
from tests.support import Server, create_conversation, new_client_id, register

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres",
    reason="restarts a private PostgreSQL and Redis: the postgres backend's connection pools",
)


def _stop(server: Server) -> None:
    server.stop()
    if "PARLEY_TEST_KEEP_LOGS" not in os.environ:
        os.unlink(server.log_path)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgreSQL]:
    service = PrivatePostgreSQL()
    try:
        service.init()
        service.ctl("start")
        yield service
    finally:
        service.cleanup()


@pytest.fixture
async def on_private_postgres(
    backend_env: dict[str, str], private_postgres: PrivatePostgreSQL
) -> AsyncIterator[httpx.AsyncClient]:
    # No Redis: nothing but the database pool is under test.
    env = {key: value for key, value in backend_env.items() if key != "REDIS_URL"}
    running = start_server(env, {"DATABASE_URL": private_postgres.url})
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
            yield client
    finally:
        _stop(running)


async def test_first_read_after_a_postgresql_restart_succeeds(
    on_private_postgres: httpx.AsyncClient, private_postgres: PrivatePostgreSQL
) -> None:
    http = on_private_postgres
    alice, bob = await register(http, "alice"), await register(http, "bob")
    await create_conversation(http, alice, [bob])
    # Several pooled connections, all idle when the server goes away.
    for _ in range(3):
        assert (await http.get("/conversations", headers=alice.headers)).status_code == 200

    private_postgres.ctl("restart")

    first = await http.get("/conversations", headers=alice.headers)
    assert first.status_code == 200, first.text
    me = await http.get("/users/me", headers=bob.headers)
    assert me.status_code == 200, me.text


def _log_since(server: Server, offset: int) -> str:
    with Path(server.log_path).open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


# What the server logs when a Redis command fails and it degrades (fails open, or a miss).
REDIS_FAILURES = ("rate limit not checked", "cache get failed", "cache set failed", "invalidation")


async def test_first_send_after_a_redis_restart_succeeds(
    redis_server: Server, private_redis: PrivateRedis
) -> None:
    async with httpx.AsyncClient(base_url=redis_server.url, timeout=30) as http:
        await _send_around_a_redis_restart(http, redis_server, private_redis)


async def _send_around_a_redis_restart(
    http: httpx.AsyncClient, redis_server: Server, private_redis: PrivateRedis
) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    room = await create_conversation(http, alice, [bob])

    def body() -> dict[str, str]:
        return {"conversationId": room["id"], "content": "hi", "clientMessageId": new_client_id()}

    # A send uses Redis (its rate limits); the connection it used is idle in the pool.
    sent = await http.post("/messages?wait=true", json=body(), headers=alice.headers)
    assert sent.status_code == 201, sent.text

    private_redis.kill()
    private_redis.start()
    before = Path(redis_server.log_path).stat().st_size  # noqa: ASYNC240 (a local file)

    # Every Redis command of the first send (access check, rate limits) reaches Redis: the
    # send is not only answered, nothing on its way degraded (a rate limit not checked).
    first = await http.post("/messages?wait=true", json=body(), headers=alice.headers)
    assert first.status_code == 201, first.text
    logged = _log_since(redis_server, before)
    assert not [failure for failure in REDIS_FAILURES if failure in logged], logged
