"""GET /users/me/mentions, GET /hashtags/{tag}, GET /hashtags?prefix=: what each caller may
read, newest first, paged; held, deleted and no-longer-readable messages stay out."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support import (
    User,
    assert_error,
    create_conversation,
    delete_message,
    register,
    remove,
    send,
)

HELD = "fuck this shit, fuck"  # held for review (tests/moderation/test_moderation.py)


def _tag(name: str = "t") -> str:
    """Tags are global: a fresh one keeps each test to its own messages."""
    return f"{name}{secrets.token_hex(4)}"


async def _get(client: httpx.AsyncClient, user: User, url: str, **params: Any) -> dict[str, Any]:
    response = await client.get(url, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _mentions(client: httpx.AsyncClient, user: User, **params: Any) -> list[str]:
    return [m["id"] for m in (await _get(client, user, "/users/me/mentions", **params))["items"]]


async def _tagged(client: httpx.AsyncClient, user: User, tag: str) -> list[str]:
    return [m["id"] for m in (await _get(client, user, f"/hashtags/{tag}"))["items"]]


async def _tags(client: httpx.AsyncClient, user: User, prefix: str, **params: Any) -> list[Any]:
    page = await _get(client, user, "/hashtags", prefix=prefix, **params)
    assert page["nextCursor"] is None
    return [(item["tag"], item["count"]) for item in page["items"]]


async def test_mentions_are_newest_first_and_paged(client: httpx.AsyncClient) -> None:
    alice, bob = await register(client, "alice"), await register(client, "bob")
    conversation = await create_conversation(client, alice, [bob])
    sent = [
        await send(client, alice, conversation["id"], f"@{bob.username} number {i}")
        for i in range(3)
    ]
    await send(client, alice, conversation["id"], "nobody mentioned")
    await send(client, alice, conversation["id"], f"@{alice.username} talks to herself")

    first = await _get(client, bob, "/users/me/mentions", limit=2)
    second = await _get(client, bob, "/users/me/mentions", limit=2, cursor=first["nextCursor"])

    assert [m["id"] for m in first["items"]] == [sent[2]["id"], sent[1]["id"]]
    assert first["items"][0]["content"] == f"@{bob.username} number 2"
    assert first["items"][0]["metadata"]["mentionedUserIds"] == [bob.id]
    assert first["hasMore"] is True and first["nextCursor"]
    assert [m["id"] for m in second["items"]] == [sent[0]["id"]]
    assert (second["hasMore"], second["nextCursor"]) == (False, None)


async def test_hashtag_lists_tagged_messages_newest_first_in_any_case(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    tag = _tag()
    conversation = await create_conversation(client, alice, [bob])
    older = await send(client, alice, conversation["id"], f"#{tag.upper()} launch")
    await send(client, alice, conversation["id"], "#other stuff")
    newer = await send(client, bob, conversation["id"], f"more on #{tag}")

    assert await _tagged(client, bob, tag) == [newer["id"], older["id"]]
    assert await _tagged(client, bob, f"%23{tag.upper()}") == [newer["id"], older["id"]]
    first = await _get(client, alice, f"/hashtags/{tag}", limit=1)
    second = await _get(client, alice, f"/hashtags/{tag}", limit=1, cursor=first["nextCursor"])
    assert [m["id"] for m in first["items"] + second["items"]] == [newer["id"], older["id"]]
    assert second["nextCursor"] is None


async def test_prefix_autocomplete_orders_by_use_then_name(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    start = _tag("p")
    conversation = await create_conversation(client, alice, [bob])
    for text in ("#{s}b #{s}c", "#{s}c #{s}a", "#{s}c", "#{s}a", "#zz{s}"):
        await send(client, alice, conversation["id"], text.format(s=start))

    assert await _tags(client, bob, start) == [(f"{start}c", 3), (f"{start}a", 2), (f"{start}b", 1)]
    assert await _tags(client, bob, f"#{start.upper()}", limit=2) == [
        (f"{start}c", 3),
        (f"{start}a", 2),
    ]
    assert await _tags(client, bob, f"{start}b") == [(f"{start}b", 1)]


async def test_non_member_sees_no_mentions_hits_or_tags_of_another_conversation(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    mallory = await register(client, "mallory")
    tag = _tag()
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], f"@{mallory.username} is not here #{tag}")

    assert await _mentions(client, mallory) == []
    assert await _tagged(client, mallory, tag) == []
    assert await _tags(client, mallory, tag) == []
    assert len(await _tagged(client, bob, tag)) == 1


async def test_removed_member_loses_mentions_and_tags_at_once(
    client: httpx.AsyncClient, alice: User
) -> None:
    bob = await register(client, "bob")
    tag = _tag()
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], f"@{bob.username} see #{tag}")
    assert await _mentions(client, bob) == [message["id"]]
    assert await _tags(client, bob, tag) == [(tag, 1)]

    response = await remove(client, alice, conversation["id"], bob)
    assert response.status_code in (200, 204), response.text

    assert await _mentions(client, bob) == []
    assert await _tagged(client, bob, tag) == []
    assert await _tags(client, bob, tag) == []


async def test_member_who_left_loses_mentions(client: httpx.AsyncClient, alice: User) -> None:
    bob = await register(client, "bob")
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], f"@{bob.username} hello")
    response = await remove(client, bob, conversation["id"], bob)
    assert response.status_code in (200, 204), response.text

    assert await _mentions(client, bob) == []


async def test_deleted_message_disappears_from_every_list(
    client: httpx.AsyncClient, alice: User
) -> None:
    bob = await register(client, "bob")
    tag = _tag()
    conversation = await create_conversation(client, alice, [bob])
    kept = await send(client, alice, conversation["id"], f"@{bob.username} #{tag} kept")
    gone = await send(client, alice, conversation["id"], f"@{bob.username} #{tag} gone")

    response = await delete_message(client, alice, gone["id"])
    assert response.status_code == 200, response.text

    assert await _mentions(client, bob) == [kept["id"]]
    assert await _tagged(client, bob, tag) == [kept["id"]]
    assert await _tags(client, bob, tag) == [(tag, 1)]


async def test_held_message_is_listed_to_its_sender_and_reviewers_only(
    client: httpx.AsyncClient,
) -> None:
    alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
    tag = _tag()
    conversation = await create_conversation(client, alice, [bob, carol])
    held = await send(
        client, bob, conversation["id"], f"{HELD} @{carol.username} @{alice.username} #{tag}"
    )
    assert held["status"] == "MODERATED"

    # Carol, a plain member, sees a placeholder in the history: here, nothing.
    assert await _mentions(client, carol) == []
    assert await _tagged(client, carol, tag) == []
    assert await _tags(client, carol, tag) == []
    # The owner reviews it and the sender wrote it: both read it, content included.
    [mention] = (await _get(client, alice, "/users/me/mentions"))["items"]
    assert (mention["id"], mention["status"]) == (held["id"], "MODERATED")
    assert mention["content"] == held["content"]
    assert await _tagged(client, bob, tag) == [held["id"]]
    assert await _tags(client, alice, tag) == [(tag, 1)]


async def test_edit_moves_mentions_with_the_text(client: httpx.AsyncClient, alice: User) -> None:
    bob = await register(client, "bob")
    conversation = await create_conversation(client, alice, [bob])
    first = await send(client, alice, conversation["id"], f"@{bob.username} first")
    second = await send(client, alice, conversation["id"], "second")

    edited = await client.put(
        f"/messages/{first['id']}", json={"content": "nobody"}, headers=alice.headers
    )
    assert edited.status_code == 200, edited.text
    edited = await client.put(
        f"/messages/{second['id']}",
        json={"content": f"@{bob.username} now"},
        headers=alice.headers,
    )
    assert edited.status_code == 200, edited.text

    assert await _mentions(client, bob) == [second["id"]]


async def test_bare_www_link_is_stored_with_https(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "docs at www.python.org/about.")

    assert message["metadata"]["urls"] == ["https://www.python.org/about"]


async def test_bad_input_is_a_validation_error(client: httpx.AsyncClient, alice: User) -> None:
    for url, params in [
        ("/hashtags/no%20tag", {}),
        ("/hashtags/%23", {}),
        ("/hashtags/12345", {}),
        ("/hashtags/" + "a" * 102, {}),
        ("/hashtags/launch", {"limit": 0}),
        ("/hashtags/launch", {"cursor": "not a cursor"}),
        ("/hashtags", {"prefix": "50%"}),
        ("/hashtags", {"limit": 51}),
        ("/hashtags", {"limit": "many"}),
        ("/users/me/mentions", {"limit": 201}),
        ("/users/me/mentions", {"cursor": "!!"}),
    ]:
        response = await client.get(url, params=params, headers=alice.headers)
        assert_error(response, 422, "VALIDATION_ERROR")


async def test_anonymous_caller_is_refused(client: httpx.AsyncClient) -> None:
    for url in ("/users/me/mentions", "/hashtags/launch", "/hashtags"):
        response = await client.get(url)
        assert response.status_code == 401, response.text
