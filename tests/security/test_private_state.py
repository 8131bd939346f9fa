"""Private state stays private: what members see of each other.

Others see a member's role, status, join time and public user, and their read position only
where the conversation's `readReceipts` is on; notification settings and unread count are the
member's own; permission flags are seen by the member and by those who may act on them.
The `participant_*` events follow the same rule: the conversation's room gets the public view,
the member's own sockets the full record.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.realtime.sockets import Connect
from tests.support import (
    User,
    create_conversation,
    mark_read,
    participants,
    patch_participant,
    register,
    send,
)

PRIVATE_SETTINGS = {"level": "MENTIONS", "mutedUntil": "2030-01-01T00:00:00.000Z"}
READ_STATE = ("readSeq", "deliveredSeq", "lastReadAt", "lastReadMessageId")


async def _conversation_with_state(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, *, receipts: bool
) -> str:
    """Alice's group with Bob and Carol; Bob has notification settings and has read."""
    conversation = await create_conversation(
        client, alice, [bob, carol], settings={"readReceipts": receipts}
    )
    cid = str(conversation["id"])
    message = await send(client, alice, cid, "hello")
    assert (await mark_read(client, bob, cid, message["id"])).status_code == 200
    response = await patch_participant(
        client, bob, cid, bob, {"notificationSettings": PRIVATE_SETTINGS}
    )
    assert response.status_code == 200, response.text
    return cid


def _assert_public_only(record: dict[str, Any], *, read_state: bool) -> None:
    assert record["notificationSettings"] is None, record
    assert record["unreadCount"] is None, record
    for name in READ_STATE:
        if read_state:
            assert record[name] is not None, (name, record)
        else:
            assert record[name] is None, (name, record)


async def test_members_do_not_see_others_settings_or_read_state_when_receipts_are_off(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    cid = await _conversation_with_state(client, alice, bob, carol, receipts=False)

    seen_by_carol = (await participants(client, carol, cid))[bob.id]

    _assert_public_only(seen_by_carol, read_state=False)
    assert seen_by_carol["permissions"] is None
    assert (seen_by_carol["role"], seen_by_carol["status"]) == ("MEMBER", "ACTIVE")
    assert seen_by_carol["joinedAt"] and seen_by_carol["user"]["id"] == bob.id


async def test_read_position_is_shown_to_others_where_receipts_are_on(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    cid = await _conversation_with_state(client, alice, bob, carol, receipts=True)

    seen_by_carol = (await participants(client, carol, cid))[bob.id]

    _assert_public_only(seen_by_carol, read_state=True)
    assert seen_by_carol["readSeq"] == 1


async def test_a_member_sees_their_own_full_record(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    cid = await _conversation_with_state(client, alice, bob, carol, receipts=False)

    own = (await participants(client, bob, cid))[bob.id]

    assert own["notificationSettings"] == {**PRIVATE_SETTINGS, "keywords": []}
    assert (own["readSeq"], own["unreadCount"]) == (1, 0)
    assert own["lastReadAt"] is not None and own["lastReadMessageId"] is not None
    assert own["permissions"]["canSendMessages"] is True


async def test_flags_are_seen_by_those_who_may_act_on_the_member(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User, dave: User
) -> None:
    cid = await _conversation_with_state(client, alice, bob, carol, receipts=False)
    added = await client.post(
        f"/conversations/{cid}/participants",
        json={"userIds": [dave.id], "role": "MODERATOR"},
        headers=alice.headers,
    )
    assert added.status_code == 201, added.text

    by_owner = await participants(client, alice, cid)
    by_moderator = await participants(client, dave, cid)
    by_member = await participants(client, carol, cid)

    assert by_owner[bob.id]["permissions"]["canSendMessages"] is True
    assert by_owner[dave.id]["permissions"]["canPinMessages"] is True
    assert by_moderator[bob.id]["permissions"]["canSendMessages"] is True
    assert by_moderator[alice.id]["permissions"] is None  # a moderator does not act on the owner
    assert by_member[dave.id]["permissions"] is None
    # Nobody but Bob sees his settings, the owner included.
    assert by_owner[bob.id]["notificationSettings"] is None
    assert by_owner[bob.id]["unreadCount"] is None


async def test_patch_on_another_member_answers_without_their_private_fields(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    cid = await _conversation_with_state(client, alice, bob, carol, receipts=False)

    response = await patch_participant(client, alice, cid, bob, {"role": "MODERATOR"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "MODERATOR"
    _assert_public_only(body, read_state=False)
    assert body["permissions"]["canPinMessages"] is True  # the owner may act on Bob


async def test_participant_event_is_public_to_the_room_and_full_to_the_member(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    cid = await _conversation_with_state(client, alice, bob, carol, receipts=False)
    carol_socket, bob_socket = await connect(carol), await connect(bob)

    response = await patch_participant(
        client, alice, cid, bob, {"permissions": {"canReact": False}}
    )
    assert response.status_code == 200, response.text

    to_room = (await carol_socket.next_of("participant_updated"))["participant"]
    _assert_public_only(to_room, read_state=False)
    assert to_room["permissions"] is None
    assert to_room["userId"] == bob.id
    own = (await bob_socket.next_of("participant_updated"))["participant"]
    assert own["notificationSettings"] == {**PRIVATE_SETTINGS, "keywords": []}
    assert own["permissions"]["canReact"] is False
    assert own["unreadCount"] == 0
    # Bob's sockets hear of the change once: the next event is the next message.
    await send(client, alice, cid, "after")
    assert (await bob_socket.next())[0] == "new_message"


async def test_added_member_event_is_public_to_the_room(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob], settings={"readReceipts": False})
    cid = str(conversation["id"])
    bob_socket = await connect(bob)

    added = await client.post(
        f"/conversations/{cid}/participants", json={"userIds": [carol.id]}, headers=alice.headers
    )
    assert added.status_code == 201, added.text

    to_room = (await bob_socket.next_of("participant_added"))["participant"]
    assert to_room["userId"] == carol.id
    _assert_public_only(to_room, read_state=False)
    assert to_room["permissions"] is None


# ---------------------------------------------------------------- people search


async def _found(client: httpx.AsyncClient, viewer: User, user: User) -> dict[str, Any]:
    response = await client.get("/users", params={"q": user.username}, headers=viewer.headers)
    assert response.status_code == 200, response.text
    (found,) = [item for item in response.json()["items"] if item["id"] == user.id]
    return dict(found)


async def test_search_shows_presence_only_to_people_who_share_a_conversation(
    connect: Connect, client: httpx.AsyncClient
) -> None:
    frank, grace = await register(client, "frank"), await register(client, "grace")
    stranger = await register(client, "stranger")
    await create_conversation(client, frank, [grace], "DIRECT")
    await connect(frank)

    by_contact = await _found(client, grace, frank)
    by_stranger = await _found(client, stranger, frank)
    by_self = await _found(client, frank, frank)

    assert by_contact["status"] == "ONLINE" and by_self["status"] == "ONLINE"
    assert (by_stranger["status"], by_stranger["lastSeenAt"]) == (None, None)
    assert by_stranger["displayName"] == by_contact["displayName"]  # the public fields stay
