"""Two instances sharing PostgreSQL and Redis notify each (message, recipient) once: the
windows are shared, and each is flushed by one instance only."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import BACKEND, start_server
from tests.notifications.receiver import Receiver, notify_env, start_receiver
from tests.support import Server, create_conversation, register, send

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="several instances need PostgreSQL and Redis"
)

PER_INSTANCE = 15


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    running, runner = await start_receiver()
    yield running
    await runner.cleanup()


@pytest.fixture(scope="module")
def instances(backend_env: dict[str, str], receiver: Receiver) -> Iterator[tuple[Server, Server]]:
    env = notify_env(receiver, backend_env, "0.3", "notify-two")
    first, second = start_server(backend_env, env), start_server(backend_env, env)
    yield first, second
    first.stop()
    second.stop()


async def test_each_message_is_notified_once_per_recipient_across_instances(
    instances: tuple[Server, Server], receiver: Receiver
) -> None:
    first, second = instances
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=30) as one,
        httpx.AsyncClient(base_url=second.url, timeout=30) as two,
    ):
        alice, carol = await register(one, "alice"), await register(two, "carol")
        bob, dave = await register(one, "bob"), await register(two, "dave")
        conversation = await create_conversation(one, alice, [carol, bob, dave])
        cid = conversation["id"]

        sent = await asyncio.gather(
            *(send(one, alice, cid, f"from one {n}") for n in range(PER_INSTANCE)),
            *(send(two, carol, cid, f"from two {n}") for n in range(PER_INSTANCE)),
        )
        # Each instance notifies in its commit order: once both witnesses arrived, so did
        # every window holding an earlier message.
        witnesses = [
            await send(one, alice, cid, "last from one"),
            await send(two, carol, cid, "last from two"),
        ]
    expected = len(sent) + len(witnesses)
    for recipient in (bob, dave):
        for witness in witnesses:
            await receiver.wait_for_message(recipient.id, witness["id"])
        await receiver.wait_until(
            lambda user=recipient: sum(d["count"] for d in receiver.accepted[user.id]) >= expected
        )

    for recipient in (bob, dave):
        deliveries = receiver.accepted[recipient.id]
        assert sum(delivery["count"] for delivery in deliveries) == expected
        assert len({delivery["id"] for delivery in deliveries}) == len(deliveries)
        shown = Counter(receiver.message_ids(recipient.id))
        assert max(shown.values()) == 1, shown
        # Batched: far fewer pushes than messages.
        assert len(deliveries) < expected
    assert receiver.bad_signatures == 0
    # Each sender heard only of the other's messages.
    from_two = {m["id"] for m in [*sent, *witnesses] if m["senderId"] == carol.id}
    assert set(receiver.message_ids(alice.id)) <= from_two
    assert all(count == 1 for count in Counter(receiver.message_ids(alice.id)).values())
