"""POST /messages: the optimistic send, the committed send, seq and content rules."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.support import (
    User,
    assert_error,
    create_conversation,
    get_conversation,
    post_message,
    read_all,
    send,
    set_role,
)

MAX_MESSAGE_LENGTH = 10_000


async def test_send_is_accepted_pending_before_commit(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], "first words")

    assert response.status_code == 202, response.text
    message = response.json()
    assert message["status"] == "PENDING"
    assert message["seq"] is None
    assert uuid.UUID(message["id"])
    assert message["conversationId"] == conversation["id"]
    assert message["senderId"] == alice.id
    assert message["content"] == "first words"
    assert message["type"] == "TEXT"
    assert message["serverTimestamp"].endswith("Z")


async def test_send_with_wait_answers_committed_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], "durable", wait=True)

    assert response.status_code == 201, response.text
    message = response.json()
    assert message["status"] == "SENT"
    assert message["seq"] == 1
    assert message["content"] == "durable"
    assert message["senderId"] == alice.id


async def test_accepted_message_is_stored_under_its_accepted_id(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    accepted = await send(client, alice, conversation["id"], "optimistic", wait=False)
    # Commits are FIFO per process: once this returns, the accepted send is committed too.
    flushed = await send(client, alice, conversation["id"], "flush")

    stored = await read_all(client, bob, conversation["id"])

    assert [m["id"] for m in stored] == [accepted["id"], flushed["id"]]
    assert stored[0]["status"] == "SENT"
    assert stored[0]["seq"] == 1
    assert stored[0]["content"] == "optimistic"


async def test_seq_increases_by_one_per_committed_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    seqs = [(await send(client, user, conversation["id"], "x"))["seq"] for user in [alice, bob] * 3]

    assert seqs == [1, 2, 3, 4, 5, 6]


async def test_seq_is_per_conversation(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    first = await create_conversation(client, alice, [bob])
    second = await create_conversation(client, alice, [bob])
    await send(client, alice, first["id"], "one")
    await send(client, alice, first["id"], "two")

    message = await send(client, alice, second["id"], "elsewhere")

    assert message["seq"] == 1


async def test_concurrent_senders_get_gapless_seqs_in_each_senders_order(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    senders = [alice, bob, carol, dave]
    per_sender = 15
    conversation = await create_conversation(client, alice, senders[1:], rateLimit=10_000)
    accepted_ids: dict[str, list[str]] = {}

    async def send_in_order(user: User) -> None:
        ids = accepted_ids.setdefault(user.id, [])
        for index in range(per_sender):
            response = await post_message(client, user, conversation["id"], f"{index}")
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        # FIFO commits: after this returns, every earlier send of this user is committed.
        ids.append((await send(client, user, conversation["id"], "last"))["id"])

    await asyncio.gather(*(send_in_order(user) for user in senders))
    stored = await read_all(client, alice, conversation["id"], limit=25)

    total = len(senders) * (per_sender + 1)
    assert [m["seq"] for m in stored] == list(range(1, total + 1))
    for user in senders:
        mine = [m for m in stored if m["senderId"] == user.id]
        assert [m["id"] for m in mine] == accepted_ids[user.id]
        assert [m["content"] for m in mine] == [*map(str, range(per_sender)), "last"]


@pytest.mark.parametrize("content", ["", "   ", " \n\t "], ids=["empty", "spaces", "blank"])
async def test_blank_content_without_attachments_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User, content: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], content)

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_missing_content_without_attachments_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], None)

    assert_error(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("wait", [False, True])
@pytest.mark.parametrize("escaped", ["\\ud800", "\\u0000"])
async def test_unstorable_characters_are_rejected_before_acceptance(
    client: httpx.AsyncClient, alice: User, bob: User, escaped: str, wait: bool
) -> None:
    # A lone surrogate or NUL cannot be stored (nor encoded as UTF-8): bad input, not a 5xx
    # and not a send that is accepted and then fails.
    conversation = await create_conversation(client, alice, [bob])
    body = '{"conversationId": "' + conversation["id"] + '", "content": "bad ' + escaped + ' x"}'
    response = await client.post(
        "/messages",
        params={"wait": "true"} if wait else None,
        content=body.encode(),
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_content_over_the_length_limit_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], "a" * (MAX_MESSAGE_LENGTH + 1))

    assert_error(response, 413, "MESSAGE_TOO_LONG")


async def test_content_at_the_length_limit_is_accepted(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(
        client, alice, conversation["id"], "a" * MAX_MESSAGE_LENGTH, wait=True
    )

    assert response.status_code == 201, response.text
    assert len(response.json()["content"]) == MAX_MESSAGE_LENGTH


@pytest.mark.parametrize("message_type", ["SYSTEM", "FORWARD"])
async def test_server_only_types_are_rejected(
    client: httpx.AsyncClient, alice: User, bob: User, message_type: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], "hi", type=message_type)

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_unknown_type_is_rejected(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], "hi", type="SHOUT")

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_member_cannot_post_announcement(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, bob, conversation["id"], "hear ye", type="ANNOUNCEMENT")

    assert_error(response, 403, "PERMISSION_DENIED")


async def test_moderator_can_post_announcement(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")

    response = await post_message(
        client, bob, conversation["id"], "hear ye", type="ANNOUNCEMENT", wait=True
    )

    assert response.status_code == 201, response.text
    assert response.json()["type"] == "ANNOUNCEMENT"


async def test_scheduled_send_too_far_ahead_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    # The rest of scheduling is tests/scheduled.
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(
        client, alice, conversation["id"], "later", scheduledAt="2099-01-01T00:00:00Z"
    )

    assert_error(response, 422, "SCHEDULED_AT_INVALID")


async def test_unknown_attachment_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(
        client, alice, conversation["id"], "see attached", attachments=[str(uuid.uuid4())]
    )

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_unknown_field_is_rejected(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], "hi", colour="red")

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_rejected_sends_store_nothing(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    rejected = [
        (await post_message(client, alice, conversation["id"], "   "), 422),
        (
            await post_message(client, alice, conversation["id"], "a" * (MAX_MESSAGE_LENGTH + 1)),
            413,
        ),
        (await post_message(client, alice, conversation["id"], "x", type="SYSTEM"), 422),
        (await post_message(client, bob, conversation["id"], "x", type="ANNOUNCEMENT"), 403),
    ]
    assert [response.status_code for response, _ in rejected] == [s for _, s in rejected]
    # A committed send after the rejected ones: it takes seq 1 and is the only message.
    flushed = await send(client, alice, conversation["id"], "ok")

    assert flushed["seq"] == 1
    assert (await get_conversation(client, alice, conversation["id"]))["messageCount"] == 1


async def test_client_timestamp_is_kept(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])

    message = await send(
        client, alice, conversation["id"], "stamped", clientTimestamp="2024-05-06T07:08:09.123Z"
    )

    assert message["clientTimestamp"] == "2024-05-06T07:08:09.123Z"


async def test_send_to_unknown_conversation_is_not_found(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await post_message(client, alice, str(uuid.uuid4()), "anyone?")

    assert_error(response, 404, "CONVERSATION_NOT_FOUND")


async def test_send_without_token_is_unauthorized(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await client.post(
        "/messages", json={"conversationId": conversation["id"], "content": "hi"}
    )

    assert_error(response, 401, "UNAUTHORIZED")
