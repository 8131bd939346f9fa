"""A logged-out token stays refused while Redis, which holds the deny-list, is down or after it
lost its data: the token check asks the database's copy instead of taking the unanswered read,
or the empty store, for "not revoked"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
import socketio

from tests.conftest import BACKEND
from tests.faults.services import PrivateRedis
from tests.realtime.sockets import Recorder
from tests.support import PASSWORD, Server, User, assert_error, register

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="breaks a private Redis: the Redis deny-list is postgres only"
)


async def test_a_logged_out_token_stays_refused_while_redis_is_down(
    http: httpx.AsyncClient, redis_server: Server, private_redis: PrivateRedis
) -> None:
    alice, other_session = await _logged_out_and_another_session(http)

    private_redis.kill()

    assert_error(await http.get("/users/me", headers=alice.headers), 401, "INVALID_TOKEN")
    recorder = Recorder()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await recorder.client.connect(
                redis_server.url, auth={"token": alice.token}, transports=["websocket"]
            )
    finally:
        await recorder.close()
    assert recorder.connect_errors, "no connect_error received"
    assert str(recorder.connect_errors[0]["message"]).startswith("INVALID_TOKEN")
    # The token that was not logged out still works: the outage costs a lookup, not access.
    me = await http.get("/users/me", headers=other_session.headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == alice.id


async def test_a_logged_out_token_stays_refused_after_redis_loses_its_data(
    http: httpx.AsyncClient, redis_server: Server, private_redis: PrivateRedis
) -> None:
    # A Redis restarted without its files, or a failover to a replica that was behind: the
    # deny-list's entries are gone, so the check asks the database, and the store is refilled.
    alice, other_session = await _logged_out_and_another_session(http)
    redis = private_redis.client()
    try:
        revoked = set(redis.scan_iter(match="*revoked-token:*"))
        assert revoked, "the logout wrote no deny-list entry"

        redis.flushall()

        assert_error(await http.get("/users/me", headers=alice.headers), 401, "INVALID_TOKEN")
        me = await http.get("/users/me", headers=other_session.headers)
        assert me.status_code == 200, me.text
        # The check that found the store empty started a copy of the database's deny-list.
        await _until(lambda: revoked <= set(redis.scan_iter(match="*revoked-token:*")))
        assert_error(await http.get("/users/me", headers=alice.headers), 401, "INVALID_TOKEN")
    finally:
        redis.close()


async def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.05)


async def _logged_out_and_another_session(http: httpx.AsyncClient) -> tuple[User, User]:
    """A user whose first token was logged out, and a second session of theirs."""
    alice = await register(http, "alice")
    login = await http.post("/auth/login", json={"username": alice.username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    other_session = User(id=alice.id, username=alice.username, token=login.json()["accessToken"])
    logout = await http.post("/auth/logout", headers=alice.headers)
    assert logout.status_code == 204, logout.text
    return alice, other_session
