"""Role and status changes keep the conversation governable (issue 9, point 6).

A status changes only along the permission table's transitions (a former member comes back
only by being added again), roles change only for members who see the conversation, and
ownership goes only to an ACTIVE member.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support import (
    User,
    assert_error,
    change_status,
    create_conversation,
    participants,
    patch_participant,
    remove,
    set_role,
)

# The documented transitions (docs/permissions.md): from -> the statuses PATCH may set.
# Setting the status a member already has changes nothing and is answered 200.
TRANSITIONS = {
    "ACTIVE": {"MUTED", "BANNED", "REMOVED"},
    "MUTED": {"ACTIVE", "BANNED", "REMOVED"},
    "BANNED": {"ACTIVE", "REMOVED"},
    "LEFT": set(),
    "REMOVED": set(),
}
SETTABLE = ["ACTIVE", "MUTED", "BANNED", "REMOVED"]


async def _put_in(
    client: httpx.AsyncClient, owner: User, conversation_id: str, member: User, status: str
) -> None:
    """Bring `member` (ACTIVE) to `status` the way one gets there."""
    if status == "LEFT":
        response = await remove(client, member, conversation_id, member)
    elif status == "REMOVED":
        response = await remove(client, owner, conversation_id, member)
    elif status != "ACTIVE":
        response = await patch_participant(
            client, owner, conversation_id, member, {"status": status}
        )
    else:
        return
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


async def _status_of(
    client: httpx.AsyncClient, owner: User, conversation_id: str, member: User, status: str
) -> str:
    listed = await participants(client, owner, conversation_id, status=status)
    return str(listed[member.id]["status"]) if member.id in listed else "elsewhere"


# ---------------------------------------------------------------- statuses


async def test_status_changes_follow_the_transition_table(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    wrong: list[str] = []
    for old, allowed in TRANSITIONS.items():
        for new in SETTABLE:
            conversation = await create_conversation(client, alice, [bob])
            await _put_in(client, alice, conversation["id"], bob, old)
            response = await patch_participant(
                client, alice, conversation["id"], bob, {"status": new}
            )
            expected = 200 if new == old or new in allowed else 409
            if response.status_code != expected:
                wrong.append(f"{old} -> {new}: {response.status_code}, expected {expected}")
            elif expected == 409:
                body = assert_error(response, 409, "CONFLICT")
                assert body["details"]["from"] == old and body["details"]["to"] == new, body
                still = await _status_of(client, alice, conversation["id"], bob, old)
                if still != old:
                    wrong.append(f"{old} -> {new}: refused, but the status is now {still}")
            elif response.json()["status"] != new:
                wrong.append(f"{old} -> {new}: answered {response.json()['status']}")
    assert wrong == []


@pytest.mark.parametrize("former", ["LEFT", "REMOVED"])
async def test_a_former_member_comes_back_only_by_being_added(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, former: str
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], carol, "MODERATOR")
    await _put_in(client, alice, conversation["id"], bob, former)

    # The way around the add checks: mute (or ban, then unban) the former member.
    for status in ("MUTED", "BANNED"):
        refused = await patch_participant(
            client, carol, conversation["id"], bob, {"status": status}
        )
        assert_error(refused, 409, "CONFLICT")
    gone = await client.get(f"/conversations/{conversation['id']}", headers=bob.headers)
    assert_error(gone, 404, "CONVERSATION_NOT_FOUND")

    added = await client.post(
        f"/conversations/{conversation['id']}/participants",
        json={"userIds": [bob.id]},
        headers=carol.headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()[0]["status"] == "ACTIVE"


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("status", ["MUTED", "BANNED", "LEFT", "REMOVED"])
async def test_ownership_goes_only_to_an_active_member(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, status: str
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await _put_in(client, alice, conversation["id"], bob, status)

    refused = await patch_participant(client, alice, conversation["id"], bob, {"role": "OWNER"})

    body = assert_error(refused, 409, "CONFLICT")
    assert body["details"]["targetStatus"] == status
    members = await participants(client, carol, conversation["id"])
    assert members[alice.id]["role"] == "OWNER"
    assert [m["userId"] for m in members.values() if m["role"] == "OWNER"] == [alice.id]


@pytest.mark.parametrize("former", ["BANNED", "LEFT", "REMOVED"])
async def test_roles_change_only_for_members_who_see_the_conversation(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, former: str
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await change_status(client, alice, conversation["id"], carol, "MUTED")
    await _put_in(client, alice, conversation["id"], bob, former)

    refused = await patch_participant(client, alice, conversation["id"], bob, {"role": "ADMIN"})
    promoted = await patch_participant(
        client, alice, conversation["id"], carol, {"role": "MODERATOR"}
    )

    assert assert_error(refused, 409, "CONFLICT")["details"]["targetStatus"] == former
    assert await _status_of(client, alice, conversation["id"], bob, former) == former
    listed = await participants(client, alice, conversation["id"], status=former)
    assert listed[bob.id]["role"] == "MEMBER"
    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["role"], promoted.json()["status"]) == ("MODERATOR", "MUTED")
