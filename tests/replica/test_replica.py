"""DATABASE_READ_URL against a real streaming replica (tests/replica/conftest.py): history,
search, analytics and export reads go to the replica while it is fresh enough, a writer reads
their own writes from the primary, and a replica that lags past the bound or is down leaves
reads to the primary without an error."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.metrics.support import Samples, scrape, value
from tests.replica.conftest import Cluster
from tests.support import Server, User, create_conversation, register, send

DEADLINE_SECONDS = 15


@pytest.fixture
async def patient(patient_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=patient_server.url, timeout=30) as http:
        yield http


@pytest.fixture
async def strict(strict_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=strict_server.url, timeout=30) as http:
        yield http


def reads(samples: Samples, target: str, reason: str) -> float:
    return value(samples, "parley_db_reads_total", target=target, reason=reason)


async def history(client: httpx.AsyncClient, user: User, conversation_id: str) -> list[str]:
    """The contents of the newest page of the conversation, as `user` reads them."""
    response = await client.get(f"/messages/conversation/{conversation_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return [item["content"] for item in response.json()["items"]]


async def counted(
    client: httpx.AsyncClient, read: Callable[[], Awaitable[Any]]
) -> tuple[Any, Samples]:
    """`read`'s result and how each reads counter moved over it (nothing else reads)."""
    before = await scrape(client)
    result = await read()
    after = await scrape(client)
    moved = {key: after[key] - before.get(key, 0.0) for key in after}
    return result, moved


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def pair(client: httpx.AsyncClient, cluster: Cluster) -> tuple[User, User, str]:
    """Alice and Bob in a conversation of Alice's, all of it on the replica already."""
    alice, bob = await register(client, "alice"), await register(client, "bob")
    conversation = await create_conversation(client, alice, [bob])
    await cluster.caught_up()
    return alice, bob, conversation["id"]


def word() -> str:
    return f"w{secrets.token_hex(5)}"


async def test_writers_read_their_own_writes_while_others_read_the_replica(
    patient: httpx.AsyncClient, cluster: Cluster
) -> None:
    alice, bob, conversation_id = await pair(patient, cluster)
    carol = await register(patient, "carol")
    added = await patient.post(
        f"/conversations/{conversation_id}/participants",
        json={"userIds": [carol.id]},
        headers=alice.headers,
    )
    assert added.status_code == 201, added.text
    carols = await send(patient, carol, conversation_id, "as carol wrote it")
    await cluster.caught_up()
    await cluster.pause_replay()
    try:
        # A send (the committer's batch) is its sender's write.
        fresh = word()
        await send(patient, alice, conversation_id, fresh)
        seen, moved = await counted(patient, lambda: history(patient, alice, conversation_id))
        assert seen == [fresh, "as carol wrote it"]
        assert reads(moved, "primary", "own_write") == 1

        # So is any other change (a request's transaction): an edit.
        edited = await patient.put(
            f"/messages/{carols['id']}",
            json={"content": "as carol edited it"},
            headers=carol.headers,
        )
        assert edited.status_code == 200, edited.text
        seen, moved = await counted(patient, lambda: history(patient, carol, conversation_id))
        assert seen == [fresh, "as carol edited it"]
        assert reads(moved, "primary", "own_write") == 1

        # Bob wrote nothing: the replica, within the bound, answers without either change.
        seen, moved = await counted(patient, lambda: history(patient, bob, conversation_id))
        assert seen == ["as carol wrote it"]
        assert reads(moved, "replica", "fresh") == 1
        assert await cluster.replica("SELECT pg_get_wal_replay_pause_state()") == "paused"
    finally:
        await cluster.resume_replay()

    async def bob_sees_both() -> bool:
        return await history(patient, bob, conversation_id) == [fresh, "as carol edited it"]

    await eventually(bob_sees_both)
    _, moved = await counted(patient, lambda: history(patient, bob, conversation_id))
    assert reads(moved, "replica", "fresh") == 1


async def test_reads_go_to_the_primary_once_the_replica_lags_past_the_bound(
    strict: httpx.AsyncClient, cluster: Cluster
) -> None:
    alice, bob, conversation_id = await pair(strict, cluster)
    await cluster.pause_replay()
    try:
        fresh = word()
        await send(strict, alice, conversation_id, fresh)

        async def bob_sees_it() -> bool:
            return fresh in await history(strict, bob, conversation_id)

        before = await scrape(strict)
        await eventually(bob_sees_it)
        after = await scrape(strict)
        assert reads(after, "primary", "lag") > reads(before, "primary", "lag")
        # Bob saw it from the primary: the replica still has not replayed it.
        assert await cluster.replica("SELECT pg_get_wal_replay_pause_state()") == "paused"
    finally:
        await cluster.resume_replay()
    await cluster.caught_up()

    async def replica_again() -> bool:
        _, moved = await counted(strict, lambda: history(strict, bob, conversation_id))
        return reads(moved, "replica", "fresh") == 1

    await eventually(replica_again)


async def test_replica_down_leaves_every_read_to_the_primary(
    patient: httpx.AsyncClient, cluster: Cluster
) -> None:
    alice, bob, conversation_id = await pair(patient, cluster)
    cluster.stop_replica()
    try:
        fresh = word()
        await send(patient, alice, conversation_id, f"{fresh} while the replica is down")
        # A conversation Bob did not write: his export still lists it, from the primary.
        later = await create_conversation(patient, alice, [bob])

        before = await scrape(patient)
        assert fresh in (await history(patient, bob, conversation_id))[0]

        found = await patient.get("/messages/search", params={"q": fresh}, headers=bob.headers)
        assert found.status_code == 200, found.text
        assert [item["conversationId"] for item in found.json()["items"]] == [conversation_id]

        figures = await patient.get(
            f"/conversations/{conversation_id}/analytics", headers=alice.headers
        )
        assert figures.status_code == 200, figures.text
        assert figures.json()["totals"]["messages"] == 1

        export = await patient.get("/users/me/export", headers=bob.headers)
        assert export.status_code == 200, export.text
        with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
            lines = archive.read("conversations.jsonl").decode().splitlines()
        assert later["id"] in {json.loads(line)["id"] for line in lines}

        after = await scrape(patient)
        # Each of the four went to the primary: known down, or failed on the replica first.
        on_primary = sum(
            reads(after, "primary", reason) - reads(before, "primary", reason)
            for reason in ("down", "replica_error", "own_write")
        )
        assert on_primary >= 4
        assert value(after, "parley_db_replica_up") == 0
    finally:
        cluster.start_replica()

    async def replica_again() -> bool:
        _, moved = await counted(patient, lambda: history(patient, bob, conversation_id))
        return reads(moved, "replica", "fresh") == 1

    await eventually(replica_again)
    assert fresh in (await history(patient, bob, conversation_id))[0]
