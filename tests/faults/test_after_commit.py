"""A committed change is a success: a Redis outage during the after-commit work (cache
invalidation, events) never turns it into an error, and a removed member's cached access
record is not trusted until its invalidation has landed, even when Redis comes back with it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import BACKEND
from tests.faults.services import PrivateRedis
from tests.support import User, assert_error, create_conversation, register, remove

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="breaks a private Redis: the Redis cache runs on postgres only"
)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    service = PrivateRedis(persistent=True)
    service.start()
    yield service
    service.cleanup()


async def test_writes_during_a_redis_outage_answer_success(
    http: httpx.AsyncClient, private_redis: PrivateRedis
) -> None:
    alice, bob, carol = [await register(http, name) for name in ("alice", "bob", "carol")]
    room = await create_conversation(http, alice, [bob, carol])
    assert (await http.get(f"/conversations/{room['id']}", headers=bob.headers)).status_code == 200

    private_redis.kill()

    created = await http.post(
        "/conversations",
        json={"type": "GROUP", "name": "outage", "participantIds": [bob.id]},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    renamed = await http.patch(
        f"/conversations/{room['id']}", json={"name": "renamed"}, headers=alice.headers
    )
    assert renamed.status_code == 200, renamed.text
    removed = await remove(http, alice, room["id"], carol)
    assert removed.status_code == 200, removed.text

    # The changes were saved: read back (cache misses go to the database).
    listed = await http.get(f"/conversations/{created.json()['id']}", headers=bob.headers)
    assert listed.status_code == 200
    read = await http.get(f"/conversations/{room['id']}", headers=bob.headers)
    assert read.json()["name"] == "renamed"


async def _removed_member_sees_nothing(http: httpx.AsyncClient, user: User, room_id: str) -> None:
    response = await http.get(f"/conversations/{room_id}", headers=user.headers)
    assert_error(response, 404, "CONVERSATION_NOT_FOUND")
    # The message page is served through the cached access check (get_membership).
    page = await http.get(f"/messages/conversation/{room_id}", headers=user.headers)
    assert_error(page, 404, "CONVERSATION_NOT_FOUND")


async def test_removed_member_is_refused_when_redis_returns_with_the_stale_record(
    http: httpx.AsyncClient, private_redis: PrivateRedis, backend_env: dict[str, str]
) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    room = await create_conversation(http, alice, [bob])
    # Bob's access record is now cached in Redis (and fsynced to its append-only file).
    page = await http.get(f"/messages/conversation/{room['id']}", headers=bob.headers)
    assert page.status_code == 200
    key = f"{backend_env['REDIS_KEY_PREFIX']}cache:member:{room['id']}:{bob.id}".encode()
    assert private_redis.client().exists(key)

    private_redis.kill()
    removed = await remove(http, alice, room["id"], bob)
    assert removed.status_code == 200, removed.text
    await _removed_member_sees_nothing(http, bob, room["id"])

    # Redis comes back with the record written before the removal.
    private_redis.start()
    await _removed_member_sees_nothing(http, bob, room["id"])
    for _ in range(5):
        await _removed_member_sees_nothing(http, bob, room["id"])

    # The retried invalidation lands: the stale record is gone from Redis for every instance
    # (the key may come back, refilled from the database with the removal).
    client = private_redis.client()
    deadline = asyncio.get_running_loop().time() + 15
    while (raw := client.get(key)) is not None and json.loads(raw)["status"] == "ACTIVE":
        assert asyncio.get_running_loop().time() < deadline, "the invalidation never landed"
        await asyncio.sleep(0.1)
    await _removed_member_sees_nothing(http, bob, room["id"])
