"""Member reports: `POST /messages/{id}/report` puts a message a member finds abusive into the
review queue, alerts the reviewers and is decided like a flagged message. In an end-to-end
encrypted conversation reports replace scoring; they work in every conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import own_server
from tests.realtime.sockets import Connect
from tests.support import (
    Server,
    User,
    assert_error,
    change_status,
    create_conversation,
    envelope,
    get_message,
    register,
    remove,
    send,
    set_role,
)

CLEAN = "lovely weather today"
WATCH = frozenset({"user_status_changed", "message_confirmed"})


async def _report(
    client: httpx.AsyncClient, user: User, message_id: str, reason: str = "SPAM", **body: Any
) -> httpx.Response:
    return await client.post(
        f"/messages/{message_id}/report", json={"reason": reason, **body}, headers=user.headers
    )


async def _queue(
    client: httpx.AsyncClient, user: User, conversation_id: str, status: str = "PENDING"
) -> list[dict[str, Any]]:
    response = await client.get(
        "/moderation/queue",
        params={"conversationId": conversation_id, "status": status},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _decide(
    client: httpx.AsyncClient, user: User, item_id: str, action: str
) -> httpx.Response:
    return await client.post(
        f"/moderation/queue/{item_id}/decision", json={"action": action}, headers=user.headers
    )


async def test_report_queues_the_message_and_alerts_the_reviewers_only(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, bob, conversation["id"], CLEAN)
    owner_socket = await connect(alice, WATCH)
    member_socket = await connect(carol, WATCH)

    reported = await _report(client, carol, message["id"], "ABUSE", note="he keeps doing this")

    assert reported.status_code == 201, reported.text
    report = reported.json()
    assert {k: report[k] for k in ("messageId", "conversationId", "reason", "note")} == {
        "messageId": message["id"],
        "conversationId": conversation["id"],
        "reason": "ABUSE",
        "note": "he keeps doing this",
    }
    alert = await owner_socket.next_of("moderation.flagged")
    assert alert["queueItemId"] == report["id"]
    assert (alert["message"]["id"], alert["message"]["content"]) == (message["id"], CLEAN)
    assert (alert["score"], alert["reasons"], alert["terms"], alert["held"]) == (
        1.0,
        ["REPORTED_ABUSE"],
        [],
        False,
    )
    [item] = await _queue(client, alice, conversation["id"])
    assert item["id"] == report["id"]
    assert {
        k: item[k]
        for k in ("messageId", "senderId", "content", "reasons", "held", "reportNote", "status")
    } == {
        "messageId": message["id"],
        "senderId": bob.id,
        "content": CLEAN,
        "reasons": ["REPORTED_ABUSE"],
        "held": False,
        "reportNote": "he keeps doing this",
        "status": "PENDING",
    }
    # A report does not hide the message; Carol, a plain member, had no alert before this.
    assert (await get_message(client, carol, message["id"]))["content"] == CLEAN
    await send(client, alice, conversation["id"], "next")
    assert (await member_socket.next_of("new_message"))["message"]["content"] == "next"


async def test_reported_encrypted_message_is_decided_through_the_queue(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(
        client, alice, [bob, carol], settings={"endToEndEncryption": True}
    )
    content = envelope()
    message = await send(client, bob, conversation["id"], content, encrypted=True)
    assert await _queue(client, alice, conversation["id"]) == []  # envelopes are not scored
    member_socket = await connect(carol, WATCH)

    reported = await _report(client, carol, message["id"], "SPAM", note="a crypto giveaway")
    assert reported.status_code == 201, reported.text
    [item] = await _queue(client, alice, conversation["id"])
    assert (item["content"], item["reasons"]) == (content, ["REPORTED_SPAM"])

    decided = await _decide(client, alice, item["id"], "REJECT")

    assert decided.status_code == 200, decided.text
    removed = (await member_socket.next_of("message_deleted"))["message"]
    assert (removed["id"], removed["status"]) == (message["id"], "DELETED")


async def test_repeat_report_answers_the_first_and_queues_once(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, bob, conversation["id"], CLEAN)
    first = await _report(client, carol, message["id"], "SPAM")
    assert first.status_code == 201, first.text

    again = await _report(client, carol, message["id"], "ABUSE", note="changed my mind")

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert [item["id"] for item in await _queue(client, alice, conversation["id"])] == [
        first.json()["id"]
    ]


async def test_concurrent_repeats_make_one_report(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, bob, conversation["id"], CLEAN)

    answers = await asyncio.gather(*(_report(client, carol, message["id"]) for _ in range(8)))

    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(await _queue(client, alice, conversation["id"])) == 1


async def test_reports_of_several_members_close_with_one_decision(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol, dave])
    message = await send(client, bob, conversation["id"], CLEAN)
    for reporter in (carol, dave):
        assert (await _report(client, reporter, message["id"], "OTHER")).status_code == 201
    items = await _queue(client, alice, conversation["id"])
    assert len(items) == 2

    decided = await _decide(client, alice, items[0]["id"], "APPROVE")

    assert decided.status_code == 200, decided.text
    assert await _queue(client, alice, conversation["id"]) == []
    assert len(await _queue(client, alice, conversation["id"], "APPROVED")) == 2
    assert (await get_message(client, carol, message["id"]))["content"] == CLEAN


async def test_report_works_where_scoring_is_off_and_for_muted_members(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(
        client, alice, [bob, carol], settings={"moderation": False}
    )
    message = await send(client, bob, conversation["id"], CLEAN)
    await change_status(client, alice, conversation["id"], carol, "MUTED")

    reported = await _report(client, carol, message["id"], "ABUSE")

    assert reported.status_code == 201, reported.text
    assert len(await _queue(client, alice, conversation["id"])) == 1


async def test_report_is_in_the_audit_trail(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, bob, conversation["id"], CLEAN)
    report = (await _report(client, carol, message["id"], "SPAM", note="private words")).json()

    response = await client.get(
        "/audit", params={"conversationId": conversation["id"]}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    [entry] = [e for e in response.json()["items"] if e["action"] == "message.reported"]
    assert (entry["actorId"], entry["messageId"], entry["targetUserId"]) == (
        carol.id,
        message["id"],
        bob.id,
    )
    assert entry["details"] == {"itemId": report["id"], "reason": "SPAM"}


async def test_own_message_cannot_be_reported(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, bob, conversation["id"], CLEAN)

    refused = await _report(client, bob, message["id"])

    assert assert_error(refused, 403, "PERMISSION_DENIED")["details"]["reason"] == "OWN_MESSAGE"
    assert await _queue(client, alice, conversation["id"]) == []


async def test_only_members_who_read_the_message_report_it(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    message = await send(client, bob, conversation["id"], CLEAN)
    removed = await remove(client, alice, conversation["id"], carol)
    assert removed.status_code in (200, 204), removed.text

    assert_error(await _report(client, mallory, message["id"]), 404, "MESSAGE_NOT_FOUND")
    assert_error(await _report(client, carol, message["id"]), 404, "MESSAGE_NOT_FOUND")
    assert await _queue(client, alice, conversation["id"]) == []


async def test_deleted_or_held_message_cannot_be_reported(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    gone = await send(client, bob, conversation["id"], CLEAN)
    deleted = await client.delete(f"/messages/{gone['id']}", headers=bob.headers)
    assert deleted.status_code == 200, deleted.text
    held = await send(client, bob, conversation["id"], "fuck this shit, fuck")
    assert held["status"] == "MODERATED"

    assert_error(await _report(client, carol, gone["id"]), 409, "MESSAGE_DELETED")
    refused = await _report(client, carol, held["id"])
    assert assert_error(refused, 403, "PERMISSION_DENIED")["details"]["reason"] == (
        "HELD_FOR_REVIEW"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-reason"),
        pytest.param({"reason": "BORING"}, id="unknown-reason"),
        pytest.param({"reason": "SPAM", "note": "x" * 1001}, id="note-too-long"),
        pytest.param({"reason": "SPAM", "extra": True}, id="unknown-field"),
    ],
)
async def test_bad_report_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, body: dict[str, Any]
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], CLEAN)

    refused = await client.post(f"/messages/{message['id']}/report", json=body, headers=bob.headers)

    assert_error(refused, 422, "VALIDATION_ERROR")


async def test_reviewers_below_the_sender_do_not_decide_a_report(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol, dave])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    await set_role(client, alice, conversation["id"], carol, "MODERATOR")
    message = await send(client, bob, conversation["id"], CLEAN)
    report = (await _report(client, dave, message["id"], "ABUSE")).json()

    refused = await _decide(client, carol, report["id"], "REJECT")

    assert_error(refused, 403, "PERMISSION_DENIED")
    assert (await _decide(client, alice, report["id"], "REJECT")).status_code == 200


# ---------------------------------------------------------------- the rate limit


@pytest.fixture(scope="module")
def reports_server(backend_env: dict[str, str]) -> Iterator[Server]:
    """A server allowing 2 reports per user per hour (its own Redis key prefix)."""
    with own_server(backend_env, "reports", {"RATE_LIMIT_REPORTS_PER_HOUR": "2"}) as running:
        yield running


@pytest.fixture
async def reports_client(reports_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=reports_server.url, timeout=30) as http:
        yield http


async def test_reports_are_rate_limited_per_user(reports_client: httpx.AsyncClient) -> None:
    owner, sender, reporter, other = [
        await register(reports_client, name) for name in ("alice", "bob", "carol", "dave")
    ]
    conversation = await create_conversation(reports_client, owner, [sender, reporter, other])
    messages = [await send(reports_client, sender, conversation["id"], CLEAN) for _ in range(3)]
    for message in messages[:2]:
        assert (await _report(reports_client, reporter, message["id"])).status_code == 201

    refused = await _report(reports_client, reporter, messages[2]["id"])

    details = assert_error(refused, 429, "RATE_LIMITED")["details"]
    assert (details["scope"], details["limit"], details["windowSeconds"]) == ("REPORT", 2, 3600)
    assert int(refused.headers["Retry-After"]) >= 1
    # A repeat of a report already made is answered, not counted; others have their own count.
    assert (await _report(reports_client, reporter, messages[0]["id"])).status_code == 200
    assert (await _report(reports_client, other, messages[2]["id"])).status_code == 201
    assert len(await _queue(reports_client, owner, conversation["id"])) == 3
