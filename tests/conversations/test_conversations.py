"""Conversations through HTTP: create, DIRECT dedupe, update and the effect of ARCHIVED / MUTED
on sending (the list and reading one are tests/inbox/)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support import (
    RACE_ROUNDS,
    User,
    assert_error,
    create_conversation,
    participants,
    post_message,
    register,
    send,
    set_role,
)


async def patch_conversation(
    client: httpx.AsyncClient, user: User, conversation_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"/conversations/{conversation_id}", json=body, headers=user.headers)


# ---------------------------------------------------------------- create


async def test_create_group_makes_creator_owner_and_others_members(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    response = await client.post(
        "/conversations",
        json={"type": "GROUP", "name": "planning", "participantIds": [bob.id, carol.id]},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["type"] == "GROUP"
    assert body["name"] == "planning"
    assert body["status"] == "ACTIVE"
    assert body["myRole"] == "OWNER"
    assert body["messageCount"] == 0
    assert body["createdBy"] == alice.id
    roles = {uid: p["role"] for uid, p in (await participants(client, alice, body["id"])).items()}
    assert roles == {alice.id: "OWNER", bob.id: "MEMBER", carol.id: "MEMBER"}


@pytest.mark.parametrize("type_", ["SPACE", "COMMUNITY"])
async def test_create_space_or_community_makes_creator_owner(
    client: httpx.AsyncClient, alice: User, bob: User, type_: str
) -> None:
    conversation = await create_conversation(client, alice, [bob], type_=type_)
    assert conversation["type"] == type_
    assert conversation["myRole"] == "OWNER"
    roles = {
        uid: p["role"] for uid, p in (await participants(client, bob, conversation["id"])).items()
    }
    assert roles == {alice.id: "OWNER", bob.id: "MEMBER"}


@pytest.mark.parametrize("type_", ["SPACE", "COMMUNITY"])
async def test_create_space_or_community_without_name_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, type_: str
) -> None:
    response = await client.post(
        "/conversations", json={"type": type_, "participantIds": [bob.id]}, headers=alice.headers
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_create_with_unknown_participant_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    response = await client.post(
        "/conversations",
        json={"type": "GROUP", "name": "ghosts", "participantIds": [bob.id, str(uuid.uuid4())]},
        headers=alice.headers,
    )
    assert_error(response, 422, "INVALID_PARTICIPANTS")


async def test_create_direct_makes_both_members(client: httpx.AsyncClient, alice: User) -> None:
    other = await register(client, "dora")
    response = await client.post(
        "/conversations",
        json={"type": "DIRECT", "participantIds": [other.id]},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["myRole"] == "MEMBER"
    roles = {
        uid: p["role"]
        for uid, p in (await participants(client, other, response.json()["id"])).items()
    }
    assert roles == {alice.id: "MEMBER", other.id: "MEMBER"}


@pytest.mark.parametrize(
    "others",
    [pytest.param([], id="nobody"), pytest.param(["bob", "carol"], id="two-others")],
)
async def test_create_direct_needs_exactly_one_other_participant(
    client: httpx.AsyncClient, users: dict[str, User], alice: User, others: list[str]
) -> None:
    response = await client.post(
        "/conversations",
        json={"type": "DIRECT", "participantIds": [users[name].id for name in others]},
        headers=alice.headers,
    )
    assert_error(response, 422, "INVALID_PARTICIPANTS")


async def test_create_direct_with_only_oneself_is_refused(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.post(
        "/conversations",
        json={"type": "DIRECT", "participantIds": [alice.id]},
        headers=alice.headers,
    )
    assert_error(response, 422, "INVALID_PARTICIPANTS")


async def test_create_direct_with_unknown_user_is_refused(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.post(
        "/conversations",
        json={"type": "DIRECT", "participantIds": [str(uuid.uuid4())]},
        headers=alice.headers,
    )
    assert_error(response, 422, "INVALID_PARTICIPANTS")


async def test_create_direct_again_returns_existing_with_200(
    client: httpx.AsyncClient, alice: User
) -> None:
    other = await register(client, "dora")
    body = {"type": "DIRECT", "participantIds": [other.id]}
    first = await client.post("/conversations", json=body, headers=alice.headers)
    again = await client.post("/conversations", json=body, headers=alice.headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]


async def test_create_direct_from_other_side_returns_existing_with_200(
    client: httpx.AsyncClient, alice: User
) -> None:
    other = await register(client, "dora")
    first = await client.post(
        "/conversations",
        json={"type": "DIRECT", "participantIds": [other.id]},
        headers=alice.headers,
    )
    reverse = await client.post(
        "/conversations",
        json={"type": "DIRECT", "participantIds": [alice.id]},
        headers=other.headers,
    )
    assert first.status_code == 201, first.text
    assert reverse.status_code == 200, reverse.text
    assert reverse.json()["id"] == first.json()["id"]


async def test_concurrent_direct_creation_yields_one_conversation(
    client: httpx.AsyncClient, alice: User
) -> None:
    other = await register(client, "dora")
    requests = [
        client.post(
            "/conversations",
            json={"type": "DIRECT", "participantIds": [b.id]},
            headers=a.headers,
        )
        for a, b in [(alice, other), (other, alice)] * 4
    ]
    responses = await asyncio.gather(*requests)
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [
        r.text for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    conversation_id = responses[0].json()["id"]
    assert set(await participants(client, alice, conversation_id)) == {alice.id, other.id}


async def test_group_with_same_people_is_created_again(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    first = await create_conversation(client, alice, [bob])
    second = await create_conversation(client, alice, [bob])
    assert first["id"] != second["id"]


# ---------------------------------------------------------------- list


# ---------------------------------------------------------------- get


# ---------------------------------------------------------------- update


async def test_owner_updates_name_and_description(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_conversation(
        client, alice, conversation["id"], {"name": "renamed", "description": "new topic"}
    )
    assert response.status_code == 200, response.text
    seen = (await client.get(f"/conversations/{conversation['id']}", headers=bob.headers)).json()
    assert (seen["name"], seen["description"]) == ("renamed", "new topic")


async def test_admin_updates_conversation(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    response = await patch_conversation(client, bob, conversation["id"], {"name": "by admin"})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "by admin"


@pytest.mark.parametrize("role", ["MODERATOR", "MEMBER"])
async def test_below_admin_cannot_update_conversation(
    client: httpx.AsyncClient, alice: User, bob: User, role: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    if role != "MEMBER":
        await set_role(client, alice, conversation["id"], bob, role)
    response = await patch_conversation(client, bob, conversation["id"], {"name": "nope"})
    assert_error(response, 403, "PERMISSION_DENIED")
    seen = (await client.get(f"/conversations/{conversation['id']}", headers=bob.headers)).json()
    assert seen["name"] == conversation["name"]


async def test_any_direct_member_updates_conversation(
    client: httpx.AsyncClient, alice: User
) -> None:
    other = await register(client, "dora")
    direct = await create_conversation(client, alice, [other], type_="DIRECT")
    response = await patch_conversation(
        client, other, direct["id"], {"settings": {"typingIndicators": False}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["settings"]["typingIndicators"] is False


async def test_settings_patch_changes_only_given_switches(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(
        client, alice, [bob], settings={"typingIndicators": True, "readReceipts": True}
    )
    response = await patch_conversation(
        client, alice, conversation["id"], {"settings": {"readReceipts": False}}
    )
    assert response.status_code == 200, response.text
    seen = (await client.get(f"/conversations/{conversation['id']}", headers=bob.headers)).json()
    assert seen["settings"] == {
        "typingIndicators": True,
        "readReceipts": False,
        "linkPreviews": True,
        "moderation": True,
        "endToEndEncryption": False,
        "retentionDays": None,
    }


async def test_unknown_setting_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_conversation(
        client, alice, conversation["id"], {"settings": {"fireworks": True}}
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_rate_limit_is_set_and_null_restores_default(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    lowered = await patch_conversation(client, alice, conversation["id"], {"rateLimit": 10})
    assert lowered.status_code == 200, lowered.text
    assert lowered.json()["rateLimit"] == 10
    restored = await patch_conversation(client, alice, conversation["id"], {"rateLimit": None})
    assert restored.status_code == 200, restored.text
    assert restored.json()["rateLimit"] == 60


@pytest.mark.parametrize("status", ["DELETED", "SHOUTING"])
async def test_update_refuses_statuses_outside_active_archived_muted(
    client: httpx.AsyncClient, alice: User, bob: User, status: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_conversation(client, alice, conversation["id"], {"status": status})
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_archived_conversation_refuses_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    archived = await patch_conversation(client, alice, conversation["id"], {"status": "ARCHIVED"})
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "ARCHIVED"
    assert_error(
        await post_message(client, bob, conversation["id"], wait=True),
        409,
        "CONVERSATION_READ_ONLY",
    )


async def test_archiving_and_reopening_take_effect_at_once(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10000)
    cid = conversation["id"]
    wrong: list[str] = []
    # Each round: bob's access is cached by his last send, then the status flips. A stale
    # answer shows only when the next request beats the server's commit, so repeat.
    for round_ in range(RACE_ROUNDS):
        assert (await patch_conversation(client, alice, cid, {"status": "ARCHIVED"})).is_success
        refused = await post_message(client, bob, cid, wait=False)
        if refused.status_code != 409:
            wrong.append(f"round {round_}: send after archiving -> {refused.status_code}")
        assert (await patch_conversation(client, alice, cid, {"status": "ACTIVE"})).is_success
        accepted = await post_message(client, bob, cid, wait=False)
        if accepted.status_code != 202:
            wrong.append(f"round {round_}: send after reopening -> {accepted.status_code}")
    assert wrong == []


async def test_archived_conversation_refuses_owner_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    archived = await patch_conversation(client, alice, conversation["id"], {"status": "ARCHIVED"})
    assert archived.status_code == 200, archived.text
    assert_error(
        await post_message(client, alice, conversation["id"], wait=True),
        409,
        "CONVERSATION_READ_ONLY",
    )


async def test_archived_conversation_stays_readable(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "kept")
    await patch_conversation(client, alice, conversation["id"], {"status": "ARCHIVED"})
    response = await client.get(f"/messages/conversation/{conversation['id']}", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["items"]] == [message["id"]]


async def test_reactivated_conversation_accepts_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    archived = await patch_conversation(client, alice, conversation["id"], {"status": "ARCHIVED"})
    assert archived.status_code == 200, archived.text
    reopened = await patch_conversation(client, alice, conversation["id"], {"status": "ACTIVE"})
    assert reopened.status_code == 200, reopened.text
    response = await post_message(client, bob, conversation["id"], wait=True)
    assert response.status_code == 201, response.text


async def test_muted_conversation_refuses_member_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    muted = await patch_conversation(client, alice, conversation["id"], {"status": "MUTED"})
    assert muted.status_code == 200, muted.text
    assert_error(
        await post_message(client, bob, conversation["id"], wait=True), 403, "PERMISSION_DENIED"
    )


@pytest.mark.parametrize("role", ["MODERATOR", "ADMIN"])
async def test_muted_conversation_accepts_moderator_and_above_messages(
    client: httpx.AsyncClient, alice: User, bob: User, role: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, role)
    await patch_conversation(client, alice, conversation["id"], {"status": "MUTED"})
    response = await post_message(client, bob, conversation["id"], wait=True)
    assert response.status_code == 201, response.text


async def test_muted_conversation_accepts_owner_messages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await patch_conversation(client, alice, conversation["id"], {"status": "MUTED"})
    response = await post_message(client, alice, conversation["id"], wait=True)
    assert response.status_code == 201, response.text
