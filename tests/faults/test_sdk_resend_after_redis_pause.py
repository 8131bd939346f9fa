"""A quiet SDK client whose send was caught by a Redis pause heals while its socket stays up.

With the private Redis paused (`CLIENT PAUSE`, data kept), the send handler waits on it (the
cached access check), so the SDK's call times out: the flush stops at that entry, and the entry
queued behind it is never sent. When Redis is back the first is committed and confirmed, but
nothing sends the second: no event will come for it, the socket never drops, and the client
sends nothing more. The SDK's resend timer sends it (the same clientMessageId), once.

(A `message_confirmed` itself is not lost to a Redis fault on one instance: python-socketio
delivers a room's emit to this instance's sockets before it publishes to Redis. What the timer
heals is an outcome the client never hears while its socket stays up, whatever lost it.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from parley.client import ParleyClient
from tests.conftest import BACKEND
from tests.faults.services import PrivateRedis
from tests.support import PASSWORD, Server, create_conversation, read_all, register

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="pauses a private Redis: the Redis cache runs on postgres only"
)

ACK_TIMEOUT = 1.0
# Long enough to outlast both calls that wait on it (the first send's, and its resend by the
# second send's flush), so the second entry is never sent before the timer.
PAUSE_MS = 5000


async def test_quiet_client_sends_what_a_redis_pause_left_unsent_while_connected(
    redis_server: Server, http: httpx.AsyncClient, private_redis: PrivateRedis
) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    conversation = await create_conversation(http, alice, [bob])
    parley = ParleyClient([redis_server.url], request_timeout=ACK_TIMEOUT, resend_after_seconds=2.0)
    confirmations: list[dict[str, Any]] = []
    all_confirmed = asyncio.Event()

    def on_confirmed(data: dict[str, Any]) -> None:
        confirmations.append(data)
        if len(confirmations) >= 3:
            all_confirmed.set()

    parley.on("message_confirmed", on_confirmed)
    try:
        await parley.login(alice.username, PASSWORD)
        await parley.connect()
        before = await parley.send(conversation["id"], "before")
        async with asyncio.timeout(10):
            await parley.confirmed(before.client_message_id)

        private_redis.pause(PAUSE_MS)
        first = await parley.send(conversation["id"], "first")  # its ack times out
        second = await parley.send(conversation["id"], "second")
        assert second.attempts == 0, "the pause ended before the second send's flush"

        # The client stays idle and connected from here on.
        async with asyncio.timeout(PAUSE_MS / 1000 + 30):
            await parley.confirmed(first.client_message_id)
            await parley.confirmed(second.client_message_id)
            await all_confirmed.wait()

        assert parley.connected and first.status == "SENT" and second.status == "SENT"
        assert not parley.outbox
        heard = sorted(c["clientMessageId"] for c in confirmations)  # each once
        assert heard == sorted(entry.client_message_id for entry in (before, first, second))
    finally:
        await parley.close()
    rows = await read_all(http, bob, conversation["id"])
    assert [(m["seq"], m["content"]) for m in rows] == [(1, "before"), (2, "first"), (3, "second")]
