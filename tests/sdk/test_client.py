"""The Python SDK (parley.client): its outbox delivers every message exactly once, also across
reconnects and the crash of the instance it was talking to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from parley.client import ParleyClient
from tests.conftest import BACKEND, start_server
from tests.support import PASSWORD, Server, User, create_conversation, read_all


async def _stored(client: httpx.AsyncClient, user: User, conversation_id: str) -> list[str]:
    return [m["content"] for m in await read_all(client, user, conversation_id)]


@pytest.fixture
async def sdk() -> AsyncIterator[Callable[..., ParleyClient]]:
    made: list[ParleyClient] = []

    def _make(*urls: str) -> ParleyClient:
        made.append(ParleyClient(list(urls), max_backoff_seconds=1.0))
        return made[-1]

    yield _make
    for client in made:
        await client.close()


async def test_connected_send_is_pending_then_confirmed_once(
    sdk: Callable[..., ParleyClient],
    server: Server,
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    parley = sdk(server.url)
    await parley.login(alice.username, PASSWORD)
    await parley.connect()

    entry = await parley.send(conversation["id"], "from the sdk")
    async with asyncio.timeout(10):
        message = await parley.confirmed(entry.client_message_id)

    assert message["seq"] == 1 and entry.status == "SENT"
    assert await _stored(client, bob, conversation["id"]) == ["from the sdk"]


async def test_messages_written_offline_are_sent_in_order_on_connect(
    sdk: Callable[..., ParleyClient],
    server: Server,
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    parley = sdk(server.url)
    await parley.login(alice.username, PASSWORD)
    entries = [await parley.send(conversation["id"], f"offline {i}") for i in range(5)]
    assert [e.status for e in entries] == ["PENDING"] * 5

    await parley.connect()
    async with asyncio.timeout(10):
        for entry in entries:
            await parley.confirmed(entry.client_message_id)

    assert await _stored(client, bob, conversation["id"]) == [f"offline {i}" for i in range(5)]


@pytest.fixture
def doomed(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env)
    yield running
    running.stop()


@pytest.fixture
def survivor(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env)
    yield running
    running.stop()


@pytest.mark.skipif(BACKEND != "postgres", reason="failover needs two instances")
async def test_kill_9_of_an_instance_loses_and_duplicates_nothing(
    sdk: Callable[..., ParleyClient],
    doomed: Server,
    survivor: Server,
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    senders = []
    for user in (alice, bob):
        parley = sdk(doomed.url, survivor.url)
        await parley.login(user.username, PASSWORD)
        await parley.connect()
        senders.append((user, parley))

    async def write(user: User, parley: ParleyClient, count: int) -> list[str]:
        entries = []
        for index in range(count):
            entries.append(await parley.send(conversation["id"], f"{user.username} {index}"))
            if index == count // 3 and user is alice:
                doomed.process.kill()  # SIGKILL, mid-stream
        async with asyncio.timeout(60):
            for entry in entries:
                await parley.confirmed(entry.client_message_id)
        return [entry.content for entry in entries]

    written = await asyncio.gather(*(write(user, parley, 30) for user, parley in senders))

    stored = await _stored(client, bob, conversation["id"])
    assert sorted(stored) == sorted(written[0] + written[1])  # each exactly once
    for contents in written:  # and each sender's in the order it wrote them
        assert [c for c in stored if c in set(contents)] == contents


async def test_rate_limited_message_stays_pending_and_keeps_its_place(
    sdk: Callable[..., ParleyClient],
    server: Server,
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=1)
    parley = sdk(server.url)
    await parley.login(alice.username, PASSWORD)
    notices: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def on_limit(data: dict[str, object]) -> None:
        await notices.put(data)

    parley.on("rate_limit.exceeded", on_limit)
    await parley.connect()
    first = await parley.send(conversation["id"], "first")
    async with asyncio.timeout(10):
        await parley.confirmed(first.client_message_id)

    second = await parley.send(conversation["id"], "second")

    async with asyncio.timeout(10):
        notice = await notices.get()
    assert (notice["scope"], notice["limit"]) == ("CONVERSATION", 1)
    assert second.status == "PENDING" and second.client_message_id in parley.outbox

    raised = await client.patch(
        f"/conversations/{conversation['id']}", json={"rateLimit": 10}, headers=alice.headers
    )
    assert raised.status_code == 200, raised.text
    third = await parley.send(conversation["id"], "third")
    async with asyncio.timeout(10):
        await parley.confirmed(third.client_message_id)
        await parley.confirmed(second.client_message_id)

    assert await _stored(client, bob, conversation["id"]) == ["first", "second", "third"]
