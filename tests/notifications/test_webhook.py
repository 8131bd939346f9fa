"""Notifications through the public interface: messages sent over REST, presence through real
sockets, and a loopback webhook receiver that checks every signature.

"None arrived" is never waited for with a sleep: each test ends with a message the recipient
must be notified of (a witness), and the worker notifies in commit order, so once the witness
arrived anything earlier would have too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import start_server
from tests.metrics.support import until, value
from tests.notifications.receiver import Receiver, notify_env, start_receiver
from tests.realtime.sockets import Recorder, open_socket
from tests.support import (
    Server,
    User,
    create_conversation,
    envelope,
    patch_participant,
    register,
    send,
)

WINDOW_SECONDS = 1.0


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    running, runner = await start_receiver()
    yield running
    await runner.cleanup()


@pytest.fixture(scope="module")
def notify_server(backend_env: dict[str, str], receiver: Receiver) -> Iterator[Server]:
    env = notify_env(receiver, backend_env, str(WINDOW_SECONDS), "notify-one")
    running = start_server(backend_env, env)
    yield running
    running.stop()


@pytest.fixture
async def http(notify_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=notify_server.url, timeout=30) as client:
        yield client


async def _people(http: httpx.AsyncClient, *names: str) -> list[User]:
    return list(await asyncio.gather(*(register(http, name, name.title()) for name in names)))


async def _settings(
    http: httpx.AsyncClient, conversation: dict[str, Any], user: User, **settings: Any
) -> None:
    response = await patch_participant(
        http, user, conversation["id"], user, {"notificationSettings": settings}
    )
    assert response.status_code == 200, response.text


async def _wait_offline(http: httpx.AsyncClient, viewer: User, user: User) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = await http.get("/users", params={"q": user.username}, headers=viewer.headers)
        found = [item for item in response.json()["items"] if item["id"] == user.id]
        if found and found[0]["status"] == "OFFLINE":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{user.username} still online")


async def test_offline_member_gets_one_signed_notification(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await _people(http, "alice", "bob")
    conversation = await create_conversation(http, alice, [bob])
    text = "Lunch at noon? " + "x" * 200

    message = await send(http, alice, conversation["id"], text)
    await receiver.wait_for_message(bob.id, message["id"])
    witness = await send(http, bob, conversation["id"], "ok")
    await receiver.wait_for_message(alice.id, witness["id"])

    (delivery,) = receiver.accepted[bob.id]
    assert delivery["type"] == "notification.send"
    assert delivery["recipient"] == {"userId": bob.id, "username": bob.username}
    assert delivery["count"] == 1
    assert delivery["conversations"] == [
        {"conversationId": conversation["id"], "conversationName": conversation["name"], "count": 1}
    ]
    (item,) = delivery["items"]
    assert item["messageId"] == message["id"]
    assert item["conversationId"] == conversation["id"]
    assert (item["senderId"], item["senderName"]) == (alice.id, "Alice")
    assert item["preview"].startswith("Lunch at noon? xxx") and len(item["preview"]) <= 100
    assert item["mentioned"] is False
    assert item["sentAt"] == message["serverTimestamp"]
    assert delivery["createdAt"].endswith("Z") and delivery["id"]
    # The sender is never notified of their own message: the witness is all Alice got.
    assert receiver.message_ids(alice.id) == [witness["id"]]
    assert receiver.bad_signatures == 0


async def test_member_with_a_live_socket_is_not_notified(
    http: httpx.AsyncClient,
    notify_server: Server,
    receiver: Receiver,
    sockets: list[Recorder],
) -> None:
    alice, bob, dave = await _people(http, "alice", "bob", "dave")
    conversation = await create_conversation(http, alice, [bob, dave])
    socket = await open_socket(sockets, notify_server, bob)

    while_online = await send(http, alice, conversation["id"], "bob is here")
    await receiver.wait_for_message(dave.id, while_online["id"])  # resolved for everyone
    await socket.client.disconnect()
    await _wait_offline(http, alice, bob)
    after = await send(http, alice, conversation["id"], "bob has gone")
    await receiver.wait_for_message(bob.id, after["id"])

    assert receiver.message_ids(bob.id) == [after["id"]]


async def test_mentions_level_is_notified_of_mentions_and_keywords_only(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await _people(http, "alice", "bob")
    conversation = await create_conversation(http, alice, [bob])
    await _settings(http, conversation, bob, level="MENTIONS", keywords=["deploy"])

    plain = await send(http, alice, conversation["id"], "nothing for bob here")
    mention = await send(http, alice, conversation["id"], f"hey @{bob.username}, look")
    keyword = await send(http, alice, conversation["id"], "The DEPLOY is done.")
    not_a_word = await send(http, alice, conversation["id"], "redeployment tomorrow")
    witness = await send(http, alice, conversation["id"], f"@{bob.username} last one")
    await receiver.wait_for_message(bob.id, witness["id"])

    items = receiver.items(bob.id)
    assert [item["messageId"] for item in items] == [mention["id"], keyword["id"], witness["id"]]
    assert [item["mentioned"] for item in items] == [True, False, True]
    assert plain["id"] not in receiver.message_ids(bob.id)
    assert not_a_word["id"] not in receiver.message_ids(bob.id)


async def test_level_none_and_muted_until_are_not_notified(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob, carol, dave = await _people(http, "alice", "bob", "carol", "dave")
    conversation = await create_conversation(http, alice, [bob, carol, dave])
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await _settings(http, conversation, bob, level="NONE")
    await _settings(http, conversation, carol, mutedUntil=later)

    silenced = await send(http, alice, conversation["id"], f"@{bob.username} @{carol.username}")
    await receiver.wait_for_message(dave.id, silenced["id"])  # resolved for everyone
    await _settings(http, conversation, bob, level="ALL")
    await _settings(http, conversation, carol, mutedUntil=None)
    witness = await send(http, alice, conversation["id"], "now you hear")
    await receiver.wait_for_message(bob.id, witness["id"])
    await receiver.wait_for_message(carol.id, witness["id"])

    assert receiver.message_ids(bob.id) == [witness["id"]]
    assert receiver.message_ids(carol.id) == [witness["id"]]


async def test_encrypted_message_content_never_reaches_the_webhook(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await _people(http, "alice", "bob")
    conversation = await create_conversation(
        http, alice, [bob], settings={"endToEndEncryption": True}
    )
    sealed = envelope()

    message = await send(http, alice, conversation["id"], sealed, encrypted=True)
    await receiver.wait_for_message(bob.id, message["id"])

    (delivery,) = receiver.accepted[bob.id]
    assert delivery["items"][0]["preview"] == "New encrypted message"
    for part in ('"ct"', '"nonce"', sealed.split('"ct": "')[1][:16]):
        assert part not in delivery["_raw"]


async def test_a_burst_in_one_window_is_one_notification(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob = await _people(http, "alice", "bob")
    conversation = await create_conversation(http, alice, [bob])

    sent = await asyncio.gather(
        *(send(http, alice, conversation["id"], f"burst {n}", wait=False) for n in range(10))
    )
    await receiver.wait_until(lambda: sum(d["count"] for d in receiver.accepted[bob.id]) >= 10)

    (delivery,) = receiver.accepted[bob.id]
    assert delivery["count"] == 10
    assert delivery["conversations"][0]["count"] == 10
    # The last few, oldest first: all of them from this burst.
    assert len(delivery["items"]) == 5
    assert {item["messageId"] for item in delivery["items"]} <= {m["id"] for m in sent}


async def test_a_failed_delivery_is_retried_until_accepted_once(
    http: httpx.AsyncClient, notify_server: Server, receiver: Receiver
) -> None:
    alice, bob = await _people(http, "alice", "bob")
    conversation = await create_conversation(http, alice, [bob])
    receiver.failures[bob.id] = [500]

    message = await send(http, alice, conversation["id"], "try again")
    await receiver.wait_for_message(bob.id, message["id"])

    (delivery,) = receiver.accepted[bob.id]
    attempts = [
        status for delivery_id, status in receiver.requests if delivery_id == delivery["id"]
    ]
    assert attempts == [500, 200]
    samples = await until(
        http,
        lambda found: (
            value(found, "parley_notifications_deliveries_total", outcome="delivered") >= 1
        ),
    )
    assert value(samples, "parley_notifications_deliveries_total", outcome="retried") >= 1


async def _patch_conversation(
    http: httpx.AsyncClient, actor: User, conversation: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await http.patch(
        f"/conversations/{conversation['id']}", json=body, headers=actor.headers
    )
    assert response.status_code == 200, response.text


async def test_muted_conversations_and_muted_members_are_not_notified(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    alice, bob, carol, dave = await _people(http, "alice", "bob", "carol", "dave")
    conversation = await create_conversation(http, alice, [bob, carol])
    elsewhere = await create_conversation(http, alice, [dave])
    await _patch_conversation(http, alice, conversation, {"status": "MUTED"})
    response = await patch_participant(http, alice, conversation["id"], carol, {"status": "MUTED"})
    assert response.status_code == 200, response.text

    hushed = await send(http, alice, conversation["id"], "while muted")
    # The worker takes messages in commit order: once Dave heard of this one, `hushed` was
    # resolved (for nobody).
    marker = await send(http, alice, elsewhere["id"], "marker")
    await receiver.wait_for_message(dave.id, marker["id"])
    await _patch_conversation(http, alice, conversation, {"status": "ACTIVE"})
    witness = await send(http, alice, conversation["id"], "heard again")
    await receiver.wait_for_message(bob.id, witness["id"])
    carol_marker = await send(http, alice, elsewhere["id"], "second marker")
    await receiver.wait_for_message(dave.id, carol_marker["id"])

    assert receiver.message_ids(bob.id) == [witness["id"]]
    assert hushed["id"] not in receiver.message_ids(carol.id)
    assert receiver.message_ids(carol.id) == []  # a muted member: not even the witness


async def test_held_messages_are_not_notified(http: httpx.AsyncClient, receiver: Receiver) -> None:
    alice, bob = await _people(http, "alice", "bob")
    conversation = await create_conversation(http, alice, [bob])

    held = await send(http, bob, conversation["id"], "fuck this shit, fuck")
    witness = await send(http, bob, conversation["id"], "sorry")
    await receiver.wait_for_message(alice.id, witness["id"])

    assert held["status"] == "MODERATED"
    assert receiver.message_ids(alice.id) == [witness["id"]]


async def test_openapi_documents_the_webhook(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()

    operation = document["webhooks"]["notification.send"]["post"]
    headers = {p["name"].lower() for p in operation["parameters"] if p["in"] == "header"}
    assert {"x-parley-signature", "x-parley-delivery"} <= headers
    schema = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema.endswith("/NotificationPayload")
