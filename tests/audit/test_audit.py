"""The audit trail (GET /audit): who may read it, its order, and the entry that each
participant or conversation change and each message deletion leaves (none for a refused
change)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import (
    User,
    add,
    assert_error,
    change_status,
    create_conversation,
    delete_message,
    patch_participant,
    remove,
    send,
    set_role,
)


async def audit(client: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/audit", params={"limit": 200, **params}, headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_audit_records_creation(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    entries = await audit(client, alice, conversationId=conversation["id"])
    assert sorted((e["action"], e["targetUserId"]) for e in entries) == sorted(
        [
            ("conversation.created", None),
            ("participant.added", alice.id),
            ("participant.added", bob.id),
            ("participant.added", carol.id),
        ]
    )
    assert all(e["actorId"] == alice.id for e in entries)
    assert all(e["conversationId"] == conversation["id"] for e in entries)


async def _change(
    kind: str, client: httpx.AsyncClient, cid: str, alice: User, bob: User, carol: User, dave: User
) -> tuple[User, str | None]:
    """Make one change of `kind`; returns (actor, target user id)."""
    if kind == "participant.added":
        assert (await add(client, alice, cid, [dave])).status_code == 201
        return alice, dave.id
    if kind == "participant.removed":
        assert (await remove(client, alice, cid, bob)).status_code == 200
        return alice, bob.id
    if kind == "participant.left":
        assert (await remove(client, bob, cid, bob)).status_code == 200
        return bob, bob.id
    if kind == "participant.role_changed":
        await set_role(client, alice, cid, bob, "MODERATOR")
        return alice, bob.id
    if kind in ("participant.status_changed:BANNED", "participant.status_changed:MUTED"):
        await change_status(client, alice, cid, bob, kind.split(":")[1])
        return alice, bob.id
    if kind == "participant.permissions_changed":
        response = await patch_participant(
            client, alice, cid, bob, {"permissions": {"canPinMessages": True}}
        )
        assert response.status_code == 200, response.text
        return alice, bob.id
    if kind == "conversation.updated":
        response = await client.patch(
            f"/conversations/{cid}", json={"description": "new"}, headers=alice.headers
        )
        assert response.status_code == 200, response.text
        return alice, None
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "participant.added",
        "participant.removed",
        "participant.left",
        "participant.role_changed",
        "participant.status_changed:BANNED",
        "participant.status_changed:MUTED",
        "participant.permissions_changed",
        "conversation.updated",
    ],
)
async def test_change_writes_one_audit_entry(
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    kind: str,
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    before = await audit(client, alice, conversationId=conversation["id"])
    actor, target_id = await _change(kind, client, conversation["id"], alice, bob, carol, dave)
    after = await audit(client, alice, conversationId=conversation["id"])
    assert len(after) == len(before) + 1
    newest = after[0]
    assert newest["action"] == kind.split(":")[0]
    assert newest["actorId"] == actor.id
    assert newest["targetUserId"] == target_id
    assert after[1:] == before


async def test_audit_lists_newest_first(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    assert (await remove(client, alice, conversation["id"], carol)).status_code == 200
    entries = await audit(client, alice, conversationId=conversation["id"])
    assert [e["action"] for e in entries[:2]] == [
        "participant.removed",
        "participant.role_changed",
    ]
    stamps = [e["createdAt"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)


async def test_refused_change_writes_no_audit_entry(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    before = await audit(client, alice, conversationId=conversation["id"])
    response = await patch_participant(client, bob, conversation["id"], carol, {"status": "BANNED"})
    assert_error(response, 403, "PERMISSION_DENIED")
    assert await audit(client, alice, conversationId=conversation["id"]) == before


async def test_ownership_handover_audits_both_role_changes(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "OWNER")
    entries = await audit(client, bob, conversationId=conversation["id"])
    changes = {
        (e["targetUserId"], e["details"].get("to"))
        for e in entries
        if e["action"] == "participant.role_changed"
    }
    assert changes == {(bob.id, "OWNER"), (alice.id, "ADMIN")}


async def test_admin_reads_audit(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    entries = await audit(client, bob, conversationId=conversation["id"])
    assert entries[0]["action"] == "participant.role_changed"


@pytest.mark.parametrize("role", ["MODERATOR", "MEMBER"])
async def test_below_admin_cannot_read_audit(
    client: httpx.AsyncClient, alice: User, bob: User, role: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    if role != "MEMBER":
        await set_role(client, alice, conversation["id"], bob, role)
    response = await client.get(
        "/audit", params={"conversationId": conversation["id"]}, headers=bob.headers
    )
    assert_error(response, 403, "PERMISSION_DENIED")


async def test_audit_by_own_actor_id_lists_own_actions(
    client: httpx.AsyncClient, erin: User, bob: User
) -> None:
    conversation = await create_conversation(client, erin, [bob])
    response = await client.patch(
        f"/conversations/{conversation['id']}", json={"name": "erin's"}, headers=erin.headers
    )
    assert response.status_code == 200, response.text
    entries = await audit(client, erin, actorId=erin.id)
    assert (entries[0]["action"], entries[0]["conversationId"]) == (
        "conversation.updated",
        conversation["id"],
    )
    assert {e["actorId"] for e in entries} == {erin.id}


async def test_audit_without_conversation_lists_only_entries_about_the_caller(
    client: httpx.AsyncClient, alice: User
) -> None:
    entries = await audit(client, alice)
    assert entries
    assert all(alice.id in (e["actorId"], e["targetUserId"]) for e in entries)


async def test_delete_is_audited(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    sent = await send(client, carol, conversation["id"], "audited")
    assert (await delete_message(client, bob, sent["id"])).status_code == 200

    response = await client.get(
        "/audit", params={"conversationId": conversation["id"]}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    entries = [e for e in response.json()["items"] if e["action"] == "message.deleted"]
    assert [(e["messageId"], e["actorId"], e["targetUserId"]) for e in entries] == [
        (sent["id"], bob.id, carol.id)
    ]
