"""Scheduled messages through REST and the socket (docs/api.md, Scheduled messages)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from tests.realtime.sockets import Recorder, open_socket
from tests.scheduled.conftest import Listening
from tests.scheduled.helpers import (
    LEAD_SECONDS,
    at,
    next_named,
    parse,
    schedule,
    scheduled,
    wait_for_status,
)
from tests.support import (
    Server,
    User,
    assert_error,
    create_conversation,
    execute_sql,
    message_page,
    new_client_id,
    post_message,
    remove,
    send,
)


async def test_scheduled_message_is_hidden_until_its_time_then_sent_once(
    client: httpx.AsyncClient, bob_listening: Listening, alice: User, bob: User
) -> None:
    conversation_id, receiver = bob_listening.conversation_id, bob_listening.receiver
    item = await schedule(client, alice, conversation_id, "see you later", at(LEAD_SECONDS))

    # Before its time: nobody else sees it, in pages or catch-up, and it has no seq.
    assert "seq" not in item
    assert (await message_page(client, bob, conversation_id))["items"] == []
    sync = await receiver.call("sync", {"conversationId": conversation_id, "afterSeq": 0})
    assert sync["messages"] == []
    listed = await client.get("/messages/scheduled", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    # alice is shared by the run: other tests may leave her scheduled messages elsewhere.
    in_this_conversation = [
        i["id"] for i in listed.json()["items"] if i["conversationId"] == conversation_id
    ]
    assert in_this_conversation == [item["id"]]

    event = await next_named(receiver, "new_message")

    message = event["message"]
    assert message["content"] == "see you later"
    assert message["seq"] == 1
    # Within 1 s of its time (the server's clock on both sides).
    late = parse(message["serverTimestamp"]) - parse(item["scheduledAt"])
    assert timedelta(0) <= late < timedelta(seconds=1), late
    done = await wait_for_status(client, alice, item["id"], "SENT")
    assert done["sentMessageId"] == message["id"]
    page = await message_page(client, bob, conversation_id)
    assert [m["id"] for m in page["items"]] == [message["id"]]
    # Once: the next message in the room is the marker sent after it.
    marker = await send(client, alice, conversation_id, "marker")
    assert (await next_named(receiver, "new_message"))["message"]["id"] == marker["id"]
    # Sent: neither changed nor cancelled any more.
    patch = await client.patch(
        f"/messages/scheduled/{item['id']}", json={"content": "x"}, headers=alice.headers
    )
    assert_error(patch, 409, "SCHEDULED_MESSAGE_NOT_PENDING")
    cancel = await client.delete(f"/messages/scheduled/{item['id']}", headers=alice.headers)
    assert_error(cancel, 409, "SCHEDULED_MESSAGE_NOT_PENDING")


async def test_edited_scheduled_message_is_sent_with_its_new_content_and_time(
    client: httpx.AsyncClient, bob_listening: Listening, alice: User, bob: User
) -> None:
    conversation_id, receiver = bob_listening.conversation_id, bob_listening.receiver
    item = await schedule(client, alice, conversation_id, "draft", at(300))

    new_time = at(LEAD_SECONDS)
    response = await client.patch(
        f"/messages/scheduled/{item['id']}",
        json={"content": "final", "scheduledAt": new_time},
        headers=alice.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["content"] == "final"
    assert parse(response.json()["scheduledAt"]) == parse(new_time)
    message = (await next_named(receiver, "new_message"))["message"]
    assert message["content"] == "final"


async def test_cancelled_scheduled_message_is_never_sent(
    client: httpx.AsyncClient, bob_listening: Listening, alice: User, bob: User
) -> None:
    conversation_id, receiver = bob_listening.conversation_id, bob_listening.receiver
    cancelled = await schedule(client, alice, conversation_id, "never", at(LEAD_SECONDS))
    marker = await schedule(client, alice, conversation_id, "marker", at(LEAD_SECONDS + 0.5))

    response = await client.delete(f"/messages/scheduled/{cancelled['id']}", headers=alice.headers)

    assert response.status_code == 204, response.text
    again = await client.delete(f"/messages/scheduled/{cancelled['id']}", headers=alice.headers)
    assert again.status_code == 204, again.text
    # The marker, due after it, is the first message to arrive.
    assert (await next_named(receiver, "new_message"))["message"]["content"] == "marker"
    assert (await scheduled(client, alice, cancelled["id"]))["status"] == "CANCELLED"
    listed = await client.get(
        "/messages/scheduled", params={"status": "CANCELLED"}, headers=alice.headers
    )
    assert cancelled["id"] in [i["id"] for i in listed.json()["items"]]
    assert marker["id"] not in [i["id"] for i in listed.json()["items"]]
    patch = await client.patch(
        f"/messages/scheduled/{cancelled['id']}", json={"content": "x"}, headers=alice.headers
    )
    assert_error(patch, 409, "SCHEDULED_MESSAGE_NOT_PENDING")


async def test_scheduled_list_pages_soonest_first(
    client: httpx.AsyncClient, alice: User, carol: User
) -> None:
    conversation = await create_conversation(client, carol, [alice])
    later = await schedule(client, carol, conversation["id"], "later", at(3000))
    sooner = await schedule(client, carol, conversation["id"], "sooner", at(1000))
    middle = await schedule(client, carol, conversation["id"], "middle", at(2000))

    first = await client.get("/messages/scheduled", params={"limit": 2}, headers=carol.headers)
    cursor = first.json()["nextCursor"]
    second = await client.get(
        "/messages/scheduled", params={"limit": 2, "cursor": cursor}, headers=carol.headers
    )

    ids = [i["id"] for i in first.json()["items"] + second.json()["items"]]
    mine = [sooner["id"], middle["id"], later["id"]]
    assert [i for i in ids if i in mine] == mine
    for item in (sooner, middle, later):
        await client.delete(f"/messages/scheduled/{item['id']}", headers=carol.headers)


async def test_scheduled_at_in_the_past_or_too_far_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    past = await post_message(client, alice, conversation["id"], "x", scheduledAt=at(-60))
    too_far = await post_message(client, alice, conversation["id"], "x", scheduledAt=at(10**8))
    bad = await post_message(client, alice, conversation["id"], "x", scheduledAt="tomorrow")

    assert assert_error(past, 422, "SCHEDULED_AT_INVALID")["details"]["reason"] == "TOO_SOON"
    assert assert_error(too_far, 422, "SCHEDULED_AT_INVALID")["details"]["reason"] == "TOO_FAR"
    assert_error(bad, 422, "VALIDATION_ERROR")
    item = await schedule(client, alice, conversation["id"], "x", at(600))
    patch = await client.patch(
        f"/messages/scheduled/{item['id']}", json={"scheduledAt": at(-5)}, headers=alice.headers
    )
    assert_error(patch, 422, "SCHEDULED_AT_INVALID")


async def test_non_member_cannot_schedule(
    client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, mallory, conversation["id"], "x", scheduledAt=at(60))

    assert_error(response, 404, "CONVERSATION_NOT_FOUND")


async def test_another_users_scheduled_message_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    item = await schedule(client, alice, conversation["id"], "mine", at(600))
    url = f"/messages/scheduled/{item['id']}"

    assert_error(await client.get(url, headers=bob.headers), 404, "SCHEDULED_MESSAGE_NOT_FOUND")
    assert_error(
        await client.patch(url, json={"content": "theirs"}, headers=bob.headers),
        404,
        "SCHEDULED_MESSAGE_NOT_FOUND",
    )
    assert_error(await client.delete(url, headers=bob.headers), 404, "SCHEDULED_MESSAGE_NOT_FOUND")
    listed = await client.get("/messages/scheduled", headers=bob.headers)
    assert item["id"] not in [i["id"] for i in listed.json()["items"]]
    assert (await scheduled(client, alice, item["id"]))["content"] == "mine"


async def test_same_client_message_id_schedules_once(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    client_id = new_client_id()
    when = at(600)

    # Concurrent retries, then a late one: all answer the same scheduled message.
    racing = await asyncio.gather(
        *(
            schedule(client, alice, conversation["id"], "once", when, clientMessageId=client_id)
            for _ in range(5)
        )
    )
    again = await schedule(
        client, alice, conversation["id"], "once", when, clientMessageId=client_id
    )

    assert {item["id"] for item in racing} == {again["id"]}


async def test_sender_who_lost_access_gets_message_failed(
    server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, bob, [alice])
    sender = await open_socket(sockets, server, alice)
    item = await schedule(
        client, alice, conversation["id"], "too late", at(LEAD_SECONDS), clientMessageId=None
    )
    await remove(client, bob, conversation["id"], alice)

    failed = await next_named(sender, "message_failed")

    assert failed["scheduledMessageId"] == item["id"]
    assert failed["clientMessageId"] == f"sched:{item['id']}"
    assert failed["error"]["code"] == "CONVERSATION_NOT_FOUND"
    done = await wait_for_status(client, alice, item["id"], "FAILED")
    assert done["errorCode"] == "CONVERSATION_NOT_FOUND"
    assert (await message_page(client, bob, conversation["id"]))["items"] == []


async def test_socket_send_message_with_scheduled_at_schedules(
    server: Server, client: httpx.AsyncClient, sockets: list[Recorder], alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sender = await open_socket(sockets, server, alice)

    ack = await sender.call(
        "send_message",
        {"conversationId": conversation["id"], "content": "by socket", "scheduledAt": at(600)},
    )

    assert ack["ok"] is True, ack
    assert ack["scheduledMessage"]["status"] == "SCHEDULED"
    item = await scheduled(client, alice, ack["scheduledMessage"]["id"])
    assert item["content"] == "by socket"


async def test_scheduled_route_is_not_taken_for_a_message_id(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get("/messages/scheduled", headers=alice.headers)

    assert response.status_code == 200, response.text
    assert set(response.json()) == {"items", "nextCursor"}


async def test_claim_of_a_dead_instance_is_retried_after_its_lease_without_a_second_message(
    backend_env: dict[str, str],
    client: httpx.AsyncClient,
    bob_listening: Listening,
    alice: User,
    bob: User,
) -> None:
    # The state an instance leaves when it dies after the send committed but before it marked
    # the row SENT: the message is stored under the send's clientMessageId, the row is
    # SENDING with a lease that has run out.
    conversation_id, receiver = bob_listening.conversation_id, bob_listening.receiver
    client_id = new_client_id()
    stored = await send(client, alice, conversation_id, "crash", clientMessageId=client_id)
    item = await schedule(
        client, alice, conversation_id, "crash", at(600), clientMessageId=client_id
    )
    assert (await next_named(receiver, "new_message"))["message"]["id"] == stored["id"]

    await execute_sql(
        backend_env,
        [
            "UPDATE scheduled_messages SET status = 'SENDING', claimed_by = 'dead',"
            " claimed_until = created_at, scheduled_at = created_at, attempts = 1"
            f" WHERE client_message_id = '{client_id}'"
        ],
    )

    done = await wait_for_status(client, alice, item["id"], "SENT")
    assert done["sentMessageId"] == stored["id"]
    assert done["attempts"] == 2
    marker = await send(client, alice, conversation_id, "marker")
    assert (await next_named(receiver, "new_message"))["message"]["id"] == marker["id"]
    page = await message_page(client, bob, conversation_id)
    assert [m["id"] for m in page["items"]] == [marker["id"], stored["id"]]
