"""The SDK heals (issue 10, point 3): a transient `message_failed` is resent in order while the
socket stays up, a permanent one fails the entry and tells the application, a `seq` gap is
synced at once, and a reconnect syncs what was missed meanwhile.

Commit failures are injected in the real database with a trigger (as in
tests/messages/test_commit_failure.py) that refuses one marked content only while a flag row
exists, so the test decides when the database heals.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from parley.client import OutboxEntry, ParleyClient, ParleyError
from tests.conftest import BACKEND
from tests.support import PASSWORD, User, create_conversation, execute_sql, read_all, send


@dataclass
class Outage:
    """A content the database refuses to store until `heal()`."""

    marker: str
    backend_env: dict[str, str]
    flag: str

    async def heal(self) -> None:
        await execute_sql(self.backend_env, [f"DELETE FROM {self.flag}"])


@pytest.fixture
async def outage(backend_env: dict[str, str]) -> AsyncIterator[Outage]:
    # A hashtag: content is stored encrypted, so the trigger finds the marker in the
    # metadata extracted from it (in clear), not in the content.
    name = f"flaky_{secrets.token_hex(4)}"
    marker = f"#{name}"
    flag = f"{name}_down"
    if BACKEND == "postgres":
        install = [
            f"CREATE TABLE {flag} (down integer)",
            f"INSERT INTO {flag} VALUES (1)",
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.metadata::text LIKE '%{name}%' AND EXISTS (SELECT 1 FROM {flag}) THEN "
            f"RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$",
            f"CREATE TRIGGER {name} BEFORE INSERT ON messages FOR EACH ROW "
            f"EXECUTE FUNCTION {name}()",
        ]
        remove = [
            f"DROP TRIGGER {name} ON messages",
            f"DROP FUNCTION {name}()",
            f"DROP TABLE {flag}",
        ]
    else:
        install = [
            f"CREATE TABLE {flag} (down integer)",
            f"INSERT INTO {flag} VALUES (1)",
            f"CREATE TRIGGER {name} BEFORE INSERT ON messages WHEN NEW.metadata LIKE '%{name}%' "
            f"AND EXISTS (SELECT 1 FROM {flag}) BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
        ]
        remove = [f"DROP TRIGGER {name}", f"DROP TABLE {flag}"]
    await execute_sql(backend_env, install)
    yield Outage(marker=marker, backend_env=backend_env, flag=flag)
    await execute_sql(backend_env, remove)


@pytest.fixture
async def sdk(server: Any) -> AsyncIterator[Callable[..., Any]]:
    made: list[ParleyClient] = []

    async def _make(user: User) -> ParleyClient:
        parley = ParleyClient([server.url], max_backoff_seconds=1.0)
        made.append(parley)
        await parley.login(user.username, PASSWORD)
        return parley

    yield _make
    for parley in made:
        await parley.close()


class Seen:
    """What the application was handed through `new_message`, per conversation."""

    def __init__(self, parley: ParleyClient) -> None:
        self.messages: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        parley.on("new_message", self._on_message)

    def _on_message(self, data: dict[str, Any]) -> None:
        self.messages.append(data["message"])
        self._changed.set()

    def seqs(self, conversation_id: str) -> list[int]:
        return [m["seq"] for m in self.messages if m["conversationId"] == conversation_id]

    async def until_seq(self, conversation_id: str, seq: int) -> None:
        async with asyncio.timeout(15):
            while seq not in self.seqs(conversation_id):
                self._changed.clear()
                await self._changed.wait()


async def _stored(client: httpx.AsyncClient, user: User, conversation_id: str) -> list[str]:
    return [m["content"] for m in await read_all(client, user, conversation_id)]


async def test_transient_commit_failure_is_resent_in_order_while_the_socket_stays_up(
    sdk: Callable[..., Any],
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    outage: Outage,
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    parley: ParleyClient = await sdk(alice)
    failures: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    parley.on("message_failed", failures.put_nowait)
    await parley.connect()
    before = await parley.send(conversation["id"], "before")
    async with asyncio.timeout(10):
        await parley.confirmed(before.client_message_id)

    flaky = await parley.send(conversation["id"], outage.marker)
    async with asyncio.timeout(10):
        failure = await failures.get()
    assert failure["clientMessageId"] == flaky.client_message_id
    assert failure["error"]["code"] == "COMMIT_FAILED"
    # Written while the first is being retried: it must wait behind it.
    after = await parley.send(conversation["id"], "after")
    await outage.heal()

    async with asyncio.timeout(15):
        stored = await parley.confirmed(flaky.client_message_id)
        await parley.confirmed(after.client_message_id)

    assert parley.connected and flaky.status == "SENT" and after.status == "SENT"
    assert stored["clientMessageId"] == flaky.client_message_id
    assert not parley.outbox
    assert await _stored(client, bob, conversation["id"]) == ["before", outage.marker, "after"]


async def test_permanent_refusal_fails_the_entry_and_tells_the_application(
    sdk: Callable[..., Any], client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    parley: ParleyClient = await sdk(alice)
    failed: asyncio.Queue[OutboxEntry] = asyncio.Queue()
    parley.on("send_failed", failed.put_nowait)
    await parley.connect()

    doomed = await parley.send(conversation["id"], "x" * 10_001)
    fine = await parley.send(conversation["id"], "fine")

    async with asyncio.timeout(10):
        told = await failed.get()
        await parley.confirmed(fine.client_message_id)
    assert told is doomed
    assert doomed.status == "FAILED" and doomed.error is not None
    assert doomed.error["code"] == "MESSAGE_TOO_LONG"
    assert doomed.client_message_id not in parley.outbox
    with pytest.raises(ParleyError) as raised:
        async with asyncio.timeout(5):
            await parley.confirmed(doomed.client_message_id)
    assert raised.value.code == "MESSAGE_TOO_LONG"
    assert await _stored(client, bob, conversation["id"]) == ["fine"]


async def test_a_skipped_seq_is_synced_at_once_and_handed_over_in_order(
    sdk: Callable[..., Any], client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    receiver: ParleyClient = await sdk(bob)
    seen = Seen(receiver)
    await receiver.connect()
    await send(client, alice, conversation["id"], "one")
    await seen.until_seq(conversation["id"], 1)

    # Bob's socket misses two messages (as behind a Redis blip between instances).
    await receiver.leave(conversation["id"])
    await send(client, alice, conversation["id"], "two")
    await send(client, alice, conversation["id"], "three")
    await receiver.join(conversation["id"])
    await send(client, alice, conversation["id"], "four")

    await seen.until_seq(conversation["id"], 4)
    assert seen.seqs(conversation["id"]) == [1, 2, 3, 4]
    assert [m["content"] for m in seen.messages] == ["one", "two", "three", "four"]
    assert receiver.seen_seq(conversation["id"]) == 4


async def test_after_a_reconnect_the_conversations_seen_are_synced(
    sdk: Callable[..., Any], client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    quiet = await create_conversation(client, alice, [bob], rateLimit=10_000)
    receiver: ParleyClient = await sdk(bob)
    seen = Seen(receiver)
    await receiver.connect()
    await send(client, alice, conversation["id"], "one")
    await send(client, alice, quiet["id"], "only")
    await seen.until_seq(conversation["id"], 1)
    await seen.until_seq(quiet["id"], 1)

    await receiver.close()  # the socket goes; messages are sent meanwhile
    await send(client, alice, conversation["id"], "two")
    await send(client, alice, conversation["id"], "three")
    await receiver.connect()

    await seen.until_seq(conversation["id"], 3)
    assert seen.seqs(conversation["id"]) == [1, 2, 3]
    assert seen.seqs(quiet["id"]) == [1]
