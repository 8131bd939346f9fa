"""The same sender + clientMessageId is the same message, whenever and however often it is sent."""

from __future__ import annotations

import asyncio

import httpx

from tests.support import (
    User,
    assert_error,
    create_conversation,
    new_client_id,
    post_message,
    read_all,
    send,
)

# Rounds of concurrent retries. Before the recently-committed map (4eded2a), one round showed
# the race (a 202 with a fresh id that was never stored) on PostgreSQL about a third of the time.
RACE_ROUNDS = 15


async def test_retry_after_commit_returns_the_stored_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    client_id = new_client_id()
    first = await post_message(
        client, alice, conversation["id"], "once", wait=True, clientMessageId=client_id
    )
    assert first.status_code == 201, first.text

    retry = await post_message(client, alice, conversation["id"], "once", clientMessageId=client_id)

    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()


async def test_wait_retry_after_commit_returns_the_stored_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    client_id = new_client_id()
    first = await send(client, alice, conversation["id"], "once", clientMessageId=client_id)

    retry = await post_message(
        client, alice, conversation["id"], "once", wait=True, clientMessageId=client_id
    )

    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == first["id"]
    assert retry.json()["seq"] == first["seq"]


async def test_retry_with_other_content_returns_the_original_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    client_id = new_client_id()
    first = await send(client, alice, conversation["id"], "original", clientMessageId=client_id)

    retry = await post_message(
        client, alice, conversation["id"], "changed", clientMessageId=client_id
    )

    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == first["id"]
    assert retry.json()["content"] == "original"


async def test_retry_of_accepted_send_returns_the_same_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    client_id = new_client_id()
    first = await post_message(client, alice, conversation["id"], "hi", clientMessageId=client_id)
    assert first.status_code == 202, first.text
    assert first.json()["clientMessageId"] == client_id

    retry = await post_message(client, alice, conversation["id"], "hi", clientMessageId=client_id)

    # Still pending: 202 with the same id; already committed: 200 with the stored message.
    assert retry.json()["id"] == first.json()["id"]
    expected = 202 if retry.json()["status"] == "PENDING" else 200
    assert retry.status_code == expected, retry.text


async def test_wait_retry_of_accepted_send_answers_the_committed_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    client_id = new_client_id()
    first = await post_message(client, alice, conversation["id"], "hi", clientMessageId=client_id)
    assert first.status_code == 202, first.text

    retry = await post_message(
        client, alice, conversation["id"], "hi", wait=True, clientMessageId=client_id
    )

    # 201 when the retry found it pending and waited for it, 200 when it was already stored.
    assert retry.status_code in (200, 201), retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["status"] == "SENT"
    assert retry.json()["seq"] == 1


async def test_concurrent_retries_store_one_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    client_id = new_client_id()

    responses = await asyncio.gather(
        *(
            post_message(
                client, alice, conversation["id"], "hi", wait=i % 3 == 0, clientMessageId=client_id
            )
            for i in range(20)
        )
    )

    assert {r.status_code for r in responses} <= {200, 201, 202}, [r.text for r in responses]
    stored = await read_all(client, bob, conversation["id"])
    assert len(stored) == 1, stored
    assert stored[0]["clientMessageId"] == client_id
    assert {r.json()["id"] for r in responses} == {stored[0]["id"]}


async def test_concurrent_retries_all_answer_the_same_id(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    # A reply does a few more reads between the idempotency lookup and the send, which is
    # where a retry can miss both the pending map and the stored row.
    root = await send(client, alice, conversation["id"], "root")
    reply = {"replyToId": root["id"], "threadId": root["id"]}

    for _ in range(RACE_ROUNDS):
        client_id = new_client_id()
        responses = await asyncio.gather(
            *(
                post_message(
                    client, alice, conversation["id"], "re", clientMessageId=client_id, **reply
                )
                for _ in range(20)
            )
        )
        assert {r.status_code for r in responses} <= {200, 202}, [r.text for r in responses]
        answered = {r.json()["id"] for r in responses}
        assert len(answered) == 1, sorted(f"{r.status_code} {r.json()['id']}" for r in responses)


async def test_concurrent_wait_retries_all_answer_the_committed_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    client_id = new_client_id()

    responses = await asyncio.gather(
        *(
            post_message(
                client, alice, conversation["id"], "hi", wait=True, clientMessageId=client_id
            )
            for _ in range(20)
        )
    )

    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses]
    assert {(r.json()["id"], r.json()["seq"], r.json()["status"]) for r in responses} == {
        (responses[0].json()["id"], 1, "SENT")
    }


async def test_client_message_id_reused_in_another_conversation_conflicts(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    first = await create_conversation(client, alice, [bob])
    second = await create_conversation(client, alice, [bob])
    client_id = new_client_id()
    await send(client, alice, first["id"], "here", clientMessageId=client_id)

    response = await post_message(client, alice, second["id"], "there", clientMessageId=client_id)

    assert_error(response, 409, "CONFLICT")


async def test_same_client_message_id_from_two_senders_is_two_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    client_id = new_client_id()

    from_alice = await send(client, alice, conversation["id"], "a", clientMessageId=client_id)
    from_bob = await send(client, bob, conversation["id"], "b", clientMessageId=client_id)

    assert from_alice["id"] != from_bob["id"]
    assert [m["senderId"] for m in await read_all(client, alice, conversation["id"])] == [
        alice.id,
        bob.id,
    ]
