"""The permission table, checked through HTTP: every actor role against every target role and
every role-gated action. The expected outcome comes from the table below (the documented rules),
not from the server's own permissions module."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import User, assert_error, create_conversation, set_role

RANK = {"MEMBER": 0, "MODERATOR": 1, "ADMIN": 2, "OWNER": 3}

# action: (least role that may do it, whether the actor must outrank the target)
TABLE: dict[str, tuple[str, bool]] = {
    "remove": ("MODERATOR", True),
    "ban": ("MODERATOR", True),
    "mute": ("MODERATOR", True),
    "promote_to_moderator": ("ADMIN", True),  # and only roles below one's own are granted
    "change_permission_flag": ("ADMIN", True),
    "edit_settings": ("ADMIN", False),  # the conversation's settings: no target involved
}
GRANTED_ROLE = "MODERATOR"

ACTORS = ["OWNER", "ADMIN", "MODERATOR", "MEMBER"]
TARGETS = ["ADMIN", "MODERATOR", "MEMBER"]


def allowed(actor: str, target: str, action: str) -> bool:
    least, needs_higher_rank = TABLE[action]
    if RANK[actor] < RANK[least]:
        return False
    if needs_higher_rank and RANK[actor] <= RANK[target]:
        return False
    return not (action == "promote_to_moderator" and RANK[actor] <= RANK[GRANTED_ROLE])


def cases() -> list[Any]:
    return [
        pytest.param(actor, target, action, id=f"{action}-{actor}-on-{target}")
        for action in TABLE
        for actor in ACTORS
        for target in TARGETS
    ]


async def act(
    client: httpx.AsyncClient, actor: User, conversation_id: str, target: User, action: str
) -> httpx.Response:
    participant = f"/conversations/{conversation_id}/participants/{target.id}"
    if action == "remove":
        return await client.delete(participant, headers=actor.headers)
    body: dict[str, Any]
    if action == "edit_settings":
        return await client.patch(
            f"/conversations/{conversation_id}",
            json={"settings": {"readReceipts": False}},
            headers=actor.headers,
        )
    if action == "ban":
        body = {"status": "BANNED"}
    elif action == "mute":
        body = {"status": "MUTED"}
    elif action == "promote_to_moderator":
        body = {"role": GRANTED_ROLE}
    elif action == "change_permission_flag":
        body = {"permissions": {"canSendMessages": False}}
    else:
        raise AssertionError(action)
    return await client.patch(participant, json=body, headers=actor.headers)


def assert_effect(body: dict[str, Any], action: str) -> None:
    if action == "remove":
        assert body["status"] == "REMOVED"
    elif action == "ban":
        assert body["status"] == "BANNED"
    elif action == "mute":
        assert body["status"] == "MUTED"
    elif action == "promote_to_moderator":
        assert body["role"] == GRANTED_ROLE
    elif action == "change_permission_flag":
        assert body["permissions"]["canSendMessages"] is False
    else:
        assert body["settings"]["readReceipts"] is False


@pytest.mark.parametrize(("actor_role", "target_role", "action"), cases())
async def test_permission_table(
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    carol: User,
    actor_role: str,
    target_role: str,
    action: str,
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    cid = conversation["id"]
    actor, target = (alice if actor_role == "OWNER" else bob), carol
    if actor_role in ("ADMIN", "MODERATOR"):
        await set_role(client, alice, cid, bob, actor_role)
    if target_role != "MEMBER":
        await set_role(client, alice, cid, carol, target_role)

    response = await act(client, actor, cid, target, action)

    if allowed(actor_role, target_role, action):
        assert response.status_code == 200, response.text
        assert_effect(response.json(), action)
        return
    assert_error(response, 403, "PERMISSION_DENIED")
    members = await client.get(f"/conversations/{cid}/participants", headers=alice.headers)
    unchanged = {p["userId"]: p for p in members.json()["items"]}[target.id]
    assert (unchanged["role"], unchanged["status"]) == (target_role, "ACTIVE")
    assert unchanged["permissions"]["canSendMessages"] is True
    seen = await client.get(f"/conversations/{cid}", headers=alice.headers)
    assert seen.json()["settings"]["readReceipts"] is True
