"""Idempotency-Key: a retry gets the first answer and changes nothing more (issue 10, point 2).

Creating a conversation, adding people and forwarding take the header; the same key from the
same user gives the same status and body, another request with it is refused, concurrent
duplicates make one change, and without the header nothing changes from before.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import start_server
from tests.support import (
    Server,
    User,
    assert_error,
    create_conversation,
    my_conversations,
    participants,
    read_all,
    remove,
    send,
    unique_name,
)

DUPLICATES = 8


def new_key() -> str:
    return f"key-{secrets.token_hex(8)}"


def keyed(user: User, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def _create(
    client: httpx.AsyncClient, user: User, key: str | None, body: dict[str, Any]
) -> httpx.Response:
    headers = keyed(user, key) if key is not None else user.headers
    return await client.post("/conversations", json=body, headers=headers)


def _group(members: list[User], name: str) -> dict[str, Any]:
    return {"type": "GROUP", "name": name, "participantIds": [m.id for m in members]}


async def _named(client: httpx.AsyncClient, user: User, name: str) -> list[dict[str, Any]]:
    page = await my_conversations(client, user, limit=100)
    return [item for item in page["items"] if item["name"] == name]


async def _add(
    client: httpx.AsyncClient, actor: User, conversation_id: str, key: str, targets: list[User]
) -> httpx.Response:
    return await client.post(
        f"/conversations/{conversation_id}/participants",
        json={"userIds": [t.id for t in targets]},
        headers=keyed(actor, key),
    )


async def _forward(
    client: httpx.AsyncClient,
    user: User,
    message_id: str,
    conversation_ids: list[str],
    key: str | None,
    *,
    wait: bool = False,
) -> httpx.Response:
    return await client.post(
        f"/messages/{message_id}/forward",
        params={"wait": "true"} if wait else None,
        json={"conversationIds": conversation_ids},
        headers=keyed(user, key) if key is not None else user.headers,
    )


# ---------------------------------------------------------------- creating a conversation


async def test_create_retry_returns_the_first_answer_and_creates_nothing(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    key, name = new_key(), unique_name("retried")

    first = await _create(client, alice, key, _group([bob], name))
    again = await _create(client, alice, key, _group([bob], name))

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert [c["id"] for c in await _named(client, alice, name)] == [first.json()["id"]]


async def test_create_with_a_used_key_and_another_body_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    key, name, other = new_key(), unique_name("first"), unique_name("second")
    assert (await _create(client, alice, key, _group([bob], name))).status_code == 201

    response = await _create(client, alice, key, _group([carol], other))

    assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await _named(client, alice, other) == []


async def test_concurrent_creates_with_one_key_make_one_conversation(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    key, name = new_key(), unique_name("raced")

    responses = await asyncio.gather(
        *(_create(client, alice, key, _group([bob], name)) for _ in range(DUPLICATES))
    )

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert len(await _named(client, alice, name)) == 1
    assert len(await _named(client, bob, name)) == 1


async def test_users_use_the_same_key_independently(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    key = new_key()
    alices, bobs = unique_name("alices"), unique_name("bobs")

    mine = await _create(client, alice, key, _group([carol], alices))
    theirs = await _create(client, bob, key, _group([carol], bobs))

    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    assert mine.json()["id"] != theirs.json()["id"]
    assert len(await _named(client, carol, alices)) == 1
    assert len(await _named(client, carol, bobs)) == 1


async def test_without_a_key_each_create_is_a_new_conversation(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    name = unique_name("unkeyed")

    first = await _create(client, alice, None, _group([bob], name))
    second = await _create(client, alice, None, _group([bob], name))

    assert (first.status_code, second.status_code) == (201, 201)
    assert len(await _named(client, alice, name)) == 2


async def test_a_key_is_bounded_printable_ascii(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    body = _group([bob], unique_name("bounded"))
    for bad in ("", "k" * 256, "tab\there"):
        response = await _create(client, alice, bad, body)
        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert error["details"]["errors"][0]["field"] == "header.Idempotency-Key", error

    longest = await _create(client, alice, secrets.token_hex(8) + "k" * 239, body)
    assert longest.status_code == 201, longest.text


async def test_a_key_answers_only_the_endpoint_it_was_used_on(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    key = new_key()
    created = await _create(client, alice, key, _group([bob], unique_name("first")))
    assert created.status_code == 201

    response = await _add(client, alice, created.json()["id"], key, [carol])

    assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert carol.id not in await participants(client, alice, created.json()["id"])


@pytest.fixture(scope="module")
def short_lived_keys(backend_env: dict[str, str]) -> Iterator[Server]:
    """A server on the same database whose keys live one second."""
    running = start_server(backend_env, {"IDEMPOTENCY_KEY_TTL": "1s"})
    yield running
    running.stop()


@pytest.fixture
async def short_client(short_lived_keys: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=short_lived_keys.url, timeout=30) as http:
        yield http


async def test_an_expired_key_is_a_new_request(
    short_client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    key, later = new_key(), unique_name("later")
    first = await _create(short_client, alice, key, _group([bob], unique_name("first")))
    assert first.status_code == 201, first.text

    deadline = time.monotonic() + 30
    while True:  # refused while the first answer lives, then a new request
        reused = await _create(short_client, alice, key, _group([carol], later))
        if reused.status_code != 422 or time.monotonic() > deadline:
            break
        assert_error(reused, 422, "IDEMPOTENCY_KEY_REUSED")
        await asyncio.sleep(0.1)
    again = await _create(short_client, alice, key, _group([carol], later))

    assert reused.status_code == 201, reused.text
    assert "idempotent-replayed" not in reused.headers
    assert (again.status_code, again.json()) == (201, reused.json())
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(await _named(short_client, alice, later)) == 1


# ---------------------------------------------------------------- adding people


async def test_add_retry_answers_the_first_answer_and_adds_nothing(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    key = new_key()
    first = await _add(client, alice, conversation["id"], key, [carol])
    assert first.status_code == 201, first.text
    # Meanwhile carol was removed: a late retry must not bring her back.
    assert (await remove(client, alice, conversation["id"], carol)).status_code == 200

    again = await _add(client, alice, conversation["id"], key, [carol])

    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers.get("idempotent-replayed") == "true"
    members = await participants(client, alice, conversation["id"], status="REMOVED")
    assert members[carol.id]["status"] == "REMOVED"


async def test_add_with_a_used_key_and_other_people_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    key = new_key()
    assert (await _add(client, alice, conversation["id"], key, [carol])).status_code == 201

    response = await _add(client, alice, conversation["id"], key, [dave])

    assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert dave.id not in await participants(client, alice, conversation["id"])


async def test_concurrent_adds_with_one_key_add_once(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    key = new_key()

    responses = await asyncio.gather(
        *(_add(client, alice, conversation["id"], key, [carol]) for _ in range(DUPLICATES))
    )

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    audit = await client.get(
        "/audit", params={"conversationId": conversation["id"]}, headers=alice.headers
    )
    assert audit.status_code == 200, audit.text
    added = [
        entry
        for entry in audit.json()["items"]
        if entry["action"] == "participant.added" and entry["targetUserId"] == carol.id
    ]
    assert len(added) == 1, added


# ---------------------------------------------------------------- forwarding


async def _forwards_in(
    client: httpx.AsyncClient, reader: User, writer: User, conversation_id: str
) -> list[dict[str, Any]]:
    """The committed forwards, once everything accepted before has been committed (the
    committer is one queue per process: a send that waits for its commit comes after them)."""
    await send(client, writer, conversation_id, "flush")
    messages = await read_all(client, reader, conversation_id)
    return [m for m in messages if m["type"] == "FORWARD"]


async def test_forward_retry_returns_the_first_answer_and_forwards_once(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    target = await create_conversation(client, bob, [carol])
    original = await send(client, alice, source["id"], "pass it on")
    key = new_key()

    first = await _forward(client, bob, original["id"], [target["id"]], key)
    assert first.status_code == 202, first.text
    await _forwards_in(client, carol, bob, target["id"])  # the first one is committed now
    again = await _forward(client, bob, original["id"], [target["id"]], key)

    assert (again.status_code, again.json()) == (202, first.json())
    forwards = await _forwards_in(client, carol, bob, target["id"])
    assert [m["id"] for m in forwards] == [first.json()["items"][0]["id"]]


async def test_forward_retry_with_wait_answers_the_committed_first(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    targets = [
        await create_conversation(client, bob, [carol]),
        await create_conversation(client, bob, [dave]),
    ]
    original = await send(client, alice, source["id"], "pass it on")
    key, ids = new_key(), [t["id"] for t in targets]

    first = await _forward(client, bob, original["id"], ids, key, wait=True)
    again = await _forward(client, bob, original["id"], ids, key, wait=True)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()) == (201, first.json())
    for target, reader in zip(targets, (carol, dave), strict=True):
        assert len(await _forwards_in(client, reader, bob, target["id"])) == 1


async def test_forward_with_a_used_key_and_another_target_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    first_target = await create_conversation(client, bob, [carol])
    other_target = await create_conversation(client, bob, [dave])
    original = await send(client, alice, source["id"], "pass it on")
    key = new_key()
    assert (await _forward(client, bob, original["id"], [first_target["id"]], key)).is_success

    response = await _forward(client, bob, original["id"], [other_target["id"]], key)

    assert_error(response, 422, "IDEMPOTENCY_KEY_REUSED")
    assert await _forwards_in(client, dave, bob, other_target["id"]) == []


async def test_concurrent_forwards_with_one_key_forward_once(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    target = await create_conversation(client, bob, [carol])
    original = await send(client, alice, source["id"], "pass it on")
    key = new_key()

    responses = await asyncio.gather(
        *(_forward(client, bob, original["id"], [target["id"]], key) for _ in range(DUPLICATES))
    )

    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    ids = {item["id"] for r in responses for item in r.json()["items"]}
    assert len(ids) == 1
    forwards = await _forwards_in(client, carol, bob, target["id"])
    assert [m["id"] for m in forwards] == list(ids)


async def test_without_a_key_each_forward_is_a_new_message(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    source = await create_conversation(client, alice, [bob])
    target = await create_conversation(client, bob, [carol])
    original = await send(client, alice, source["id"], "pass it on")

    for _ in range(2):
        response = await _forward(client, bob, original["id"], [target["id"]], None)
        assert response.status_code == 202, response.text

    assert len(await _forwards_in(client, carol, bob, target["id"])) == 2
