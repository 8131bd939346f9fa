"""Exactly once with several instances and across a restart (docs/api.md, Scheduled
messages: the claim, the lease and the send's clientMessageId)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import BACKEND, POSTGRES_ADMIN_URL, _postgres, start_server
from tests.realtime.sockets import Recorder, open_socket
from tests.scheduled.helpers import at, next_named, schedule, wait_for_status
from tests.support import Server, User, create_conversation, message_page, register, send


@pytest.fixture(scope="module")
def second_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env)
    yield running
    running.stop()


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
async def test_messages_due_together_are_sent_once_with_two_instances(
    server: Server,
    second_server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    receiver = await open_socket(sockets, second_server, bob)
    count = 20
    when = at(2.5)
    async with httpx.AsyncClient(base_url=second_server.url, timeout=30) as other:
        items = [
            await schedule(other if n % 2 else client, alice, conversation["id"], f"m{n}", when)
            for n in range(count)
        ]

    received = [(await next_named(receiver, "new_message"))["message"] for _ in items]

    assert sorted(m["content"] for m in received) == sorted(f"m{n}" for n in range(count))
    assert sorted(m["seq"] for m in received) == list(range(1, count + 1))
    marker = await send(client, alice, conversation["id"], "marker")
    assert (await next_named(receiver, "new_message"))["message"]["id"] == marker["id"]
    page = await message_page(client, bob, conversation["id"], limit=100)
    assert len(page["items"]) == count + 1
    for item in items:
        await wait_for_status(client, alice, item["id"], "SENT")


@pytest.fixture
def own_storage(backend_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """An environment with a database of its own: the session's server must not send it."""
    data_dir = tempfile.mkdtemp(prefix="parley-sched-")
    env = {**backend_env, "PARLEY_DATA_DIR": data_dir}
    database = None
    if BACKEND == "postgres":
        database = f"parley_sched_{secrets.token_hex(6)}"
        asyncio.run(_postgres(f'CREATE DATABASE "{database}"'))
        env["DATABASE_URL"] = f"{POSTGRES_ADMIN_URL}/{database}"
        env["REDIS_KEY_PREFIX"] = f"parley-sched-{secrets.token_hex(6)}:"
    yield env
    if database is not None:
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    shutil.rmtree(data_dir, ignore_errors=True)


def test_scheduled_message_survives_a_restart_and_is_sent_once(
    own_storage: dict[str, str],
) -> None:
    asyncio.run(_survives_a_restart(own_storage))


async def _survives_a_restart(env: dict[str, str]) -> None:
    first = start_server(env)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            alice = await register(http, "alice")
            bob = await register(http, "bob")
            conversation = await create_conversation(http, alice, [bob])
            item = await schedule(http, alice, conversation["id"], "after the restart", at(4))
    finally:
        first.stop()  # before it is due

    second = start_server(env)
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:
            done = await wait_for_status(http, alice, item["id"], "SENT", within=20)
            page = await message_page(http, bob, conversation["id"])
            assert [m["id"] for m in page["items"]] == [done["sentMessageId"]]
            assert page["items"][0]["content"] == "after the restart"
            assert page["items"][0]["seq"] == 1
    finally:
        second.stop()
