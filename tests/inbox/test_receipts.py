"""Read and delivery receipts: PENDING -> SENT -> DELIVERED -> READ from per-member watermarks,
over HTTP and the socket."""

from __future__ import annotations

import httpx

from tests.realtime.sockets import Connect
from tests.support import User, create_conversation, delivery_tracker, mark_read, send


async def test_new_message_is_sent_to_every_recipient(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, alice, conversation["id"], "hello")

    tracker = await delivery_tracker(client, alice, message["id"])

    assert tracker["recipients"] == {bob.id: {"status": "SENT"}, carol.id: {"status": "SENT"}}
    assert tracker["summary"] == {"recipients": 2, "delivered": 0, "read": 0}


async def test_message_delivered_moves_the_watermark_and_tells_the_sender(
    connect: Connect,
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    first = await send(client, alice, conversation["id"], "one")
    second = await send(client, alice, conversation["id"], "two")
    sender, receiver = await connect(alice), await connect(bob)

    ack = await receiver.call("message_delivered", {"messageIds": [second["id"]]})

    assert ack == {"ok": True}
    status = await sender.next_of("message_delivery_status")
    assert (status["messageId"], status["userId"], status["status"]) == (
        second["id"],
        bob.id,
        "DELIVERED",
    )
    # A watermark: delivering the second message delivers the first as well.
    assert (await delivery_tracker(client, alice, first["id"]))["recipients"][bob.id] == {
        "status": "DELIVERED"
    }


async def test_reading_marks_read_and_tells_the_sender(
    connect: Connect,
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "read me")
    sender = await connect(alice)

    response = await mark_read(client, bob, conversation["id"], message["id"])

    assert response.status_code == 200, response.text
    assert (await sender.next_of("message_read_receipt"))["userId"] == bob.id
    status = await sender.next_of("message_delivery_status")
    assert (status["status"], status["userId"]) == ("READ", bob.id)
    tracker = await delivery_tracker(client, alice, message["id"])
    assert tracker["recipients"][bob.id]["status"] == "READ"
    assert tracker["summary"] == {"recipients": 1, "delivered": 1, "read": 1}


async def test_delivering_a_message_of_a_foreign_conversation_changes_nothing(
    connect: Connect,
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    mallory: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "private")
    sender = await connect(alice)
    outsider, member = await connect(mallory), await connect(bob)

    ack = await outsider.call("message_delivered", {"messageIds": [message["id"]]})

    assert ack == {"ok": True}
    assert (await delivery_tracker(client, alice, message["id"]))["summary"]["delivered"] == 0

    # Bob's delivery is the marker: both calls go through the same server, one after the
    # other, so a status for mallory's would reach alice before his.
    assert await member.call("message_delivered", {"messageIds": [message["id"]]}) == {"ok": True}
    status = await sender.next_of("message_delivery_status")
    assert (status["messageId"], status["userId"], status["status"]) == (
        message["id"],
        bob.id,
        "DELIVERED",
    )
    tracker = await delivery_tracker(client, alice, message["id"])
    assert tracker["summary"] == {"recipients": 1, "delivered": 1, "read": 0}
    assert tracker["recipients"] == {bob.id: {"status": "DELIVERED"}}


async def test_tracker_is_hidden_when_read_receipts_are_off(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], settings={"readReceipts": False})
    message = await send(client, alice, conversation["id"], "discreet")

    response = await client.get(f"/messages/{message['id']}", headers=alice.headers)

    assert response.status_code == 200
    assert response.json()["deliveryTracker"] is None
