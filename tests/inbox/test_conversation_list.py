"""The inbox through HTTP: the caller's conversation list (unread count, last message, order,
pages, who is listed) and one conversation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import (
    User,
    assert_error,
    create_conversation,
    find,
    mark_read,
    my_conversations,
    patch_participant,
    register,
    remove,
    send,
)


async def test_list_shows_unread_count_and_last_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "first")
    last = await send(client, alice, conversation["id"], "second")
    item = find((await my_conversations(client, bob, limit=100))["items"], conversation["id"])
    assert item["unreadCount"] == 2
    assert item["myRole"] == "MEMBER"
    assert item["lastMessage"] == {
        "id": last["id"],
        "seq": 2,
        "senderId": alice.id,
        "type": "TEXT",
        "content": "second",
        "status": "SENT",
        "serverTimestamp": last["serverTimestamp"],
    }


async def test_list_never_counts_own_messages_as_unread(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, bob, conversation["id"], "from bob")
    await send(client, alice, conversation["id"], "from alice")
    item = find((await my_conversations(client, alice, limit=100))["items"], conversation["id"])
    assert item["unreadCount"] == 0
    assert item["myRole"] == "OWNER"


async def test_list_counts_messages_after_read_pointer(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    first = await send(client, alice, conversation["id"], "one")
    await send(client, alice, conversation["id"], "two")
    await send(client, alice, conversation["id"], "three")
    response = await mark_read(client, bob, conversation["id"], first["id"])
    assert response.status_code == 200, response.text
    item = find((await my_conversations(client, bob, limit=100))["items"], conversation["id"])
    assert item["unreadCount"] == 2


async def test_list_orders_by_most_recent_activity(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    oldest = await create_conversation(client, alice, [bob])
    middle = await create_conversation(client, alice, [bob])
    newest = await create_conversation(client, alice, [bob])
    await send(client, bob, middle["id"], "bump middle")
    await send(client, bob, oldest["id"], "bump oldest")
    ids = {oldest["id"], middle["id"], newest["id"]}
    listed = [c["id"] for c in (await my_conversations(client, alice, limit=100))["items"]]
    assert [cid for cid in listed if cid in ids] == [oldest["id"], middle["id"], newest["id"]]


async def test_list_pages_with_cursor(client: httpx.AsyncClient, alice: User) -> None:
    owner = await register(client, "paula")
    created = [(await create_conversation(client, owner, [alice]))["id"] for _ in range(5)]
    seen: list[str] = []
    pages: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await my_conversations(client, owner, **params)
        pages.append(len(page["items"]))
        seen.extend(item["id"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert len(pages) < 5, "pagination does not end"
    assert pages == [2, 2, 1]
    assert seen == list(reversed(created))


async def test_list_rejects_garbage_cursor(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get(
        "/conversations", params={"cursor": "not-a-cursor"}, headers=alice.headers
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_list_leaves_out_conversations_one_left(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await remove(client, bob, conversation["id"], bob)
    assert response.status_code == 200, response.text
    listed = [c["id"] for c in (await my_conversations(client, bob, limit=100))["items"]]
    assert conversation["id"] not in listed


async def test_list_keeps_conversations_where_one_is_muted(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(client, alice, conversation["id"], bob, {"status": "MUTED"})
    assert response.status_code == 200, response.text
    listed = [c["id"] for c in (await my_conversations(client, bob, limit=100))["items"]]
    assert conversation["id"] in listed


async def test_get_returns_conversation_for_member(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], description="about things")
    message = await send(client, alice, conversation["id"], "hello")
    response = await client.get(f"/conversations/{conversation['id']}", headers=bob.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == conversation["id"]
    assert body["description"] == "about things"
    assert body["myRole"] == "MEMBER"
    assert body["messageCount"] == 1
    assert body["lastMessageId"] == message["id"]
    assert body["unreadCount"] == 1
    assert body["rateLimit"] == 60
    assert body["settings"] == {
        "typingIndicators": True,
        "readReceipts": True,
        "linkPreviews": True,
        "moderation": True,
        "endToEndEncryption": False,
        "retentionDays": None,
    }


async def test_get_unknown_conversation_is_not_found(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get(f"/conversations/{uuid.uuid4()}", headers=alice.headers)
    assert_error(response, 404, "CONVERSATION_NOT_FOUND")


async def test_get_requires_authentication(client: httpx.AsyncClient, alice: User) -> None:
    conversation = await create_conversation(client, alice, [])
    response = await client.get(f"/conversations/{conversation['id']}")
    assert response.status_code == 401, response.text
