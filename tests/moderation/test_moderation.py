"""Moderation through the public interface: screening on send and edit, holding, the review
queue, decisions, and who may see and decide what.

Texts are chosen by their score (see parley/screening/scoring.py): one profane word scores
0.55 (flagged: queued, delivered as usual), three profane words 0.85 (held). Thresholds are the
defaults, 0.5 and 0.8.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.realtime.sockets import Connect
from tests.support import (
    User,
    assert_error,
    create_conversation,
    envelope,
    find,
    get_message,
    my_conversations,
    post_message,
    read_all,
    send,
    set_role,
)

FLAGGED = "you are a fucking idiot"
HELD = "fuck this shit, fuck"
CLEAN = "lovely weather today"
WATCH = frozenset({"user_status_changed", "message_confirmed"})


async def _queue(client: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/moderation/queue", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _decide(
    client: httpx.AsyncClient, user: User, item_id: str, action: str
) -> httpx.Response:
    return await client.post(
        f"/moderation/queue/{item_id}/decision", json={"action": action}, headers=user.headers
    )


async def test_clean_message_is_not_queued(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, bob, conversation["id"], CLEAN)

    assert message["status"] == "SENT"
    assert await _queue(client, alice, conversationId=conversation["id"]) == []


async def test_flagged_message_is_delivered_queued_and_announced_to_reviewers_only(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    owner_socket = await connect(alice, WATCH)
    member_socket = await connect(carol, WATCH)

    message = await send(client, bob, conversation["id"], FLAGGED)

    assert (message["status"], message["content"]) == ("SENT", FLAGGED)
    assert (await member_socket.next_of("new_message"))["message"]["content"] == FLAGGED
    assert (await owner_socket.next_of("new_message"))["message"]["id"] == message["id"]
    flagged = await owner_socket.next_of("moderation.flagged")
    assert flagged["message"]["id"] == message["id"]
    assert flagged["message"]["content"] == FLAGGED
    assert flagged["score"] == 0.55
    assert flagged["reasons"] == ["PROFANITY"]
    assert flagged["terms"] == ["fucking"]
    assert flagged["held"] is False
    [item] = await _queue(client, alice, conversationId=conversation["id"])
    assert item["id"] == flagged["queueItemId"]
    assert {k: item[k] for k in ("messageId", "senderId", "content", "status", "held")} == {
        "messageId": message["id"],
        "senderId": bob.id,
        "content": FLAGGED,
        "status": "PENDING",
        "held": False,
    }
    # Carol is a plain member: her next event is the next message, no alert came before it.
    await send(client, alice, conversation["id"], CLEAN)
    assert (await member_socket.next_of("new_message"))["message"]["content"] == CLEAN


async def test_held_message_is_hidden_from_members_until_approved(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    member_socket = await connect(carol, WATCH)
    owner_socket = await connect(alice, WATCH)

    accepted = await post_message(client, bob, conversation["id"], HELD)
    assert accepted.status_code == 202, accepted.text
    placeholder = (await member_socket.next_of("new_message"))["message"]
    message_id = accepted.json()["id"]
    assert (placeholder["id"], placeholder["status"]) == (message_id, "MODERATED")
    assert placeholder["content"] is None
    assert (await owner_socket.next_of("new_message"))["message"]["content"] is None
    alert = await owner_socket.next_of("moderation.flagged")
    assert (alert["held"], alert["score"], alert["message"]["content"]) == (True, 0.85, HELD)

    # The sender and the reviewers read it; other members see that it is there, not what.
    assert (await get_message(client, bob, message_id))["content"] == HELD
    assert (await get_message(client, alice, message_id))["content"] == HELD
    seen_by_carol = await get_message(client, carol, message_id)
    assert (seen_by_carol["status"], seen_by_carol["content"]) == ("MODERATED", None)
    [listed] = await read_all(client, carol, conversation["id"])
    assert (listed["seq"], listed["content"]) == (1, None)
    history = await client.get(f"/messages/{message_id}/history", headers=carol.headers)
    assert history.json()["items"] == []
    forward = await client.post(
        f"/messages/{message_id}/forward",
        json={"conversationIds": [conversation["id"]]},
        headers=carol.headers,
    )
    assert assert_error(forward, 403, "PERMISSION_DENIED")["details"]["reason"] == (
        "HELD_FOR_REVIEW"
    )

    decided = await _decide(client, alice, alert["queueItemId"], "APPROVE")

    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["decidedBy"]) == ("APPROVED", alice.id)
    released = (await member_socket.next_of("message_updated"))["message"]
    assert (released["id"], released["status"], released["content"]) == (message_id, "SENT", HELD)
    assert (await get_message(client, carol, message_id))["content"] == HELD
    assert await _queue(client, alice, conversationId=conversation["id"]) == []
    [done] = await _queue(client, alice, conversationId=conversation["id"], status="APPROVED")
    assert done["id"] == alert["queueItemId"]
    again = await _decide(client, alice, alert["queueItemId"], "REJECT")
    assert assert_error(again, 409, "ALREADY_DECIDED")["details"]["status"] == "APPROVED"
    audit = await client.get(
        "/audit", params={"conversationId": conversation["id"]}, headers=alice.headers
    )
    assert "moderation.approved" in [entry["action"] for entry in audit.json()["items"]]


async def test_rejecting_removes_the_message(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, bob, conversation["id"], FLAGGED)
    member_socket = await connect(carol, WATCH)
    [item] = await _queue(client, alice, conversationId=conversation["id"])

    decided = await _decide(client, alice, item["id"], "REJECT")

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "REJECTED"
    removed = (await member_socket.next_of("message_deleted"))["message"]
    assert (removed["id"], removed["status"], removed["content"]) == (
        message["id"],
        "DELETED",
        None,
    )
    assert (await get_message(client, bob, message["id"]))["status"] == "DELETED"


async def test_only_reviewers_above_the_sender_see_and_decide(
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    mallory: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol, dave])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    await set_role(client, alice, conversation["id"], carol, "ADMIN")
    await send(client, carol, conversation["id"], FLAGGED)  # an admin's message
    await send(client, dave, conversation["id"], FLAGGED)  # a member's message
    by_sender = {
        item["senderId"]: item["id"]
        for item in await _queue(client, bob, conversationId=conversation["id"])
    }
    assert set(by_sender) == {carol.id, dave.id}

    plain = await client.get(
        "/moderation/queue", params={"conversationId": conversation["id"]}, headers=dave.headers
    )
    assert_error(plain, 403, "PERMISSION_DENIED")
    stranger = await client.get(
        "/moderation/queue",
        params={"conversationId": conversation["id"]},
        headers=mallory.headers,
    )
    assert_error(stranger, 404, "CONVERSATION_NOT_FOUND")
    assert all(
        item["conversationId"] != conversation["id"] for item in await _queue(client, mallory)
    )
    assert_error(
        await _decide(client, mallory, by_sender[dave.id], "APPROVE"),
        404,
        "MODERATION_ITEM_NOT_FOUND",
    )
    assert_error(
        await _decide(client, dave, by_sender[dave.id], "APPROVE"), 403, "PERMISSION_DENIED"
    )
    assert_error(
        await _decide(client, bob, by_sender[carol.id], "APPROVE"), 403, "PERMISSION_DENIED"
    )

    assert (await _decide(client, bob, by_sender[dave.id], "APPROVE")).status_code == 200
    assert (await _decide(client, alice, by_sender[carol.id], "APPROVE")).status_code == 200


async def test_bad_decisions_are_refused_with_clear_errors(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, bob, conversation["id"], FLAGGED)
    [item] = await _queue(client, alice, conversationId=conversation["id"])

    assert_error(await _decide(client, alice, item["id"], "MAYBE"), 422, "VALIDATION_ERROR")
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_error(await _decide(client, alice, unknown, "APPROVE"), 404, "MODERATION_ITEM_NOT_FOUND")
    assert_error(await _decide(client, alice, "not-an-id", "APPROVE"), 422, "VALIDATION_ERROR")
    bad_status = await client.get(
        "/moderation/queue", params={"status": "WHATEVER"}, headers=alice.headers
    )
    assert_error(bad_status, 422, "VALIDATION_ERROR")
    bad_cursor = await client.get(
        "/moderation/queue", params={"before": "%%%"}, headers=alice.headers
    )
    assert_error(bad_cursor, 422, "VALIDATION_ERROR")
    assert_error(await client.get("/moderation/queue"), 401, "UNAUTHORIZED")


async def test_queue_pages_newest_first(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = [await send(client, bob, conversation["id"], f"{FLAGGED} {n}") for n in range(3)]

    first = await client.get(
        "/moderation/queue",
        params={"conversationId": conversation["id"], "limit": 2},
        headers=alice.headers,
    )
    second = await client.get(
        "/moderation/queue",
        params={
            "conversationId": conversation["id"],
            "limit": 2,
            "before": first.json()["nextCursor"],
        },
        headers=alice.headers,
    )

    listed = first.json()["items"] + second.json()["items"]
    assert [item["messageId"] for item in listed] == [m["id"] for m in reversed(sent)]
    assert second.json()["nextCursor"] is None


async def test_reviewers_messages_are_queued_but_never_held(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")

    message = await send(client, bob, conversation["id"], HELD)

    assert message["status"] == "SENT"
    [item] = await _queue(client, alice, conversationId=conversation["id"])
    assert (item["held"], item["score"]) == (False, 0.85)


async def test_screening_can_be_switched_off_and_skips_encrypted_content(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    quiet = await create_conversation(client, alice, [bob], settings={"moderation": False})
    assert quiet["settings"]["moderation"] is False
    await send(client, bob, quiet["id"], HELD)
    # Only a conversation with end-to-end encryption on takes encrypted content (an envelope,
    # tests/security/test_encrypted_content.py); there it is not scored, moderation on or not.
    screened = await create_conversation(
        client, alice, [bob], settings={"endToEndEncryption": True}
    )
    assert screened["settings"]["moderation"] is True
    opaque = await send(client, bob, screened["id"], envelope(), encrypted=True)

    assert opaque["status"] == "SENT"
    assert await _queue(client, alice, conversationId=quiet["id"]) == []
    assert await _queue(client, alice, conversationId=screened["id"]) == []


async def test_edits_are_screened_and_can_be_held(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, bob, conversation["id"], CLEAN)
    member_socket = await connect(carol, WATCH)
    owner_socket = await connect(alice, WATCH)

    edited = await client.put(
        f"/messages/{message['id']}", json={"content": HELD}, headers=bob.headers
    )

    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["content"]) == ("MODERATED", HELD)
    update = (await member_socket.next_of("message_updated"))["message"]
    assert (update["status"], update["content"]) == ("MODERATED", None)
    alert = await owner_socket.next_of("moderation.flagged")
    await owner_socket.next_of("message_updated")
    assert (alert["held"], alert["message"]["version"]) == (True, 2)
    [item] = await _queue(client, alice, conversationId=conversation["id"])
    assert (item["messageVersion"], item["content"]) == (2, HELD)

    # Editing a held message does not release it.
    again = await client.put(
        f"/messages/{message['id']}", json={"content": CLEAN}, headers=bob.headers
    )
    assert again.json()["status"] == "MODERATED"
    assert (await get_message(client, carol, message["id"]))["content"] is None
    assert (await _decide(client, alice, item["id"], "APPROVE")).status_code == 200
    released = await get_message(client, carol, message["id"])
    assert (released["status"], released["content"]) == ("EDITED", CLEAN)


async def test_socket_send_is_screened_like_rest(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sender = await connect(bob, frozenset({"user_status_changed", "new_message"}))

    ack = await sender.call(
        "send_message",
        {"conversationId": conversation["id"], "content": HELD, "clientMessageId": "mod-1"},
    )

    assert ack["ok"] is True
    confirmed = await sender.next_of("message_confirmed")
    assert (confirmed["message"]["status"], confirmed["message"]["content"]) == ("MODERATED", HELD)
    [item] = await _queue(client, alice, conversationId=conversation["id"])
    assert item["messageId"] == ack["message"]["id"]


async def _preview(client: httpx.AsyncClient, user: User, conversation_id: str) -> Any:
    return find((await my_conversations(client, user))["items"], conversation_id)["lastMessage"]


async def test_conversation_list_preview_hides_held_and_deleted_text(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    held = await send(client, bob, conversation["id"], HELD)

    assert (await _preview(client, carol, conversation["id"]))["content"] is None
    assert (await _preview(client, bob, conversation["id"]))["content"] == HELD
    assert (await _preview(client, alice, conversation["id"]))["content"] == HELD

    deleted = await client.delete(f"/messages/{held['id']}", headers=bob.headers)
    assert deleted.status_code == 200, deleted.text
    for user in (alice, bob, carol):
        preview = await _preview(client, user, conversation["id"])
        assert (preview["status"], preview["content"]) == ("DELETED", None)
