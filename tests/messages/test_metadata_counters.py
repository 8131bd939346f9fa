"""Mentions, hashtags and URLs found in messages; the conversation counters sends move."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.support import (
    User,
    create_conversation,
    envelope,
    get_conversation,
    post_message,
    send,
)

# ---------------------------------------------------------------- metadata


async def test_plain_message_has_empty_metadata(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    message = await send(client, alice, conversation["id"], "nothing special here")

    assert message["metadata"] == {"mentions": [], "hashtags": [], "urls": [], "urlPreviews": []}


async def test_mentions_are_lowercased_usernames(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])

    response = await post_message(
        client,
        alice,
        conversation["id"],
        f"@{bob.username.upper()} and @{carol.username}, and @{bob.username} again",
    )

    assert response.status_code == 202, response.text
    assert response.json()["metadata"]["mentions"] == [bob.username.lower(), carol.username]


async def test_committed_message_resolves_mentioned_user_ids(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])

    message = await send(
        client, alice, conversation["id"], f"@{carol.username} @nobody_zz9_none @{bob.username}"
    )

    assert message["metadata"]["mentions"] == [carol.username, "nobody_zz9_none", bob.username]
    assert message["metadata"]["mentionedUserIds"] == [carol.id, bob.id]


async def test_stored_message_keeps_mentioned_user_ids(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], f"hi @{bob.username}")

    response = await client.get(f"/messages/{sent['id']}", headers=bob.headers)

    assert response.json()["metadata"]["mentionedUserIds"] == [bob.id]


async def test_hashtags_are_lowercased_without_repeats(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    message = await send(client, alice, conversation["id"], "#Launch day: #launch #Q3 #1")

    assert message["metadata"]["hashtags"] == ["launch", "q3"]


async def test_urls_are_extracted(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])

    message = await send(
        client,
        alice,
        conversation["id"],
        "see https://example.com/a?b=1, and (http://example.org/x).",
    )

    assert message["metadata"]["urls"] == ["https://example.com/a?b=1", "http://example.org/x"]
    assert message["metadata"]["urlPreviews"] == []


async def test_encrypted_message_gets_no_extraction(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(
        client, alice, [bob], settings={"endToEndEncryption": True}
    )
    # A key id may look like a URL; an envelope is opaque all the same.
    content = envelope("https://keys.example.com/k1")
    assert "https://keys.example.com/k1" in content

    message = await send(client, alice, conversation["id"], content, encrypted=True)

    assert message["encrypted"] is True
    assert message["metadata"] == {"mentions": [], "hashtags": [], "urls": [], "urlPreviews": []}


# ---------------------------------------------------------------- counters


async def test_new_conversation_has_no_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    shown = await get_conversation(client, bob, conversation["id"])

    assert (shown["messageCount"], shown["lastSeq"], shown["lastMessageId"]) == (0, 0, None)
    assert shown["unreadCount"] == 0


async def test_conversation_counters_follow_sends(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    before = await get_conversation(client, alice, conversation["id"])
    await send(client, alice, conversation["id"], "one")
    await send(client, bob, conversation["id"], "two")
    last = await send(client, alice, conversation["id"], "three")

    shown = await get_conversation(client, bob, conversation["id"])

    assert (shown["messageCount"], shown["lastSeq"], shown["lastMessageId"]) == (3, 3, last["id"])
    assert datetime.fromisoformat(shown["lastActivityAt"]) > datetime.fromisoformat(
        before["lastActivityAt"]
    )
    assert shown["lastMessage"]["id"] == last["id"]
