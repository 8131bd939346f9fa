"""Reactions, replies, threads and forwards."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx

from tests.support import (
    User,
    assert_error,
    create_conversation,
    get_message,
    post_message,
    read_all,
    send,
)

THUMBS_UP = "\N{THUMBS UP SIGN}"
HEART = "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"


async def _react(
    client: httpx.AsyncClient, user: User, message_id: str, emoji: str
) -> httpx.Response:
    return await client.post(
        f"/messages/{message_id}/reactions", json={"emoji": emoji}, headers=user.headers
    )


async def _unreact(
    client: httpx.AsyncClient, user: User, message_id: str, emoji: str
) -> httpx.Response:
    return await client.delete(
        f"/messages/{message_id}/reactions/{quote(emoji, safe='')}", headers=user.headers
    )


async def _forward(
    client: httpx.AsyncClient,
    user: User,
    message_id: str,
    conversation_ids: list[str],
    *,
    wait: bool = False,
) -> httpx.Response:
    return await client.post(
        f"/messages/{message_id}/forward",
        params={"wait": "true"} if wait else None,
        json={"conversationIds": conversation_ids},
        headers=user.headers,
    )


# ---------------------------------------------------------------- reactions


async def test_add_reaction(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "react to me")

    response = await _react(client, bob, sent["id"], THUMBS_UP)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "messageId": sent["id"],
        "emoji": THUMBS_UP,
        "userId": bob.id,
        "count": 1,
        "reactions": {THUMBS_UP: {"count": 1, "userIds": [bob.id]}},
    }


async def test_reacting_twice_counts_once(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "react to me")
    await _react(client, bob, sent["id"], THUMBS_UP)

    response = await _react(client, bob, sent["id"], THUMBS_UP)

    assert response.status_code == 200, response.text
    assert response.json()["count"] == 1
    assert response.json()["reactions"] == {THUMBS_UP: {"count": 1, "userIds": [bob.id]}}


async def test_reactions_of_several_users_and_emoji_are_counted(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    sent = await send(client, alice, conversation["id"], "react to me")
    await _react(client, bob, sent["id"], THUMBS_UP)
    await _react(client, carol, sent["id"], HEART)

    response = await _react(client, carol, sent["id"], THUMBS_UP)

    assert response.json()["count"] == 2
    reactions = response.json()["reactions"]
    assert reactions[HEART] == {"count": 1, "userIds": [carol.id]}
    assert reactions[THUMBS_UP]["count"] == 2
    assert sorted(reactions[THUMBS_UP]["userIds"]) == sorted([bob.id, carol.id])


async def test_remove_reaction(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "react to me")
    await _react(client, bob, sent["id"], THUMBS_UP)
    await _react(client, alice, sent["id"], HEART)

    response = await _unreact(client, bob, sent["id"], THUMBS_UP)

    assert response.status_code == 200, response.text
    assert response.json()["count"] == 0
    assert response.json()["reactions"] == {HEART: {"count": 1, "userIds": [alice.id]}}


async def test_removing_anothers_reaction_changes_nothing(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "react to me")
    await _react(client, bob, sent["id"], THUMBS_UP)

    response = await _unreact(client, alice, sent["id"], THUMBS_UP)

    assert response.status_code == 200, response.text
    assert response.json()["reactions"] == {THUMBS_UP: {"count": 1, "userIds": [bob.id]}}


async def test_reactions_show_on_messages_in_pages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    first = await send(client, alice, conversation["id"], "one")
    await send(client, alice, conversation["id"], "two")
    await _react(client, bob, first["id"], THUMBS_UP)

    stored = await read_all(client, alice, conversation["id"])

    assert [m["reactions"] for m in stored] == [
        {THUMBS_UP: {"count": 1, "userIds": [bob.id]}},
        {},
    ]


async def test_emoji_with_spaces_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "react to me")

    response = await _react(client, bob, sent["id"], "thumbs up")

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_empty_emoji_is_rejected(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "react to me")

    response = await _react(client, bob, sent["id"], "")

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_reaction_to_deleted_message_conflicts(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "gone")
    assert (await client.delete(f"/messages/{sent['id']}", headers=alice.headers)).is_success

    response = await _react(client, bob, sent["id"], THUMBS_UP)

    assert_error(response, 409, "MESSAGE_DELETED")


async def test_deleted_message_shows_no_reactions(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "gone")
    await _react(client, bob, sent["id"], THUMBS_UP)
    assert (await client.delete(f"/messages/{sent['id']}", headers=alice.headers)).is_success

    assert (await get_message(client, bob, sent["id"]))["reactions"] == {}


# ---------------------------------------------------------------- replies and threads


async def test_reply_defaults_to_reply_type(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    original = await send(client, alice, conversation["id"], "question?")

    reply = await send(client, bob, conversation["id"], "answer", replyToId=original["id"])

    assert reply["type"] == "REPLY"
    assert reply["replyToId"] == original["id"]


async def test_reply_to_message_of_another_conversation_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    here = await create_conversation(client, alice, [bob])
    elsewhere = await create_conversation(client, alice, [bob])
    original = await send(client, alice, elsewhere["id"], "over there")

    response = await post_message(client, bob, here["id"], "answer", replyToId=original["id"])

    assert_error(response, 404, "MESSAGE_NOT_FOUND")


async def test_reply_to_unknown_message_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(
        client, bob, conversation["id"], "answer", replyToId=str(uuid.uuid4())
    )

    assert_error(response, 404, "MESSAGE_NOT_FOUND")


async def test_thread_lists_root_and_replies_in_order(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    root = await send(client, alice, conversation["id"], "topic")
    await send(client, alice, conversation["id"], "unrelated")
    replies = [
        await send(client, user, conversation["id"], f"r{i}", threadId=root["id"])
        for i, user in enumerate([bob, alice, bob])
    ]

    response = await client.get(f"/messages/{root['id']}/thread", headers=bob.headers)

    assert response.status_code == 200, response.text
    thread = response.json()
    assert thread["root"]["id"] == root["id"]
    assert [m["id"] for m in thread["items"]] == [r["id"] for r in replies]
    assert [m["seq"] for m in thread["items"]] == [3, 4, 5]
    assert {m["threadId"] for m in thread["items"]} == {root["id"]}
    assert (thread["hasMore"], thread["nextCursor"]) == (False, None)


async def test_thread_id_naming_a_reply_joins_its_root(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    root = await send(client, alice, conversation["id"], "topic")
    inner = await send(client, bob, conversation["id"], "inner", threadId=root["id"])

    nested = await send(client, alice, conversation["id"], "nested", threadId=inner["id"])

    assert nested["threadId"] == root["id"]
    thread = (await client.get(f"/messages/{root['id']}/thread", headers=bob.headers)).json()
    assert [m["id"] for m in thread["items"]] == [inner["id"], nested["id"]]


async def test_thread_asked_by_a_reply_is_its_roots_thread(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    root = await send(client, alice, conversation["id"], "topic")
    inner = await send(client, bob, conversation["id"], "inner", threadId=root["id"])

    response = await client.get(f"/messages/{inner['id']}/thread", headers=alice.headers)

    assert response.status_code == 200, response.text
    assert response.json()["root"]["id"] == root["id"]
    assert [m["id"] for m in response.json()["items"]] == [inner["id"]]


async def test_thread_pages_with_cursor(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    root = await send(client, alice, conversation["id"], "topic")
    replies = [
        await send(client, bob, conversation["id"], f"r{i}", threadId=root["id"]) for i in range(3)
    ]

    first = await client.get(
        f"/messages/{root['id']}/thread", params={"limit": 2}, headers=alice.headers
    )
    second = await client.get(
        f"/messages/{root['id']}/thread",
        params={"limit": 2, "after": first.json()["nextCursor"]},
        headers=alice.headers,
    )

    assert [m["id"] for m in first.json()["items"]] == [r["id"] for r in replies[:2]]
    assert first.json()["hasMore"] is True
    assert [m["id"] for m in second.json()["items"]] == [replies[2]["id"]]
    assert (second.json()["hasMore"], second.json()["nextCursor"]) == (False, None)


async def test_thread_id_of_another_conversation_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    here = await create_conversation(client, alice, [bob])
    elsewhere = await create_conversation(client, alice, [bob])
    root = await send(client, alice, elsewhere["id"], "topic")

    response = await post_message(client, bob, here["id"], "lost", threadId=root["id"])

    assert_error(response, 404, "MESSAGE_NOT_FOUND")


# ---------------------------------------------------------------- forward


async def test_forward_is_accepted_pending(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    target = await create_conversation(client, bob, [carol])
    original = await send(client, alice, source["id"], "pass it on")

    response = await _forward(client, bob, original["id"], [target["id"]])

    assert response.status_code == 202, response.text
    [item] = response.json()["items"]
    assert item["status"] == "PENDING"
    assert item["type"] == "FORWARD"
    assert item["conversationId"] == target["id"]
    assert item["senderId"] == bob.id
    assert item["forwardedFromId"] == original["id"]
    assert item["content"] == "pass it on"


async def test_forward_with_wait_commits(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    target = await create_conversation(client, bob, [carol])
    original = await send(client, alice, source["id"], "pass it on")

    response = await _forward(client, bob, original["id"], [target["id"]], wait=True)

    assert response.status_code == 201, response.text
    [item] = response.json()["items"]
    assert (item["status"], item["type"], item["seq"]) == ("SENT", "FORWARD", 1)
    assert item["forwardedFromId"] == original["id"]
    assert item["metadata"]["forwardedFrom"] == {
        "messageId": original["id"],
        "conversationId": source["id"],
        "senderId": alice.id,
    }
    assert [m["id"] for m in await read_all(client, carol, target["id"])] == [item["id"]]


async def test_forward_to_several_conversations(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    targets = [
        await create_conversation(client, bob, [carol]),
        await create_conversation(client, bob, [dave]),
    ]
    original = await send(client, alice, source["id"], "pass it on")

    response = await _forward(client, bob, original["id"], [t["id"] for t in targets], wait=True)

    assert response.status_code == 201, response.text
    assert [i["conversationId"] for i in response.json()["items"]] == [t["id"] for t in targets]
    assert {i["forwardedFromId"] for i in response.json()["items"]} == {original["id"]}


async def test_forward_to_conversation_of_others_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    mine = await create_conversation(client, bob, [carol])
    theirs = await create_conversation(client, carol, [dave])
    original = await send(client, alice, source["id"], "pass it on")

    response = await _forward(client, bob, original["id"], [mine["id"], theirs["id"]], wait=True)

    assert_error(response, 404, "CONVERSATION_NOT_FOUND")
    assert await read_all(client, carol, mine["id"]) == []


async def test_forward_of_unreadable_message_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    target = await create_conversation(client, carol, [dave])
    original = await send(client, alice, source["id"], "private")

    response = await _forward(client, carol, original["id"], [target["id"]])

    assert_error(response, 404, "MESSAGE_NOT_FOUND")


async def test_forward_of_deleted_message_conflicts(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    target = await create_conversation(client, bob, [carol])
    original = await send(client, alice, source["id"], "gone")
    assert (await client.delete(f"/messages/{original['id']}", headers=alice.headers)).is_success

    response = await _forward(client, bob, original["id"], [target["id"]])

    assert_error(response, 409, "MESSAGE_DELETED")
