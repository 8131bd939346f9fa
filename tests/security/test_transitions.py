"""Role and status changes keep the conversation governable (issue 9, point 6).

A status changes only along the permission table's transitions (a former member comes back
only by being added again), roles change only for members who see the conversation, and
ownership goes only to an ACTIVE member. Typing follows the send gate (a member who may not
send is not announced as typing), and `typing_stop` is throttled like `typing_start`.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.realtime.sockets import Connect, Recorder
from tests.support import (
    User,
    assert_error,
    change_status,
    create_conversation,
    participants,
    patch_participant,
    remove,
    send,
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


@pytest.mark.parametrize("former", ["BANNED", "LEFT", "REMOVED"])
async def test_flags_change_only_for_members_who_see_the_conversation(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, former: str
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await _put_in(client, alice, conversation["id"], bob, former)
    flags = {"permissions": {"canSendMessages": False}}

    refused = await patch_participant(client, alice, conversation["id"], bob, flags)
    changed = await patch_participant(client, alice, conversation["id"], carol, flags)

    assert assert_error(refused, 409, "CONFLICT")["details"]["targetStatus"] == former
    listed = await participants(client, alice, conversation["id"], status=former)
    assert listed[bob.id]["permissions"]["canSendMessages"] is True
    assert changed.status_code == 200, changed.text
    assert changed.json()["permissions"]["canSendMessages"] is False


# ---------------------------------------------------------------- typing


async def _typing_until(reader: Recorder, marker_id: str) -> list[dict[str, object]]:
    """The `user_typing` events `reader` gets before the `new_message` `marker_id`."""
    seen: list[dict[str, object]] = []
    while True:
        event, data = await reader.next()
        if event == "new_message" and data["message"]["id"] == marker_id:
            return seen
        if event == "user_typing":
            seen.append(data)


@pytest.mark.parametrize("how", ["member-muted", "flag-off", "conversation-muted"])
async def test_a_member_who_may_not_send_is_not_announced_typing(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, how: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    if how == "member-muted":
        await change_status(client, alice, cid, bob, "MUTED")
    elif how == "flag-off":
        response = await patch_participant(
            client, alice, cid, bob, {"permissions": {"canSendMessages": False}}
        )
        assert response.status_code == 200, response.text
    else:
        response = await client.patch(
            f"/conversations/{cid}", json={"status": "MUTED"}, headers=alice.headers
        )
        assert response.status_code == 200, response.text
    typist, reader = await connect(bob), await connect(alice)

    ack = await typist.call("typing_start", {"conversationId": cid})
    marker = await send(client, alice, cid, "after the muted typing")

    assert ack["ok"] is False and ack["error"]["code"] == "PERMISSION_DENIED", ack
    assert await _typing_until(reader, marker["id"]) == []


async def test_alternating_start_and_stop_is_throttled(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    ref = {"conversationId": conversation["id"]}
    typist, reader = await connect(alice), await connect(bob)

    began = time.monotonic()
    for index in range(200):
        ack = await typist.call("typing_stop" if index % 2 else "typing_start", ref)
        assert ack == {"ok": True}, ack
    elapsed = time.monotonic() - began
    marker = await send(client, alice, conversation["id"], "done typing")

    seen = await _typing_until(reader, marker["id"])
    # At most one start and one stop per 2 s window (the throttle) the burst touched.
    assert 2 <= len(seen) <= 2 * (int(elapsed // 2) + 2), (len(seen), elapsed)
    assert seen[0]["isTyping"] is True and seen[-1]["isTyping"] is False
    assert all(e["userId"] == alice.id for e in seen)


async def test_a_throttled_burst_still_ends_in_the_typists_state(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    # The test server runs with TYPING_TIMEOUT=2s: the last start expires by itself.
    conversation = await create_conversation(client, alice, [bob])
    ref = {"conversationId": conversation["id"]}
    typist, reader = await connect(alice), await connect(bob)

    began = time.monotonic()
    for index in range(41):  # ends with a start
        await typist.call("typing_stop" if index % 2 else "typing_start", ref)
    elapsed = time.monotonic() - began
    marker = await send(client, alice, conversation["id"], "still typing")

    seen = await _typing_until(reader, marker["id"])
    assert len(seen) <= 2 * (int(elapsed // 2) + 2), (len(seen), elapsed)
    if seen[-1]["isTyping"] is not True:
        # The start that the throttle held back reaches the room when its window ends.
        assert (await reader.next_of("user_typing"))["isTyping"] is True
    ended = await reader.next_of("user_typing")
    assert (ended["userId"], ended["isTyping"]) == (alice.id, False)
