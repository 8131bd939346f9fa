"""The SDK's resend timer: an entry whose outcome never arrives, with the socket up, is sent
again with the same clientMessageId, and the server's answer with the stored message confirms it
(once, without a second row).

The server drops the confirmation here through a public setting: an event larger than
EVENT_MAX_SIZE is not sent (core/events.py), while the `send_message` ack is not bounded. A
server with a small limit commits a long message and acknowledges it, but its
`message_confirmed` (and `new_message`) never leave: exactly what the sender sees when a
confirmation is lost on the way.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from parley.client import ParleyClient
from tests.conftest import start_server
from tests.support import PASSWORD, Server, create_conversation, read_all, register

LONG = "a long message " * 200  # about 3 KB: its events are over the limit below


@pytest.fixture
def small_events_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, {"EVENT_MAX_SIZE": "2KB"})
    yield running
    running.stop()
    if "PARLEY_TEST_KEEP_LOGS" not in os.environ:
        os.unlink(running.log_path)


@pytest.fixture
async def http(small_events_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=small_events_server.url, timeout=30) as client:
        yield client


async def test_unconfirmed_entry_is_resent_and_the_stored_answer_confirms_it(
    small_events_server: Server, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    conversation = await create_conversation(http, alice, [bob])
    parley = ParleyClient([small_events_server.url], resend_after_seconds=1.0)
    confirmations: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    parley.on("message_confirmed", confirmations.put_nowait)
    try:
        await parley.login(alice.username, PASSWORD)
        await parley.connect()
        short = await parley.send(conversation["id"], "short")
        long = await parley.send(conversation["id"], LONG)

        async with asyncio.timeout(20):
            heard = [await confirmations.get(), await confirmations.get()]
            stored = await parley.confirmed(long.client_message_id)

        by_id = {confirmation["clientMessageId"]: confirmation for confirmation in heard}
        assert set(by_id) == {short.client_message_id, long.client_message_id}
        # Heard through the resend's ack, not an event: the same payload, once.
        assert by_id[long.client_message_id] == {
            "clientMessageId": long.client_message_id,
            "message": stored,
        }
        assert long.status == "SENT" and long.attempts >= 2 and parley.connected
        assert stored["clientMessageId"] == long.client_message_id and stored["seq"] == 2
        assert not parley.outbox
    finally:
        await parley.close()
    assert confirmations.empty()
    rows = await read_all(http, bob, conversation["id"])
    assert [(m["seq"], m["content"]) for m in rows] == [(1, "short"), (2, LONG)]
