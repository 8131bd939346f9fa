"""The Socket.IO gateway against the real server, with python-socketio's client.

Absence of an event is shown by order, not by waiting: a socket receives events in the order
they were emitted, so when a later event arrives first, the earlier one was never sent.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import socketio

from tests.realtime.sockets import Connect, Recorder, end_typing
from tests.support import Server, User, add, create_conversation, register, remove, send


async def _refused_message(server: Server, **options: Any) -> str:
    recorder = Recorder()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await recorder.client.connect(server.url, transports=["websocket"], **options)
    finally:
        await recorder.close()
    assert recorder.connect_errors, "no connect_error received"
    return str(recorder.connect_errors[0]["message"])


async def test_connect_without_token_is_refused_naming_the_reason(server: Server) -> None:
    assert (await _refused_message(server)).startswith("UNAUTHORIZED")


async def test_connect_with_forged_token_is_refused_naming_the_reason(server: Server) -> None:
    message = await _refused_message(server, auth={"token": "not.a.token"})
    assert message.startswith("INVALID_TOKEN")


async def test_connect_with_bearer_header_is_accepted(
    connect: Connect, alice: User, bob: User, client: httpx.AsyncClient
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    socket = await connect(headers={"Authorization": f"Bearer {bob.token}"})

    message = await send(client, alice, conversation["id"], "over the header")

    assert (await socket.next_of("new_message"))["message"]["id"] == message["id"]


async def test_socket_send_is_acknowledged_pending_then_confirmed_and_delivered(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sender, receiver = await connect(alice), await connect(bob)

    ack = await sender.call(
        "send_message",
        {"conversationId": conversation["id"], "content": "hi", "clientMessageId": "sock-1"},
    )

    assert ack["ok"] is True and ack["message"]["status"] == "PENDING"
    delivered = await receiver.next_of("new_message")
    assert delivered["message"]["id"] == ack["message"]["id"]
    assert delivered["message"]["status"] == "SENT" and delivered["message"]["seq"] == 1
    received: dict[str, Any] = {}
    for _ in range(2):  # the sender is in the room too: new_message and message_confirmed
        event, data = await sender.next()
        received[event] = data
    assert received["message_confirmed"]["clientMessageId"] == "sock-1"
    assert received["message_confirmed"]["message"]["seq"] == 1


async def test_non_member_never_receives_a_conversations_messages(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    private = await create_conversation(client, alice, [bob])
    theirs = await create_conversation(client, alice, [mallory])
    outsider = await connect(mallory)

    await send(client, alice, private["id"], "not for mallory")
    later = await send(client, alice, theirs["id"], "for mallory")

    first = await outsider.next_of("new_message")
    assert first["message"]["id"] == later["id"]


async def test_join_conversation_of_a_non_member_is_refused(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    outsider = await connect(mallory)

    ack = await outsider.call("join_conversation", {"conversationId": conversation["id"]})

    assert ack["ok"] is False and ack["error"]["code"] == "CONVERSATION_NOT_FOUND"


async def test_invalid_event_payload_is_a_validation_error(connect: Connect, alice: User) -> None:
    socket = await connect(alice)

    ack = await socket.call("send_message", {"conversationId": "nope", "content": "x"})

    assert ack["ok"] is False and ack["error"]["code"] == "VALIDATION_ERROR"


async def test_typing_reaches_the_others_but_not_the_typist(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    typist, reader = await connect(alice), await connect(bob)

    assert (await typist.call("typing_start", {"conversationId": conversation["id"]}))["ok"]
    marker = await send(client, bob, conversation["id"], "after typing")

    typing = await reader.next_of("user_typing")
    assert typing == {"conversationId": conversation["id"], "userId": alice.id, "isTyping": True}
    assert (await typist.next_of("new_message"))["message"]["id"] == marker["id"]
    await end_typing(typist, reader, conversation["id"])


async def test_typing_is_silent_when_the_conversation_turns_it_off(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(
        client, alice, [bob], settings={"typingIndicators": False}
    )
    typist, reader = await connect(alice), await connect(bob)

    assert (await typist.call("typing_start", {"conversationId": conversation["id"]}))["ok"]
    marker = await send(client, alice, conversation["id"], "no typing shown")

    assert (await reader.next_of("new_message"))["message"]["id"] == marker["id"]


async def test_sync_returns_exactly_the_messages_after_a_seq(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    for index in range(5):
        await send(client, alice, conversation["id"], f"m{index}")
    socket = await connect(bob)

    first = await socket.call(
        "sync", {"conversationId": conversation["id"], "afterSeq": 1, "limit": 3}
    )
    rest = await socket.call(
        "sync", {"conversationId": conversation["id"], "afterSeq": first["messages"][-1]["seq"]}
    )

    assert [m["seq"] for m in first["messages"]] == [2, 3, 4] and first["hasMore"] is True
    assert [m["seq"] for m in rest["messages"]] == [5] and rest["hasMore"] is False


async def test_mark_read_resets_unread_and_sends_a_receipt(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "one")
    last = await send(client, alice, conversation["id"], "two")
    sender, reader = await connect(alice), await connect(bob)

    ack = await reader.call(
        "mark_messages_read", {"conversationId": conversation["id"], "messageId": last["id"]}
    )

    assert ack == {"ok": True, "unreadCount": 0}
    receipt = await sender.next_of("message_read_receipt")
    assert receipt["userId"] == bob.id and receipt["messageId"] == last["id"]


async def test_rest_changes_are_pushed(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "before")
    watcher = await connect(bob)

    edited = await client.put(
        f"/messages/{message['id']}", json={"content": "after"}, headers=alice.headers
    )
    reacted = await client.post(
        f"/messages/{message['id']}/reactions", json={"emoji": "+1"}, headers=bob.headers
    )
    deleted = await client.delete(f"/messages/{message['id']}", headers=alice.headers)

    assert {edited.status_code, reacted.status_code, deleted.status_code} == {200}
    assert (await watcher.next_of("message_updated"))["message"]["content"] == "after"
    assert (await watcher.next_of("reaction_added"))["count"] == 1
    assert (await watcher.next_of("message_deleted"))["message"]["status"] == "DELETED"


async def test_added_member_hears_the_conversation_at_once(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    newcomer = await connect(carol)

    added = await add(client, alice, conversation["id"], [carol])
    message = await send(client, alice, conversation["id"], "welcome")

    assert added.status_code == 201, added.text
    assert (await newcomer.next_of("participant_added"))["participant"]["userId"] == carol.id
    assert (await newcomer.next_of("new_message"))["message"]["id"] == message["id"]


async def test_removed_member_stops_hearing_the_conversation_at_once(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    other = await create_conversation(client, alice, [carol])
    removed = await connect(carol)

    response = await remove(client, alice, conversation["id"], carol)
    await send(client, alice, conversation["id"], "carol is gone")
    marker = await send(client, alice, other["id"], "still here")

    assert response.status_code == 200, response.text
    assert (await removed.next_of("participant_removed"))["participant"]["userId"] == carol.id
    assert (await removed.next_of("new_message"))["message"]["id"] == marker["id"]


async def test_repeated_typing_starts_are_throttled(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    typist, reader = await connect(alice), await connect(bob)

    for _ in range(3):
        assert (await typist.call("typing_start", {"conversationId": conversation["id"]}))["ok"]
    marker = await send(client, alice, conversation["id"], "typed")

    assert (await reader.next_of("user_typing"))["isTyping"] is True
    assert (await reader.next_of("new_message"))["message"]["id"] == marker["id"]
    await end_typing(typist, reader, conversation["id"])


async def test_typing_stop_is_announced(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    typist, reader = await connect(alice), await connect(bob)

    await typist.call("typing_start", {"conversationId": conversation["id"]})
    await typist.call("typing_stop", {"conversationId": conversation["id"]})

    assert (await reader.next_of("user_typing"))["isTyping"] is True
    assert (await reader.next_of("user_typing"))["isTyping"] is False


async def test_typing_ends_by_itself_without_renewal(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    # The test server runs with TYPING_TIMEOUT=2s; the reader waits for the event itself.
    conversation = await create_conversation(client, alice, [bob])
    typist, reader = await connect(alice), await connect(bob)

    await typist.call("typing_start", {"conversationId": conversation["id"]})

    assert (await reader.next_of("user_typing"))["isTyping"] is True
    ended = await reader.next_of("user_typing")
    assert (ended["userId"], ended["isTyping"]) == (alice.id, False)


async def test_typing_ends_when_the_socket_that_typed_disconnects(
    connect: Connect, client: httpx.AsyncClient
) -> None:
    # Fresh users, so that presence is theirs alone: the disconnect that ends the typing also
    # announces the typist offline, right after it (by the expiry alone, 2 s later, the
    # offline came first).
    frank, grace = await register(client, "frank"), await register(client, "grace")
    conversation = await create_conversation(client, frank, [grace], "DIRECT")
    reader = await connect(grace, ignore=frozenset())
    assert (await reader.next_of("user_status_changed"))["userId"] == grace.id
    phone, laptop = await connect(frank), await connect(frank)
    assert (await reader.next_of("user_status_changed"))["status"] == "ONLINE"
    assert (await laptop.call("typing_start", {"conversationId": conversation["id"]}))["ok"]
    assert (await reader.next_of("user_typing"))["isTyping"] is True

    await phone.client.disconnect()  # not the one typing: frank still is
    marker = await send(client, frank, conversation["id"], "typed on the laptop")
    assert (await reader.next_of("new_message"))["message"]["id"] == marker["id"]

    await laptop.client.disconnect()
    ended = await reader.next_of("user_typing")
    assert (ended["userId"], ended["isTyping"]) == (frank.id, False)
    offline = await reader.next_of("user_status_changed")
    assert (offline["userId"], offline["status"]) == (frank.id, "OFFLINE")


async def test_foreign_origin_is_refused(server: Server, alice: User) -> None:
    recorder = Recorder()
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await recorder.client.connect(
                server.url,
                auth={"token": alice.token},
                headers={"Origin": "https://evil.example"},
                transports=["websocket"],
            )
    finally:
        await recorder.close()


async def test_same_origin_page_is_accepted(connect: Connect, server: Server, alice: User) -> None:
    socket = await connect(alice, headers={"Origin": server.url})

    assert socket.client.connected


async def test_reconnecting_client_catches_up_on_what_it_missed(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    # A typing indicator of an earlier test (the shared alice and bob) may still expire into
    # one of bob's rooms while this runs: only messages matter here.
    first = await connect(bob, ignore=frozenset({"user_status_changed", "user_typing"}))
    seen = await send(client, alice, conversation["id"], "seen live")
    last_seq = (await first.next_of("new_message"))["message"]["seq"]
    await first.close()

    missed = [await send(client, alice, conversation["id"], f"missed {i}") for i in range(3)]
    again = await connect(bob)
    caught_up = await again.call(
        "sync", {"conversationId": conversation["id"], "afterSeq": last_seq}
    )

    assert last_seq == seen["seq"]
    assert [m["id"] for m in caught_up["messages"]] == [m["id"] for m in missed]
    assert caught_up["hasMore"] is False
