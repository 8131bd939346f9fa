"""Bounded input: every stored object has a schema and a size bound, timestamps are checked at
the edge, and nothing a client sends (content, tokens) ends up in the server's log."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server
from tests.realtime.sockets import Recorder
from tests.support import (
    Server,
    User,
    assert_error,
    create_conversation,
    participants,
    patch_participant,
    post_message,
    register,
)

OUT_OF_RANGE = "9999-12-31T23:59:59-23:59"


# ---------------------------------------------------------------- notification settings


async def test_notification_settings_take_the_documented_shape(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    response = await patch_participant(
        client,
        bob,
        cid,
        bob,
        {"notificationSettings": {"level": "MENTIONS", "keywords": ["deploy", "release"]}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["notificationSettings"] == {
        "level": "MENTIONS",
        "mutedUntil": None,
        "keywords": ["deploy", "release"],
    }

    # A later PATCH changes only the fields it names.
    response = await patch_participant(
        client, bob, cid, bob, {"notificationSettings": {"mutedUntil": "2031-05-01T10:00:00Z"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["notificationSettings"] == {
        "level": "MENTIONS",
        "mutedUntil": "2031-05-01T10:00:00.000Z",
        "keywords": ["deploy", "release"],
    }


async def test_a_new_member_has_the_default_notification_settings(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    own = (await participants(client, bob, conversation["id"]))[bob.id]

    assert own["notificationSettings"] == {"level": "ALL", "mutedUntil": None, "keywords": []}


@pytest.mark.parametrize(
    "settings",
    [
        {"sound": False},
        {"level": "LOUD"},
        {"level": "ALL", "extra": 1},
        {"keywords": [f"word{index}" for index in range(21)]},
        {"keywords": ["x" * 33]},
        {"keywords": [""]},
        {"keywords": "deploy"},
        {"mutedUntil": OUT_OF_RANGE},
        {"mutedUntil": "tomorrow"},
    ],
)
async def test_notification_settings_outside_the_schema_are_refused(
    client: httpx.AsyncClient, alice: User, bob: User, settings: dict[str, object]
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await patch_participant(
        client, bob, conversation["id"], bob, {"notificationSettings": settings}
    )

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_repeated_patches_cannot_grow_the_stored_settings(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    for round_ in range(5):
        keys = {f"k{round_}_{index}": True for index in range(4000)}
        response = await patch_participant(client, bob, cid, bob, {"notificationSettings": keys})
        assert_error(response, 422, "VALIDATION_ERROR")

    listed = await client.get(f"/conversations/{cid}/participants", headers=bob.headers)

    assert listed.status_code == 200
    assert len(listed.content) < 4000


# ---------------------------------------------------------------- timestamps


@pytest.mark.parametrize("wait", [False, True])
@pytest.mark.parametrize(
    "timestamp", [OUT_OF_RANGE, "0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z"]
)
async def test_out_of_range_client_timestamp_is_refused_at_the_edge(
    client: httpx.AsyncClient, alice: User, bob: User, timestamp: str, wait: bool
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(
        client, alice, conversation["id"], "when?", wait=wait, clientTimestamp=timestamp
    )

    assert_error(response, 422, "VALIDATION_ERROR")
    page = await client.get(f"/messages/conversation/{conversation['id']}", headers=alice.headers)
    assert page.json()["items"] == []


async def test_a_client_timestamp_in_range_is_kept(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(
        client,
        alice,
        conversation["id"],
        "when?",
        wait=True,
        clientTimestamp="2026-06-01T12:00:00+02:00",
    )

    assert response.status_code == 201, response.text
    assert response.json()["clientTimestamp"] == "2026-06-01T10:00:00.000Z"


# ---------------------------------------------------------------- the log


def _read(path: str) -> str:
    return Path(path).read_text()


@pytest.fixture(scope="module")
def logged_server(backend_env: dict[str, str]) -> Iterator[Server]:
    """A server of its own at the default log level, so its log holds only this module's run."""
    env = {key: value for key, value in backend_env.items() if key != "LOG_LEVEL"}
    running = start_server(env)
    yield running
    running.stop()
    if "PARLEY_TEST_KEEP_LOGS" not in os.environ:
        os.unlink(running.log_path)


@pytest.fixture
async def logged_client(logged_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=logged_server.url, timeout=30) as http:
        yield http


async def test_no_content_or_token_reaches_the_log(
    logged_server: Server, logged_client: httpx.AsyncClient
) -> None:
    client = logged_client
    alice, bob = await register(client, "alice"), await register(client, "bob")
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    secret = f"secret-text-{secrets.token_hex(8)}"
    ok = await post_message(client, alice, cid, secret + " ok", wait=True)
    assert ok.status_code == 201, ok.text
    refused: list[int] = []
    for content, fields in (
        (" bad timestamp", {"clientTimestamp": OUT_OF_RANGE}),
        (" bad timestamp, waiting", {"clientTimestamp": OUT_OF_RANGE, "wait": True}),
        ("x" * 10_001, {"wait": True}),
    ):
        try:
            response = await post_message(client, alice, cid, secret + content, **fields)
            refused.append(response.status_code)
        except httpx.TransportError:  # the old server dropped the connection
            refused.append(0)
    socket = Recorder()
    await socket.client.connect(
        logged_server.url, transports=["websocket"], auth={"token": alice.token}
    )
    try:
        ack = await socket.call(
            "send_message",
            {"conversationId": cid, "content": secret + " socket", "clientTimestamp": OUT_OF_RANGE},
        )
        refused_by_socket = ack["ok"] is False
        ack = await socket.call("send_message", {"conversationId": cid, "content": secret})
        assert ack["ok"] is True
    finally:
        await socket.close()
    # The confirmed sends are committed (and any failure logged) before this answers.
    page = await client.get(f"/messages/conversation/{cid}", headers=alice.headers)
    assert page.status_code == 200

    log = _read(logged_server.log_path)

    assert log, "the server logs its start and its requests"
    assert secret not in log
    assert "[parameters:" not in log  # SQL parameters hold content: never logged
    assert alice.token not in log and bob.token not in log
    assert all(400 <= status < 500 for status in refused), refused
    assert refused_by_socket


# ---------------------------------------------------------------- the event guard


@pytest.fixture(scope="module")
def small_events_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env, {"EVENT_MAX_SIZE": "4KB"})
    yield running
    running.stop()
    if "PARLEY_TEST_KEEP_LOGS" not in os.environ:
        os.unlink(running.log_path)


async def test_an_event_over_the_size_bound_is_not_sent(small_events_server: Server) -> None:
    async with httpx.AsyncClient(base_url=small_events_server.url, timeout=30) as client:
        alice, bob = await register(client, "alice"), await register(client, "bob")
        conversation = await create_conversation(client, alice, [bob])
        cid = conversation["id"]
        socket = Recorder()
        await socket.client.connect(
            small_events_server.url, transports=["websocket"], auth={"token": bob.token}
        )
        try:
            large = f"large-{secrets.token_hex(4)} " + "y" * 5000
            stored = await post_message(client, alice, cid, large, wait=True)
            assert stored.status_code == 201, stored.text
            small = await post_message(client, alice, cid, "small", wait=True)
            assert small.status_code == 201, small.text

            event = await socket.next_of("new_message")
        finally:
            await socket.close()

    assert event["message"]["id"] == small.json()["id"]  # the large one was held back
    log = _read(small_events_server.log_path)
    assert "event not sent: too large" in log
    assert large[:20] not in log
