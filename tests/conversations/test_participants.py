"""Participants through HTTP: add, list, change, remove and leave; what former members and
non-members may still reach (nothing), and per-member flags. The audit trail of these changes
is tested in tests/audit."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support import (
    RACE_ROUNDS,
    User,
    add,
    assert_error,
    change_status,
    create_conversation,
    get_conversation,
    mark_read,
    participants,
    patch_participant,
    post_message,
    register,
    remove,
    send,
    set_role,
)

# ---------------------------------------------------------------- helpers


async def make_former(
    client: httpx.AsyncClient, owner: User, conversation_id: str, target: User, status: str
) -> None:
    """Turn `target` into a BANNED, REMOVED or LEFT participant."""
    if status == "LEFT":
        response = await remove(client, target, conversation_id, target)
    elif status == "REMOVED":
        response = await remove(client, owner, conversation_id, target)
    else:
        response = await patch_participant(
            client, owner, conversation_id, target, {"status": status}
        )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


# ---------------------------------------------------------------- add


async def test_add_answers_201_with_the_new_participants(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await add(client, alice, conversation["id"], [carol, dave])
    assert response.status_code == 201, response.text
    body = response.json()
    assert isinstance(body, list)
    assert {p["userId"]: (p["role"], p["status"]) for p in body} == {
        carol.id: ("MEMBER", "ACTIVE"),
        dave.id: ("MEMBER", "ACTIVE"),
    }
    assert all(p["conversationId"] == conversation["id"] for p in body)


async def test_added_member_gets_access(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    assert (await add(client, alice, conversation["id"], [carol])).status_code == 201
    assert (await get_conversation(client, carol, conversation["id"]))["myRole"] == "MEMBER"


async def test_added_member_starts_with_nothing_unread(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "history one")
    await send(client, alice, conversation["id"], "history two")
    response = await add(client, alice, conversation["id"], [carol])
    assert response.status_code == 201, response.text
    # Her unread count is hers (docs/permissions.md, private state); her read position shows.
    assert response.json()[0]["readSeq"] == 2
    own = (await participants(client, carol, conversation["id"]))[carol.id]
    assert own["unreadCount"] == 0
    seen = await get_conversation(client, carol, conversation["id"])
    assert seen["unreadCount"] == 0


async def test_added_member_counts_later_messages_as_unread(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "history")
    assert (await add(client, alice, conversation["id"], [carol])).status_code == 201
    await send(client, alice, conversation["id"], "news")
    seen = await get_conversation(client, carol, conversation["id"])
    assert seen["unreadCount"] == 1


async def test_member_adds_members_by_default(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await add(client, bob, conversation["id"], [carol])
    assert response.status_code == 201, response.text


async def test_owner_adds_with_admin_role(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await add(client, alice, conversation["id"], [carol], role="ADMIN")
    assert response.status_code == 201, response.text
    assert response.json()[0]["role"] == "ADMIN"


async def test_admin_adds_with_moderator_role(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    response = await add(client, bob, conversation["id"], [carol], role="MODERATOR")
    assert response.status_code == 201, response.text
    assert response.json()[0]["role"] == "MODERATOR"


@pytest.mark.parametrize(
    ("actor_role", "granted"),
    [
        ("ADMIN", "ADMIN"),
        ("MODERATOR", "MODERATOR"),
        ("MODERATOR", "ADMIN"),
        ("MEMBER", "MODERATOR"),
    ],
)
async def test_add_with_role_not_below_own_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, actor_role: str, granted: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    if actor_role != "MEMBER":
        await set_role(client, alice, conversation["id"], bob, actor_role)
    response = await add(client, bob, conversation["id"], [carol], role=granted)
    assert_error(response, 403, "PERMISSION_DENIED")
    assert carol.id not in await participants(client, alice, conversation["id"])


async def test_add_with_owner_role_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await add(client, alice, conversation["id"], [carol], role="OWNER")
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_add_without_add_flag_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    revoked = await patch_participant(
        client, alice, conversation["id"], bob, {"permissions": {"canAddParticipants": False}}
    )
    assert revoked.status_code == 200, revoked.text
    response = await add(client, bob, conversation["id"], [carol])
    assert_error(response, 403, "PERMISSION_DENIED")


async def test_muted_participant_cannot_add(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await change_status(client, alice, conversation["id"], bob, "MUTED")
    response = await add(client, bob, conversation["id"], [carol])
    assert_error(response, 403, "PERMISSION_DENIED")


async def test_add_to_archived_conversation_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    archived = await client.patch(
        f"/conversations/{conversation['id']}", json={"status": "ARCHIVED"}, headers=alice.headers
    )
    assert archived.status_code == 200, archived.text
    response = await add(client, alice, conversation["id"], [carol])
    assert_error(response, 409, "CONFLICT")


async def test_add_to_direct_is_refused(
    client: httpx.AsyncClient, alice: User, carol: User
) -> None:
    other = await register(client, "dora")
    direct = await create_conversation(client, alice, [other], type_="DIRECT")
    response = await add(client, alice, direct["id"], [carol])
    assert_error(response, 422, "INVALID_PARTICIPANTS")


async def test_add_unknown_user_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await client.post(
        f"/conversations/{conversation['id']}/participants",
        json={"userIds": [str(uuid.uuid4())]},
        headers=alice.headers,
    )
    assert_error(response, 422, "INVALID_PARTICIPANTS")


async def test_add_banned_user_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await change_status(client, alice, conversation["id"], bob, "BANNED")
    response = await add(client, alice, conversation["id"], [bob])
    assert_error(response, 409, "PARTICIPANT_BANNED")


@pytest.mark.parametrize("status", ["LEFT", "REMOVED"])
async def test_readding_former_member_reactivates_them(
    client: httpx.AsyncClient, alice: User, bob: User, status: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await make_former(client, alice, conversation["id"], bob, status)
    response = await add(client, alice, conversation["id"], [bob])
    assert response.status_code == 201, response.text
    assert response.json()[0]["status"] == "ACTIVE"
    await get_conversation(client, bob, conversation["id"])  # answers 200 (the helper asserts it)


async def test_readded_member_is_listed_once(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await make_former(client, alice, conversation["id"], bob, "REMOVED")
    assert (await add(client, alice, conversation["id"], [bob])).status_code == 201
    response = await client.get(
        f"/conversations/{conversation['id']}/participants", headers=alice.headers
    )
    user_ids = [item["userId"] for item in response.json()["items"]]
    assert sorted(user_ids) == sorted([alice.id, bob.id, carol.id])


# ---------------------------------------------------------------- list


async def test_list_shows_members_with_roles_and_users(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], carol, "MODERATOR")
    members = await participants(client, bob, conversation["id"])
    assert {uid: p["role"] for uid, p in members.items()} == {
        alice.id: "OWNER",
        bob.id: "MEMBER",
        carol.id: "MODERATOR",
    }
    assert members[bob.id]["user"]["username"] == bob.username
    assert all(p["status"] == "ACTIVE" for p in members.values())


async def test_list_pages_with_cursor(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User, erin: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol, dave, erin])
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(
            f"/conversations/{conversation['id']}/participants",
            params=params,
            headers=alice.headers,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen.extend(item["userId"] for item in page["items"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 5, "pagination does not end"
    assert pages == 3
    assert sorted(seen) == sorted(u.id for u in (alice, bob, carol, dave, erin))


@pytest.mark.parametrize("status", ["BANNED", "REMOVED", "LEFT"])
async def test_list_leaves_out_former_members(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, status: str
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await make_former(client, alice, conversation["id"], bob, status)
    assert set(await participants(client, carol, conversation["id"])) == {alice.id, carol.id}


async def test_member_cannot_list_banned(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await change_status(client, alice, conversation["id"], carol, "BANNED")
    response = await client.get(
        f"/conversations/{conversation['id']}/participants",
        params={"status": "BANNED"},
        headers=bob.headers,
    )
    assert_error(response, 403, "PERMISSION_DENIED")


async def test_moderator_lists_banned(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    await change_status(client, alice, conversation["id"], carol, "BANNED")
    banned = await participants(client, bob, conversation["id"], status="BANNED")
    assert list(banned) == [carol.id]
    assert banned[carol.id]["status"] == "BANNED"


# ---------------------------------------------------------------- muting, banning


async def test_muted_participant_can_read(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "still visible")
    await change_status(client, alice, conversation["id"], bob, "MUTED")
    response = await client.get(f"/messages/conversation/{conversation['id']}", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["items"]] == [message["id"]]


async def test_muted_participant_cannot_send(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await change_status(client, alice, conversation["id"], bob, "MUTED")
    assert_error(
        await post_message(client, bob, conversation["id"], wait=True), 403, "PERMISSION_DENIED"
    )


async def test_unmuted_participant_can_send(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await change_status(client, alice, conversation["id"], bob, "MUTED")
    await change_status(client, alice, conversation["id"], bob, "ACTIVE")
    response = await post_message(client, bob, conversation["id"], wait=True)
    assert response.status_code == 201, response.text


async def test_muting_and_unmuting_take_effect_at_once(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10000)
    cid = conversation["id"]
    wrong: list[str] = []
    # Each round: bob's access is cached by his last send, then his status flips. A stale
    # answer shows only when the next request beats the server's commit, so repeat.
    for round_ in range(RACE_ROUNDS):
        await change_status(client, alice, cid, bob, "MUTED")
        refused = await post_message(client, bob, cid, wait=False)
        if refused.status_code != 403:
            wrong.append(f"round {round_}: send after muting -> {refused.status_code}")
        await change_status(client, alice, cid, bob, "ACTIVE")
        accepted = await post_message(client, bob, cid, wait=False)
        if accepted.status_code != 202:
            wrong.append(f"round {round_}: send after unmuting -> {accepted.status_code}")
    assert wrong == []


async def test_unbanned_user_regains_access(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await change_status(client, alice, conversation["id"], bob, "BANNED")
    await change_status(client, alice, conversation["id"], bob, "ACTIVE")
    await get_conversation(client, bob, conversation["id"])  # answers 200 (the helper asserts it)


async def test_status_left_via_patch_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(client, alice, conversation["id"], bob, {"status": "LEFT"})
    assert_error(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("status", ["REMOVED", "LEFT"])
async def test_reactivating_former_member_via_patch_is_conflict(
    client: httpx.AsyncClient, alice: User, bob: User, status: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await make_former(client, alice, conversation["id"], bob, status)
    response = await patch_participant(client, alice, conversation["id"], bob, {"status": "ACTIVE"})
    assert_error(response, 409, "CONFLICT")


async def test_patch_of_someone_who_never_was_member_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(
        client, alice, conversation["id"], mallory, {"status": "MUTED"}
    )
    assert_error(response, 404, "PARTICIPANT_NOT_FOUND")


# ---------------------------------------------------------------- roles


async def test_owner_grants_admin(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(client, alice, conversation["id"], bob, {"role": "ADMIN"})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "ADMIN"


async def test_admin_cannot_grant_admin(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    response = await patch_participant(client, bob, conversation["id"], carol, {"role": "ADMIN"})
    assert_error(response, 403, "PERMISSION_DENIED")


async def test_owner_hands_over_ownership(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(client, alice, conversation["id"], bob, {"role": "OWNER"})
    assert response.status_code == 200, response.text
    roles = {
        uid: p["role"] for uid, p in (await participants(client, bob, conversation["id"])).items()
    }
    assert roles == {alice.id: "ADMIN", bob.id: "OWNER"}


async def test_admin_cannot_hand_over_ownership(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    response = await patch_participant(client, bob, conversation["id"], carol, {"role": "OWNER"})
    assert_error(response, 403, "PERMISSION_DENIED")


async def test_admin_cannot_change_own_role(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    response = await patch_participant(client, bob, conversation["id"], bob, {"role": "MEMBER"})
    assert_error(response, 403, "PERMISSION_DENIED")


# ---------------------------------------------------------------- permission flags


async def test_permission_flag_override_shows_on_participant(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(
        client, alice, conversation["id"], bob, {"permissions": {"canUploadFiles": False}}
    )
    assert response.status_code == 200, response.text
    permissions = response.json()["permissions"]
    assert permissions["canUploadFiles"] is False
    assert permissions["canSendMessages"] is True
    assert permissions["canAddParticipants"] is True


async def test_permission_flag_null_restores_default(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await patch_participant(
        client, alice, conversation["id"], bob, {"permissions": {"canReact": False}}
    )
    response = await patch_participant(
        client, alice, conversation["id"], bob, {"permissions": {"canReact": None}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["permissions"]["canReact"] is True


async def test_unknown_permission_flag_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(
        client, alice, conversation["id"], bob, {"permissions": {"canFly": True}}
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_member_without_send_flag_cannot_send(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    revoked = await patch_participant(
        client, alice, conversation["id"], bob, {"permissions": {"canSendMessages": False}}
    )
    assert revoked.status_code == 200, revoked.text
    assert_error(
        await post_message(client, bob, conversation["id"], wait=True), 403, "PERMISSION_DENIED"
    )


async def test_member_with_send_flag_restored_can_send(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    for value in (False, None):
        response = await patch_participant(
            client, alice, conversation["id"], bob, {"permissions": {"canSendMessages": value}}
        )
        assert response.status_code == 200, response.text
    response = await post_message(client, bob, conversation["id"], wait=True)
    assert response.status_code == 201, response.text


# ---------------------------------------------------------------- notification settings


async def test_member_sets_own_notification_settings(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(
        client, bob, conversation["id"], bob, {"notificationSettings": {"level": "NONE"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["notificationSettings"] == {
        "level": "NONE",
        "mutedUntil": None,
        "keywords": [],
    }


async def test_notification_settings_of_others_are_refused(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await patch_participant(
        client, alice, conversation["id"], bob, {"notificationSettings": {"level": "NONE"}}
    )
    assert_error(response, 403, "PERMISSION_DENIED")


# ---------------------------------------------------------------- remove, leave


async def test_member_leaves(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await remove(client, bob, conversation["id"], bob)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "LEFT"


async def test_owner_cannot_leave_while_others_remain(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await remove(client, alice, conversation["id"], alice)
    assert_error(response, 409, "OWNER_MUST_TRANSFER")
    await get_conversation(client, alice, conversation["id"])  # answers 200 (the helper asserts it)


async def test_owner_leaves_after_handing_over(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "OWNER")
    response = await remove(client, alice, conversation["id"], alice)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "LEFT"


async def test_owner_alone_may_leave(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await make_former(client, alice, conversation["id"], bob, "REMOVED")
    response = await remove(client, alice, conversation["id"], alice)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "LEFT"


async def test_removed_member_shows_removed_status(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await remove(client, alice, conversation["id"], bob)
    assert response.status_code == 200, response.text
    assert (response.json()["userId"], response.json()["status"]) == (bob.id, "REMOVED")


async def test_nobody_is_removed_from_direct(client: httpx.AsyncClient, alice: User) -> None:
    other = await register(client, "dora")
    direct = await create_conversation(client, alice, [other], type_="DIRECT")
    response = await remove(client, alice, direct["id"], other)
    assert_error(response, 403, "PERMISSION_DENIED")


async def test_remove_of_someone_who_never_was_member_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await remove(client, alice, conversation["id"], mallory)
    assert_error(response, 404, "PARTICIPANT_NOT_FOUND")


async def test_removing_former_member_again_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await make_former(client, alice, conversation["id"], bob, "REMOVED")
    response = await remove(client, alice, conversation["id"], bob)
    assert_error(response, 404, "PARTICIPANT_NOT_FOUND")


# ---------------------------------------------------------------- no access for outsiders

ENDPOINTS = [
    "get_conversation",
    "update_conversation",
    "list_participants",
    "add_participants",
    "update_participant",
    "remove_participant",
    "list_messages",
    "mark_read",
    "send_message",
    "read_audit",
]


async def call_endpoint(
    client: httpx.AsyncClient,
    endpoint: str,
    caller: User,
    conversation_id: str,
    message_id: str,
    member: User,
    newcomer: User,
) -> httpx.Response:
    """One request per conversation endpoint; each would succeed for the owner."""
    base = f"/conversations/{conversation_id}"
    headers = caller.headers
    if endpoint == "get_conversation":
        return await client.get(base, headers=headers)
    if endpoint == "update_conversation":
        return await client.patch(base, json={"name": "taken over"}, headers=headers)
    if endpoint == "list_participants":
        return await client.get(f"{base}/participants", headers=headers)
    if endpoint == "add_participants":
        return await client.post(
            f"{base}/participants", json={"userIds": [newcomer.id]}, headers=headers
        )
    if endpoint == "update_participant":
        return await client.patch(
            f"{base}/participants/{member.id}", json={"status": "MUTED"}, headers=headers
        )
    if endpoint == "remove_participant":
        return await client.delete(f"{base}/participants/{member.id}", headers=headers)
    if endpoint == "list_messages":
        return await client.get(f"/messages/conversation/{conversation_id}", headers=headers)
    if endpoint == "mark_read":
        return await mark_read(client, caller, conversation_id, message_id)
    if endpoint == "send_message":
        return await post_message(client, caller, conversation_id, wait=True)
    if endpoint == "read_audit":
        return await client.get(
            "/audit", params={"conversationId": conversation_id}, headers=headers
        )
    raise AssertionError(endpoint)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_non_member_gets_not_found(
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    carol: User,
    mallory: User,
    endpoint: str,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "private")
    response = await call_endpoint(
        client, endpoint, mallory, conversation["id"], message["id"], bob, carol
    )
    assert_error(response, 404, "CONVERSATION_NOT_FOUND")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("status", ["BANNED", "REMOVED", "LEFT"])
async def test_former_member_gets_not_found(
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    status: str,
    endpoint: str,
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    # Bob was an admin, so nothing but his lost membership stands in his way.
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    message = await send(client, alice, conversation["id"], "after he is gone")
    await make_former(client, alice, conversation["id"], bob, status)
    response = await call_endpoint(
        client, endpoint, bob, conversation["id"], message["id"], carol, dave
    )
    assert_error(response, 404, "CONVERSATION_NOT_FOUND")


@pytest.mark.parametrize("status", ["BANNED", "REMOVED", "LEFT"])
async def test_losing_and_regaining_membership_take_effect_at_once(
    client: httpx.AsyncClient, alice: User, bob: User, status: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    messages_url = f"/messages/conversation/{cid}"
    wrong: list[str] = []
    # Each round: bob's access is cached by his last read, then his membership flips. A stale
    # answer shows only when the next request beats the server's commit, so repeat.
    for round_ in range(RACE_ROUNDS):
        await make_former(client, alice, cid, bob, status)
        gone = await client.get(messages_url, headers=bob.headers)
        if gone.status_code != 404:
            wrong.append(f"round {round_}: read after {status} -> {gone.status_code}")
        if status == "BANNED":
            await change_status(client, alice, cid, bob, "ACTIVE")
        else:
            assert (await add(client, alice, cid, [bob])).status_code == 201
        back = await client.get(messages_url, headers=bob.headers)
        if back.status_code != 200:
            wrong.append(f"round {round_}: read after return -> {back.status_code}")
    assert wrong == []
