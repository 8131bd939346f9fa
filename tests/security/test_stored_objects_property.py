"""Random JSON into every field a client can store: the answer is a 4xx, or a 2xx after which
what is stored stays within its bound; never a 5xx.

Hypothesis runs each field with a fixed derandomized sequence of examples (the same on every
run, so CI is repeatable), about 50 per field.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import PASSWORD, User, create_conversation, participant_url, send

FLAGGED = "you are a fucking idiot"

EXAMPLES = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=12), children, max_size=8)
    ),
    max_leaves=30,
)
# Any date and offset, the ends of the range among them (an offset can push them past it).
timestamps = st.builds(
    lambda moment, offset: moment.isoformat() + offset,
    st.datetimes() | st.sampled_from([datetime.min, datetime.max]),
    st.sampled_from(["", "Z", "+00:00", "+14:00", "-23:59", "+23:59"]),
)
big_text = st.integers(min_value=0, max_value=70_000).map(lambda size: "x" * size)


def objects_with(keys: list[str], extra: st.SearchStrategy[Any] = st.nothing()) -> Any:
    """Objects that mostly use the field's known keys (so that valid-looking shapes come up),
    with any JSON value or a value from `extra`, plus any JSON value at all."""
    value = json_values | extra
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=12), value, max_size=6) | (
        json_values
    )


def size(value: Any) -> int:
    return len(json.dumps(value))


def assert_not_5xx(response: httpx.Response) -> bool:
    """True for a 2xx (then the caller checks the stored size)."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and body["error"]["code"], body
        return False
    return True


@pytest.fixture
async def room(client: httpx.AsyncClient, alice: User, bob: User) -> str:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10000)
    return str(conversation["id"])


async def _own_record(client: httpx.AsyncClient, user: User, cid: str) -> dict[str, Any]:
    response = await client.get(f"/conversations/{cid}/participants", headers=user.headers)
    assert response.status_code == 200, response.text
    return next(item for item in response.json()["items"] if item["userId"] == user.id)


# ---------------------------------------------------------------- participants


@EXAMPLES
@given(value=objects_with(["level", "mutedUntil", "keywords"], timestamps | big_text))
async def test_notification_settings(
    client: httpx.AsyncClient, bob: User, room: str, value: Any
) -> None:
    response = await client.patch(
        participant_url(room, bob), json={"notificationSettings": value}, headers=bob.headers
    )
    if assert_not_5xx(response):
        stored = (await _own_record(client, bob, room))["notificationSettings"]
        assert set(stored) == {"level", "mutedUntil", "keywords"}
        assert size(stored) < 1000


@EXAMPLES
@given(value=objects_with(["canSendMessages", "canReact", "canPinMessages", "canUploadFiles"]))
async def test_permission_overrides(
    client: httpx.AsyncClient, alice: User, bob: User, room: str, value: Any
) -> None:
    response = await client.patch(
        participant_url(room, bob), json={"permissions": value}, headers=alice.headers
    )
    if assert_not_5xx(response):
        stored = (await _own_record(client, bob, room))["permissions"]
        assert all(isinstance(flag, bool) for flag in stored.values())
        assert size(stored) < 500


@EXAMPLES
@given(
    field=st.sampled_from(["role", "status"]),
    value=json_values | st.sampled_from(["OWNER", "ADMIN", "MUTED", "LEFT", "BANNED"]),
)
async def test_role_and_status(
    client: httpx.AsyncClient, alice: User, carol: User, room: str, field: str, value: Any
) -> None:
    added = await client.post(
        f"/conversations/{room}/participants", json={"userIds": [carol.id]}, headers=alice.headers
    )
    assert_not_5xx(added)
    response = await client.patch(
        participant_url(room, carol), json={field: value}, headers=alice.headers
    )
    assert_not_5xx(response)


# ---------------------------------------------------------------- conversations


conversation_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values | big_text,
        "description": json_values | big_text,
        "settings": objects_with(
            ["typingIndicators", "readReceipts", "linkPreviews", "moderation"]
        ),
        "rateLimit": json_values,
        "status": json_values | st.sampled_from(["ACTIVE", "ARCHIVED", "MUTED", "DELETED"]),
    },
)


def _assert_conversation_bounded(conversation: dict[str, Any]) -> None:
    settings = dict(conversation["settings"])
    retention = settings.pop("retentionDays", None)
    assert retention is None or (type(retention) is int and 1 <= retention <= 36500)
    assert all(isinstance(flag, bool) for flag in settings.values())
    assert size(conversation["settings"]) < 500
    assert size(conversation) < 6000


@EXAMPLES
@given(body=conversation_fields)
async def test_conversation_update(
    client: httpx.AsyncClient, alice: User, room: str, body: dict[str, Any]
) -> None:
    body.pop("status", None)  # an ARCHIVED room would refuse the other examples' changes
    response = await client.patch(f"/conversations/{room}", json=body, headers=alice.headers)
    if assert_not_5xx(response):
        stored = await client.get(f"/conversations/{room}", headers=alice.headers)
        _assert_conversation_bounded(stored.json())


@EXAMPLES
@given(
    body=conversation_fields,
    kind=json_values | st.sampled_from(["GROUP", "SPACE", "COMMUNITY", "DIRECT"]),
    members=json_values,
)
async def test_conversation_create(
    client: httpx.AsyncClient, alice: User, body: dict[str, Any], kind: Any, members: Any
) -> None:
    response = await client.post(
        "/conversations",
        json={**body, "type": kind, "participantIds": members},
        headers=alice.headers,
    )
    if assert_not_5xx(response):
        _assert_conversation_bounded(response.json())


# ---------------------------------------------------------------- messages


message_fields = st.fixed_dictionaries(
    {},
    optional={
        "content": json_values | big_text,
        "type": json_values | st.sampled_from(["TEXT", "SYSTEM", "FORWARD", "ANNOUNCEMENT"]),
        "clientMessageId": json_values,
        "clientTimestamp": json_values | timestamps,
        "scheduledAt": json_values | timestamps,
        "attachments": json_values,
        "metadata": json_values,
        "replyToId": json_values,
        "threadId": json_values,
        "encrypted": json_values,
    },
)


def _stored_url(answer: dict[str, Any]) -> str:
    """Where an accepted send is read back: a scheduled one (`scheduledAt`) has its own."""
    if answer.get("status") == "SCHEDULED":
        return f"/messages/scheduled/{answer['id']}"
    return f"/messages/{answer['id']}"


@EXAMPLES
@given(body=message_fields, wait=st.booleans())
async def test_message_send(
    client: httpx.AsyncClient, bob: User, room: str, body: dict[str, Any], wait: bool
) -> None:
    response = await client.post(
        "/messages",
        params={"wait": "true"} if wait else None,
        json={"conversationId": room, **body},
        headers=bob.headers,
    )
    if assert_not_5xx(response):
        message = response.json()
        stored = await client.get(_stored_url(message), headers=bob.headers)
        assert stored.status_code == 200, stored.text
        assert stored.json()["status"] != "FAILED", stored.text
        assert size(stored.json()) < 50_000


@EXAMPLES
@given(
    field=st.sampled_from(["clientTimestamp", "scheduledAt"]),
    value=timestamps | json_values,
    wait=st.booleans(),
)
async def test_message_timestamps(
    client: httpx.AsyncClient, bob: User, room: str, field: str, value: Any, wait: bool
) -> None:
    response = await client.post(
        "/messages",
        params={"wait": "true"} if wait else None,
        json={"conversationId": room, "content": "when?", field: value},
        headers=bob.headers,
    )
    if assert_not_5xx(response):
        stored = await client.get(_stored_url(response.json()), headers=bob.headers)
        assert stored.status_code == 200, stored.text
        assert stored.json()["status"] != "FAILED", stored.text


@EXAMPLES
@given(value=json_values | big_text)
async def test_message_edit(client: httpx.AsyncClient, bob: User, room: str, value: Any) -> None:
    message = await send(client, bob, room, "to be edited")
    response = await client.put(
        f"/messages/{message['id']}", json={"content": value}, headers=bob.headers
    )
    if assert_not_5xx(response):
        assert size(response.json()) < 50_000


@EXAMPLES
@given(value=json_values | st.text(min_size=1, max_size=40))
async def test_reaction_emoji(client: httpx.AsyncClient, bob: User, room: str, value: Any) -> None:
    message = await send(client, bob, room, "react to me")
    response = await client.post(
        f"/messages/{message['id']}/reactions", json={"emoji": value}, headers=bob.headers
    )
    if assert_not_5xx(response):
        assert size(response.json()["reactions"]) < 2000


@EXAMPLES
@given(value=json_values)
async def test_read_and_forward_bodies(
    client: httpx.AsyncClient, bob: User, room: str, value: Any
) -> None:
    message = await send(client, bob, room, "read me")
    assert_not_5xx(
        await client.post(
            f"/conversations/{room}/read", json={"messageId": value}, headers=bob.headers
        )
    )
    assert_not_5xx(
        await client.post(
            f"/messages/{message['id']}/forward",
            json={"conversationIds": value},
            headers=bob.headers,
        )
    )


# ---------------------------------------------------------------- moderation, accounts


@EXAMPLES
@given(note=json_values | big_text, action=json_values | st.sampled_from(["APPROVE", "REJECT"]))
async def test_moderation_decision_note(
    client: httpx.AsyncClient, alice: User, bob: User, room: str, note: Any, action: Any
) -> None:
    message = await send(client, bob, room, FLAGGED)
    queue = await client.get(
        "/moderation/queue",
        params={"conversationId": room, "status": "PENDING"},
        headers=alice.headers,
    )
    item = next(item for item in queue.json()["items"] if item["messageId"] == message["id"])
    response = await client.post(
        f"/moderation/queue/{item['id']}/decision",
        json={"action": action, "note": note},
        headers=alice.headers,
    )
    if assert_not_5xx(response):
        assert size(response.json()["note"]) < 10_000


@settings(EXAMPLES, max_examples=30)
@given(display_name=json_values | big_text, username=json_values)
async def test_register_display_name(
    client: httpx.AsyncClient, display_name: Any, username: Any
) -> None:
    for name in (f"prop_{secrets.token_hex(4)}", username):
        response = await client.post(
            "/auth/register",
            json={"username": name, "password": PASSWORD, "displayName": display_name},
        )
        if assert_not_5xx(response):
            assert size(response.json()["user"]) < 1000


@EXAMPLES
@given(query=st.text(max_size=300), cursor=st.text(max_size=400))
async def test_user_search(client: httpx.AsyncClient, bob: User, query: str, cursor: str) -> None:
    response = await client.get(
        "/users", params={"q": query, "cursor": cursor}, headers=bob.headers
    )
    if assert_not_5xx(response):
        for user in response.json()["items"]:
            assert set(user) <= {
                "id",
                "username",
                "displayName",
                "createdAt",
                "status",
                "lastSeenAt",
            }
