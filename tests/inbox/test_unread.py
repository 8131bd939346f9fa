"""Unread counts derived from read pointers, and marking as read."""

from __future__ import annotations

import httpx

from tests.support import User, create_conversation, get_conversation, mark_read, send


async def test_unread_count_counts_others_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    for content in ["one", "two", "three"]:
        await send(client, alice, conversation["id"], content)

    assert (await get_conversation(client, bob, conversation["id"]))["unreadCount"] == 3


async def test_own_messages_are_never_unread(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, bob, conversation["id"], "one")
    await send(client, bob, conversation["id"], "two")
    await send(client, alice, conversation["id"], "mine")

    # Sending moves the sender's read pointer past everything before the sent message.
    assert (await get_conversation(client, alice, conversation["id"]))["unreadCount"] == 0
    assert (await get_conversation(client, bob, conversation["id"]))["unreadCount"] == 1


async def test_mark_read_resets_unread_count(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "one")
    last = await send(client, alice, conversation["id"], "two")

    response = await mark_read(client, bob, conversation["id"], last["id"])

    assert response.status_code == 200, response.text
    assert response.json()["unreadCount"] == 0
    assert (await get_conversation(client, bob, conversation["id"]))["unreadCount"] == 0


async def test_mark_read_partway_leaves_later_messages_unread(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    first = await send(client, alice, conversation["id"], "one")
    await send(client, alice, conversation["id"], "two")
    await send(client, alice, conversation["id"], "three")

    response = await mark_read(client, bob, conversation["id"], first["id"])

    assert response.json()["unreadCount"] == 2
    assert (await get_conversation(client, bob, conversation["id"]))["unreadCount"] == 2


async def test_conversation_list_shows_unread_count_and_last_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "one")
    last = await send(client, alice, conversation["id"], "two")

    response = await client.get("/conversations", params={"limit": 100}, headers=bob.headers)

    assert response.status_code == 200, response.text
    [listed] = [c for c in response.json()["items"] if c["id"] == conversation["id"]]
    assert listed["unreadCount"] == 2
    assert listed["lastMessage"]["id"] == last["id"]
    assert listed["lastMessage"]["content"] == "two"
