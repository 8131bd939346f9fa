"""Sending is rate limited per user per conversation per minute and per user per hour.

A refusal is a 429 RATE_LIMITED with Retry-After and the limit in its details, stores nothing,
and reaches the sender's sockets as `rate_limit.exceeded`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND, own_server, start_server
from tests.realtime.sockets import Connect, Recorder
from tests.support import (
    Server,
    User,
    assert_error,
    create_conversation,
    new_client_id,
    post_message,
    read_all,
    register,
    send,
)

# Only the notices: the sends' own events are not what these sockets watch.
NOTICES_ONLY = frozenset({"user_status_changed", "new_message", "message_confirmed"})


def _assert_refused(response: httpx.Response, scope: str, limit: int) -> dict[str, Any]:
    details = assert_error(response, 429, "RATE_LIMITED")["details"]
    assert details["scope"] == scope
    assert details["limit"] == limit
    assert details["windowSeconds"] == (60 if scope == "CONVERSATION" else 3600)
    assert 0 < details["retryAfterMs"] <= details["windowSeconds"] * 1000
    retry_after = int(response.headers["Retry-After"])
    assert retry_after * 1000 >= details["retryAfterMs"] > (retry_after - 1) * 1000
    return dict(details)


async def test_conversation_limit_refuses_the_next_send_and_stores_nothing(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=3)
    socket = await connect(alice, NOTICES_ONLY)
    for index in range(3):
        await send(client, alice, conversation["id"], f"m{index}")

    refused = await post_message(client, alice, conversation["id"], content="one too many")

    details = _assert_refused(refused, "CONVERSATION", 3)
    assert details["conversationId"] == conversation["id"]
    event = await socket.next_of("rate_limit.exceeded")
    assert event == {
        "scope": "CONVERSATION",
        "limit": 3,
        "windowSeconds": 60,
        "retryAfterMs": details["retryAfterMs"],
        "conversationId": conversation["id"],
    }
    stored = await read_all(client, alice, conversation["id"])
    assert [m["content"] for m in stored] == ["m0", "m1", "m2"]


async def test_conversation_limit_is_per_user_and_per_conversation(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    limited = await create_conversation(client, alice, [bob], rateLimit=2)
    other = await create_conversation(client, alice, [bob], rateLimit=2)
    for _ in range(2):
        await send(client, alice, limited["id"])
    _assert_refused(await post_message(client, alice, limited["id"]), "CONVERSATION", 2)

    await send(client, bob, limited["id"], "bob has his own allowance")
    await send(client, alice, other["id"], "another conversation counts apart")


async def test_retry_of_an_accepted_send_is_answered_even_when_the_limit_is_spent(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=1)
    client_id = new_client_id()
    first = await send(client, alice, conversation["id"], clientMessageId=client_id)

    retry = await post_message(client, alice, conversation["id"], clientMessageId=client_id)

    assert retry.status_code in (200, 202), retry.text
    assert retry.json()["id"] == first["id"]
    _assert_refused(await post_message(client, alice, conversation["id"]), "CONVERSATION", 1)


async def test_socket_send_over_the_limit_is_refused_in_the_ack_and_announced(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=1)
    sender = await connect(alice, NOTICES_ONLY)
    other_tab = await connect(alice, NOTICES_ONLY)
    await send(client, alice, conversation["id"])

    ack = await sender.call(
        "send_message", {"conversationId": conversation["id"], "content": "too soon"}
    )

    assert ack["ok"] is False
    assert ack["error"]["code"] == "RATE_LIMITED"
    assert ack["error"]["details"]["scope"] == "CONVERSATION"
    for socket in (sender, other_tab):
        event = await socket.next_of("rate_limit.exceeded")
        assert (event["scope"], event["limit"]) == ("CONVERSATION", 1)


async def test_forwarding_counts_against_each_target_conversation(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    message = await send(client, alice, source["id"], "worth repeating")
    target = await create_conversation(client, alice, [bob], rateLimit=1)
    await send(client, alice, target["id"])

    response = await client.post(
        f"/messages/{message['id']}/forward",
        json={"conversationIds": [target["id"]]},
        headers=alice.headers,
    )

    _assert_refused(response, "CONVERSATION", 1)
    assert len(await read_all(client, alice, target["id"])) == 1


async def test_lowering_the_conversation_limit_applies_to_the_next_send(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"])
    response = await client.patch(
        f"/conversations/{conversation['id']}", json={"rateLimit": 1}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    await send(client, alice, conversation["id"], "the new limit's first")

    _assert_refused(await post_message(client, alice, conversation["id"]), "CONVERSATION", 1)


# ------------------------------------------------------------ limits from the environment


@pytest.fixture(scope="module")
def limited_server(backend_env: dict[str, str]) -> Iterator[Server]:
    """A server with small limits from the environment (its own Redis key prefix)."""
    limits = {"RATE_LIMIT_MESSAGES": "3", "RATE_LIMIT_MESSAGES_PER_HOUR": "5"}
    with own_server(backend_env, "limited", limits) as running:
        yield running


@pytest.fixture
async def limited_client(limited_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited_server.url, timeout=30) as http:
        yield http


async def test_environment_sets_the_default_per_minute_and_the_hourly_limit(
    limited_client: httpx.AsyncClient,
) -> None:
    sender = await register(limited_client, "hasty")
    friend = await register(limited_client, "friend")
    first = await create_conversation(limited_client, sender, [friend])
    second = await create_conversation(limited_client, sender, [friend])
    assert first["rateLimit"] == 3
    for _ in range(3):
        await send(limited_client, sender, first["id"])
    _assert_refused(await post_message(limited_client, sender, first["id"]), "CONVERSATION", 3)

    # The refused send was not counted against the hour: 3 + 2 more fit in 5.
    for _ in range(2):
        await send(limited_client, sender, second["id"])
    _assert_refused(await post_message(limited_client, sender, second["id"]), "USER", 5)

    await send(limited_client, friend, second["id"], "others are not affected")


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
async def test_instances_share_the_counters(
    server: Server, client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    other = start_server(backend_env)
    try:
        async with httpx.AsyncClient(base_url=other.url, timeout=30) as other_client:
            conversation = await create_conversation(client, alice, [bob], rateLimit=2)
            await send(client, alice, conversation["id"], "on the first instance")
            await send(other_client, alice, conversation["id"], "on the second instance")

            for http in (client, other_client):
                _assert_refused(
                    await post_message(http, alice, conversation["id"]), "CONVERSATION", 2
                )
    finally:
        other.stop()


async def test_rate_limit_event_does_not_reach_other_users(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=1)
    watcher: Recorder = await connect(bob)
    await send(client, alice, conversation["id"], "first")
    assert (await watcher.next_of("new_message"))["message"]["content"] == "first"
    _assert_refused(await post_message(client, alice, conversation["id"]), "CONVERSATION", 1)

    await send(client, bob, conversation["id"], "after the refusal")

    # Bob's next event is his own message: no rate_limit.exceeded came before it.
    assert (await watcher.next_of("new_message"))["message"]["content"] == "after the refusal"
