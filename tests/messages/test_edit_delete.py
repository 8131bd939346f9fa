"""Editing (sender only, versions kept) and soft deleting (sender, or moderators over lower
roles)."""

from __future__ import annotations

import httpx

from tests.support import (
    User,
    assert_error,
    create_conversation,
    delete_message,
    get_message,
    read_all,
    send,
    set_role,
)

MAX_MESSAGE_LENGTH = 10_000


async def _edit(
    client: httpx.AsyncClient, user: User, message_id: str, content: str
) -> httpx.Response:
    return await client.put(
        f"/messages/{message_id}", json={"content": content}, headers=user.headers
    )


# ---------------------------------------------------------------- edit


async def test_sender_edits_message(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "frist")

    response = await _edit(client, alice, sent["id"], "first")

    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["id"] == sent["id"]
    assert edited["content"] == "first"
    assert edited["status"] == "EDITED"
    assert edited["version"] == sent["version"] + 1
    assert edited["editedAt"] is not None
    assert edited["seq"] == sent["seq"]


async def test_edit_is_what_members_read(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "frist")
    assert (await _edit(client, alice, sent["id"], "first")).status_code == 200

    stored = await read_all(client, bob, conversation["id"])

    assert [(m["id"], m["content"], m["status"]) for m in stored] == [
        (sent["id"], "first", "EDITED")
    ]


async def test_other_member_cannot_edit(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "mine")

    response = await _edit(client, bob, sent["id"], "yours")

    assert_error(response, 403, "PERMISSION_DENIED")


async def test_owner_cannot_edit_a_members_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, bob, conversation["id"], "bob's words")

    response = await _edit(client, alice, sent["id"], "alice's words")

    assert_error(response, 403, "PERMISSION_DENIED")


async def test_refused_edit_changes_nothing(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "mine")
    assert (await _edit(client, bob, sent["id"], "yours")).status_code == 403

    assert await get_message(client, alice, sent["id"]) == sent


async def test_history_lists_versions_oldest_first(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "one")
    assert (await _edit(client, alice, sent["id"], "two")).status_code == 200
    assert (await _edit(client, alice, sent["id"], "three")).status_code == 200

    response = await client.get(f"/messages/{sent['id']}/history", headers=bob.headers)

    assert response.status_code == 200, response.text
    history = response.json()
    assert history["messageId"] == sent["id"]
    assert [(v["version"], v["content"], v["current"]) for v in history["items"]] == [
        (1, "one", False),
        (2, "two", False),
        (3, "three", True),
    ]


async def test_unedited_message_has_one_current_version(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "only")

    response = await client.get(f"/messages/{sent['id']}/history", headers=alice.headers)

    assert response.status_code == 200, response.text
    assert [(v["version"], v["content"], v["current"]) for v in response.json()["items"]] == [
        (1, "only", True)
    ]


async def test_edit_of_deleted_message_conflicts(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "gone soon")
    assert (await delete_message(client, alice, sent["id"])).status_code == 200

    response = await _edit(client, alice, sent["id"], "back?")

    assert_error(response, 409, "MESSAGE_DELETED")


async def test_edit_to_blank_content_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "text")

    response = await _edit(client, alice, sent["id"], "   ")

    assert_error(response, 422, "VALIDATION_ERROR")


async def test_edit_over_the_length_limit_is_rejected(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "text")

    response = await _edit(client, alice, sent["id"], "a" * (MAX_MESSAGE_LENGTH + 1))

    assert_error(response, 413, "MESSAGE_TOO_LONG")


async def test_edit_re_extracts_metadata(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    sent = await send(client, alice, conversation["id"], f"@{bob.username} #old")

    response = await _edit(client, alice, sent["id"], f"@{carol.username} #New https://a.example")

    assert response.status_code == 200, response.text
    metadata = response.json()["metadata"]
    assert metadata["mentions"] == [carol.username.lower()]
    assert metadata["mentionedUserIds"] == [carol.id]
    assert metadata["hashtags"] == ["new"]
    assert metadata["urls"] == ["https://a.example"]


# ---------------------------------------------------------------- delete


async def test_sender_deletes_own_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], f"oops #tag @{bob.username}")

    response = await delete_message(client, alice, sent["id"])

    assert response.status_code == 200, response.text
    deleted = response.json()
    assert deleted["id"] == sent["id"]
    assert deleted["status"] == "DELETED"
    assert deleted["content"] is None
    assert deleted["metadata"] == {}
    assert deleted["deletedAt"] is not None


async def test_deleted_message_keeps_its_place_in_pages(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = [await send(client, alice, conversation["id"], f"#m{i}") for i in range(3)]
    assert (await delete_message(client, alice, sent[1]["id"])).status_code == 200

    stored = await read_all(client, bob, conversation["id"])

    assert [m["id"] for m in stored] == [m["id"] for m in sent]
    assert [m["seq"] for m in stored] == [1, 2, 3]
    assert (stored[1]["status"], stored[1]["content"], stored[1]["metadata"]) == (
        "DELETED",
        None,
        {},
    )
    assert [m["content"] for m in (stored[0], stored[2])] == ["#m0", "#m2"]


async def test_deleted_message_reads_as_deleted(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "secret")
    assert (await delete_message(client, alice, sent["id"])).status_code == 200

    message = await get_message(client, bob, sent["id"])

    assert (message["status"], message["content"], message["metadata"]) == ("DELETED", None, {})


async def test_deleting_again_answers_the_deleted_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], "twice")
    first = await delete_message(client, alice, sent["id"])

    second = await delete_message(client, alice, sent["id"])

    assert second.status_code == 200, second.text
    assert second.json()["status"] == "DELETED"
    assert second.json()["deletedAt"] == first.json()["deletedAt"]


async def test_member_cannot_delete_anothers_message(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    sent = await send(client, carol, conversation["id"], "carol's")

    response = await delete_message(client, bob, sent["id"])

    assert_error(response, 403, "PERMISSION_DENIED")
    assert (await get_message(client, carol, sent["id"]))["content"] == "carol's"


async def test_moderator_deletes_a_members_message(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    sent = await send(client, carol, conversation["id"], "spam")

    response = await delete_message(client, bob, sent["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "DELETED"


async def test_moderator_cannot_delete_an_admins_message(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    await set_role(client, alice, conversation["id"], carol, "ADMIN")
    sent = await send(client, carol, conversation["id"], "admin's")

    response = await delete_message(client, bob, sent["id"])

    assert_error(response, 403, "PERMISSION_DENIED")


async def test_moderator_cannot_delete_another_moderators_message(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    await set_role(client, alice, conversation["id"], carol, "MODERATOR")
    sent = await send(client, carol, conversation["id"], "peer's")

    response = await delete_message(client, bob, sent["id"])

    assert_error(response, 403, "PERMISSION_DENIED")


async def test_owner_deletes_an_admins_message(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    sent = await send(client, bob, conversation["id"], "admin's")

    response = await delete_message(client, alice, sent["id"])

    assert response.status_code == 200, response.text
