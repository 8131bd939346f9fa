"""Reading messages: pages newest first, afterSeq catch-up, single messages."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.support import User, assert_error, create_conversation, message_page, post_message, send


async def _conversation_with(
    client: httpx.AsyncClient, owner: User, member: User, count: int
) -> tuple[str, list[dict[str, Any]]]:
    conversation = await create_conversation(client, owner, [member])
    sent = [await send(client, owner, conversation["id"], f"m{i}") for i in range(1, count + 1)]
    return conversation["id"], sent


async def test_page_lists_newest_first(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation_id, _ = await _conversation_with(client, alice, bob, 5)

    page = await message_page(client, bob, conversation_id)

    assert [m["seq"] for m in page["items"]] == [5, 4, 3, 2, 1]
    assert [m["content"] for m in page["items"]] == ["m5", "m4", "m3", "m2", "m1"]
    assert page["hasMore"] is False
    assert page["nextCursor"] is None


async def test_pages_go_back_with_before_cursor(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation_id, _ = await _conversation_with(client, alice, bob, 5)

    first = await message_page(client, bob, conversation_id, limit=2)
    second = await message_page(client, bob, conversation_id, limit=2, before=first["nextCursor"])
    third = await message_page(client, bob, conversation_id, limit=2, before=second["nextCursor"])

    assert [m["seq"] for m in first["items"]] == [5, 4]
    assert first["hasMore"] is True
    assert [m["seq"] for m in second["items"]] == [3, 2]
    assert second["hasMore"] is True
    assert [m["seq"] for m in third["items"]] == [1]
    assert third["hasMore"] is False
    assert third["nextCursor"] is None


async def test_after_seq_returns_exactly_the_later_messages_ascending(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation_id, sent = await _conversation_with(client, alice, bob, 5)

    page = await message_page(client, bob, conversation_id, afterSeq=2)

    assert [m["id"] for m in page["items"]] == [m["id"] for m in sent[2:]]
    assert [m["seq"] for m in page["items"]] == [3, 4, 5]
    assert page["hasMore"] is False


async def test_after_cursor_continues_catch_up(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation_id, _ = await _conversation_with(client, alice, bob, 5)

    first = await message_page(client, bob, conversation_id, afterSeq=0, limit=2)
    second = await message_page(client, bob, conversation_id, after=first["nextCursor"], limit=2)
    third = await message_page(client, bob, conversation_id, after=second["nextCursor"], limit=2)

    assert [m["seq"] for m in first["items"]] == [1, 2]
    assert [m["seq"] for m in second["items"]] == [3, 4]
    assert [m["seq"] for m in third["items"]] == [5]
    assert (first["hasMore"], second["hasMore"], third["hasMore"]) == (True, True, False)


async def test_after_last_seq_is_empty(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation_id, _ = await _conversation_with(client, alice, bob, 3)

    page = await message_page(client, bob, conversation_id, afterSeq=3)

    assert page == {"items": [], "nextCursor": None, "hasMore": False}


async def test_empty_conversation_has_an_empty_page(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    page = await message_page(client, bob, conversation["id"])

    assert page == {"items": [], "nextCursor": None, "hasMore": False}


async def test_invalid_cursor_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await client.get(
        f"/messages/conversation/{conversation['id']}",
        params={"before": "not-a-cursor"},
        headers=bob.headers,
    )

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_limit_out_of_range_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await client.get(
        f"/messages/conversation/{conversation['id']}", params={"limit": 0}, headers=bob.headers
    )

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_member_reads_a_message(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "for bob")

    response = await client.get(f"/messages/{sent['id']}", headers=bob.headers)

    assert response.status_code == 200, response.text
    assert {**response.json(), "deliveryTracker": None} == sent
    assert response.json()["deliveryTracker"]["recipients"] == {bob.id: {"status": "SENT"}}


async def test_unknown_message_is_not_found(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get(f"/messages/{uuid.uuid4()}", headers=alice.headers)

    assert_error(response, 404, "MESSAGE_NOT_FOUND")


async def test_sender_reads_own_message_right_after_accept(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    accepted = await send(client, alice, conversation["id"], "mine", wait=False)

    response = await client.get(f"/messages/{accepted['id']}", headers=alice.headers)

    # Pending or already committed: either way the sender sees it at once.
    assert response.status_code == 200, response.text
    assert response.json()["id"] == accepted["id"]
    assert response.json()["content"] == "mine"
    assert response.json()["status"] in ("PENDING", "SENT")


async def test_other_member_never_reads_a_pending_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    accepted = await asyncio.gather(
        *(post_message(client, alice, conversation["id"], f"m{i}") for i in range(20))
    )
    assert {r.status_code for r in accepted} == {202}

    reads = await asyncio.gather(
        *(client.get(f"/messages/{r.json()['id']}", headers=bob.headers) for r in accepted)
    )

    for read in reads:
        if read.status_code == 200:
            assert read.json()["status"] == "SENT", read.text
        else:
            assert_error(read, 404, "MESSAGE_NOT_FOUND")
