"""Every write that others see passes the gate a send passes (issue 9, point 1).

Edits need what a send needs now (the member's status and `canSendMessages`, the
conversation's state, the announcement role for announcements); reactions need `canReact` and
the same conversation state, for taking one back as for adding it. Both count against rate
limits of their own (`RATE_LIMIT_EDITS`, `RATE_LIMIT_REACTIONS`), and what one message can
accumulate is capped: stored versions (`MAX_MESSAGE_VERSIONS`), distinct emoji
(`MAX_REACTION_EMOJI_PER_MESSAGE`) and one user's reactions
(`MAX_REACTIONS_PER_USER_PER_MESSAGE`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import own_server
from tests.realtime.sockets import Recorder
from tests.support import (
    Server,
    User,
    assert_error,
    create_conversation,
    get_message,
    patch_participant,
    post_message,
    register,
    send,
    set_role,
)

# What makes a send refused, and the refusal a send gets for it (status, code, details).
RESTRICTIONS: dict[str, tuple[int, str, dict[str, str]]] = {
    "member-muted": (403, "PERMISSION_DENIED", {"reason": "MUTED"}),
    "flag-off": (403, "PERMISSION_DENIED", {}),
    "conversation-muted": (403, "PERMISSION_DENIED", {"reason": "CONVERSATION_MUTED"}),
    "archived": (409, "CONVERSATION_READ_ONLY", {}),
}


async def _edit(
    client: httpx.AsyncClient, user: User, message_id: str, content: str
) -> httpx.Response:
    return await client.put(
        f"/messages/{message_id}", json={"content": content}, headers=user.headers
    )


async def _react(
    client: httpx.AsyncClient, user: User, message_id: str, emoji: str
) -> httpx.Response:
    return await client.post(
        f"/messages/{message_id}/reactions", json={"emoji": emoji}, headers=user.headers
    )


async def _unreact(
    client: httpx.AsyncClient, user: User, message_id: str, emoji: str
) -> httpx.Response:
    return await client.delete(
        f"/messages/{message_id}/reactions/{quote(emoji, safe='')}", headers=user.headers
    )


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _restrict(
    client: httpx.AsyncClient, owner: User, conversation_id: str, member: User, how: str, flag: str
) -> None:
    """Put `member` where `how` says (see RESTRICTIONS); `flag` is the flag turned off."""
    if how == "member-muted":
        response = await patch_participant(
            client, owner, conversation_id, member, {"status": "MUTED"}
        )
    elif how == "flag-off":
        response = await patch_participant(
            client, owner, conversation_id, member, {"permissions": {flag: False}}
        )
    else:
        status = "MUTED" if how == "conversation-muted" else "ARCHIVED"
        response = await client.patch(
            f"/conversations/{conversation_id}", json={"status": status}, headers=owner.headers
        )
    assert response.status_code == 200, response.text


def _assert_refused(response: httpx.Response, how: str, flag: str) -> None:
    status, code, details = RESTRICTIONS[how]
    if how == "flag-off":
        details = {"flag": flag}
    body = assert_error(response, status, code)
    for key, value in details.items():
        assert body["details"].get(key) == value, body


# ---------------------------------------------------------------- edits follow the send gate


@pytest.mark.parametrize("how", ["flag-off", "conversation-muted", "archived"])
async def test_edit_is_refused_where_a_send_is(
    client: httpx.AsyncClient, alice: User, bob: User, how: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, bob, conversation["id"], "as first written")
    await _restrict(client, alice, conversation["id"], bob, how, "canSendMessages")

    refused_send = await post_message(client, bob, conversation["id"], wait=True)
    refused_edit = await _edit(client, bob, message["id"], "rewritten anyway")

    _assert_refused(refused_send, how, "canSendMessages")
    _assert_refused(refused_edit, how, "canSendMessages")
    assert (await get_message(client, alice, message["id"]))["content"] == "as first written"


async def test_moderators_edit_in_a_muted_conversation_members_do_not(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], carol, "MODERATOR")
    by_member = await send(client, bob, conversation["id"], "member's")
    by_moderator = await send(client, carol, conversation["id"], "moderator's")
    await _restrict(client, alice, conversation["id"], bob, "conversation-muted", "")

    _assert_refused(
        await _edit(client, bob, by_member["id"], "member's, edited"), "conversation-muted", ""
    )
    edited = await _ok(await _edit(client, carol, by_moderator["id"], "moderator's, edited"))
    assert edited["content"] == "moderator's, edited"


async def test_editing_an_announcement_needs_the_role_that_posts_one(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "MODERATOR")
    announcement = await send(client, bob, conversation["id"], "meeting at 10", type="ANNOUNCEMENT")
    await set_role(client, alice, conversation["id"], bob, "MEMBER")

    refused = await _edit(client, bob, announcement["id"], "meeting cancelled")

    assert_error(refused, 403, "PERMISSION_DENIED")
    assert (await get_message(client, alice, announcement["id"]))["content"] == "meeting at 10"


# ---------------------------------------------------------------- reactions follow it too


async def test_members_do_not_react_in_a_muted_conversation_moderators_do(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    await set_role(client, alice, conversation["id"], carol, "MODERATOR")
    message = await send(client, alice, conversation["id"], "quiet please")
    await _restrict(client, alice, conversation["id"], bob, "conversation-muted", "")

    _assert_refused(await _react(client, bob, message["id"], "+1"), "conversation-muted", "")
    allowed = await _ok(await _react(client, carol, message["id"], "+1"))

    assert allowed["reactions"] == {"+1": {"count": 1, "userIds": [carol.id]}}


@pytest.mark.parametrize("how", ["member-muted", "flag-off", "conversation-muted", "archived"])
async def test_taking_a_reaction_back_passes_the_same_gate_as_adding_it(
    client: httpx.AsyncClient, alice: User, bob: User, how: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "react to me")
    await _ok(await _react(client, bob, message["id"], "+1"))
    await _restrict(client, alice, conversation["id"], bob, how, "canReact")

    _assert_refused(await _react(client, bob, message["id"], "ok"), how, "canReact")
    _assert_refused(await _unreact(client, bob, message["id"], "+1"), how, "canReact")

    kept = await get_message(client, alice, message["id"])
    assert kept["reactions"] == {"+1": {"count": 1, "userIds": [bob.id]}}


async def test_one_user_puts_at_most_ten_emoji_on_a_message_by_default(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "so many feelings")
    for index in range(10):
        await _ok(await _react(client, bob, message["id"], f"e{index}"))

    refused = await _react(client, bob, message["id"], "e10")

    details = assert_error(refused, 409, "REACTION_LIMIT_REACHED")["details"]
    assert details == {"scope": "USER", "limit": 10}
    await _ok(await _react(client, bob, message["id"], "e0"))  # one already there: no change
    assert len((await get_message(client, alice, message["id"]))["reactions"]) == 10


# ---------------------------------------------------------------- limits from the environment

LIMITS = {
    "RATE_LIMIT_EDITS": "3",
    "RATE_LIMIT_REACTIONS": "6",
    "MAX_MESSAGE_VERSIONS": "3",
    "MAX_REACTION_EMOJI_PER_MESSAGE": "3",
    "MAX_REACTIONS_PER_USER_PER_MESSAGE": "2",
}


@pytest.fixture(scope="module")
def limited_server(backend_env: dict[str, str]) -> Iterator[Server]:
    """A server with small write limits (its own Redis key prefix)."""
    with own_server(backend_env, "gate", LIMITS) as running:
        yield running


@pytest.fixture
async def limited(limited_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited_server.url, timeout=30) as http:
        yield http


@pytest.fixture
async def notices(limited_server: Server) -> AsyncIterator[Any]:
    """Open a socket to the limited server that records only `rate_limit.exceeded`."""
    opened: list[Recorder] = []

    async def _open(user: User) -> Recorder:
        recorder = Recorder(
            frozenset({"user_status_changed", "new_message", "message_confirmed"})
            | frozenset({"message_updated", "reaction_added", "reaction_removed"})
        )
        opened.append(recorder)
        await recorder.client.connect(
            limited_server.url, transports=["websocket"], auth={"token": user.token}
        )
        return recorder

    yield _open
    for recorder in opened:
        await recorder.close()


def _assert_rate_limited(response: httpx.Response, scope: str, limit: int) -> dict[str, Any]:
    details = assert_error(response, 429, "RATE_LIMITED")["details"]
    assert (details["scope"], details["limit"], details["windowSeconds"]) == (scope, limit, 60)
    assert 0 < details["retryAfterMs"] <= 60_000
    assert int(response.headers["Retry-After"]) * 1000 >= details["retryAfterMs"]
    return dict(details)


async def test_edits_count_against_a_rate_limit_of_their_own(
    limited: httpx.AsyncClient, notices: Any
) -> None:
    writer, reader = await register(limited, "rewriter"), await register(limited, "reader")
    conversation = await create_conversation(limited, writer, [reader])
    other = await create_conversation(limited, writer, [reader])
    messages = [await send(limited, writer, conversation["id"], f"m{i}") for i in range(4)]
    socket = await notices(writer)
    for message in messages[:3]:
        await _ok(await _edit(limited, writer, message["id"], "edited"))

    refused = await _edit(limited, writer, messages[3]["id"], "one edit too many")

    details = _assert_rate_limited(refused, "EDITS", 3)
    assert details["conversationId"] == conversation["id"]
    event = await socket.next_of("rate_limit.exceeded")
    assert (event["scope"], event["limit"], event["conversationId"]) == (
        "EDITS",
        3,
        conversation["id"],
    )
    assert (await get_message(limited, reader, messages[3]["id"]))["content"] == "m3"
    # Sending has its own allowance, and the limit is per conversation.
    await send(limited, writer, conversation["id"], "a new message is still fine")
    elsewhere = await send(limited, writer, other["id"], "elsewhere")
    await _ok(await _edit(limited, writer, elsewhere["id"], "edited elsewhere"))


async def test_adding_and_removing_reactions_count_against_a_rate_limit_of_their_own(
    limited: httpx.AsyncClient, notices: Any
) -> None:
    reactor, author = await register(limited, "fidget"), await register(limited, "author")
    conversation = await create_conversation(limited, author, [reactor])
    message = await send(limited, author, conversation["id"], "poke me")
    socket = await notices(reactor)
    for _ in range(3):
        await _ok(await _react(limited, reactor, message["id"], "+1"))
        await _ok(await _unreact(limited, reactor, message["id"], "+1"))

    refused = await _react(limited, reactor, message["id"], "+1")

    _assert_rate_limited(refused, "REACTIONS", 6)
    assert (await socket.next_of("rate_limit.exceeded"))["scope"] == "REACTIONS"
    assert (await get_message(limited, author, message["id"]))["reactions"] == {}
    await _ok(await _react(limited, author, message["id"], "+1"))  # others keep theirs


async def test_stored_versions_per_message_are_capped(limited: httpx.AsyncClient) -> None:
    writer, reader = await register(limited, "reviser"), await register(limited, "reader")
    conversation = await create_conversation(limited, writer, [reader])
    message = await send(limited, writer, conversation["id"], "v1")
    await _ok(await _edit(limited, writer, message["id"], "v2"))
    await _ok(await _edit(limited, writer, message["id"], "v3"))

    refused = await _edit(limited, writer, message["id"], "v4")

    details = assert_error(refused, 409, "EDIT_LIMIT_REACHED")["details"]
    assert details == {"maxVersions": 3}
    history = await limited.get(f"/messages/{message['id']}/history", headers=reader.headers)
    assert [item["content"] for item in history.json()["items"]] == ["v1", "v2", "v3"]


async def test_distinct_emoji_per_message_are_capped(limited: httpx.AsyncClient) -> None:
    author = await register(limited, "author")
    first, second = await register(limited, "fan"), await register(limited, "fan")
    conversation = await create_conversation(limited, author, [first, second])
    message = await send(limited, author, conversation["id"], "popular")
    await _ok(await _react(limited, author, message["id"], "a"))
    await _ok(await _react(limited, first, message["id"], "b"))
    await _ok(await _react(limited, first, message["id"], "c"))

    refused = await _react(limited, second, message["id"], "d")

    details = assert_error(refused, 409, "REACTION_LIMIT_REACHED")["details"]
    assert details == {"scope": "MESSAGE", "limit": 3}
    joined = await _ok(await _react(limited, second, message["id"], "a"))
    assert sorted(joined["reactions"]) == ["a", "b", "c"]
    assert joined["count"] == 2


async def test_one_users_reactions_per_message_are_capped(limited: httpx.AsyncClient) -> None:
    author, fan = await register(limited, "author"), await register(limited, "fan")
    conversation = await create_conversation(limited, author, [fan])
    message = await send(limited, author, conversation["id"], "nice")
    await _ok(await _react(limited, fan, message["id"], "a"))
    await _ok(await _react(limited, fan, message["id"], "b"))

    refused = await _react(limited, fan, message["id"], "c")

    details = assert_error(refused, 409, "REACTION_LIMIT_REACHED")["details"]
    assert details == {"scope": "USER", "limit": 2}
    await _ok(await _react(limited, author, message["id"], "c"))  # the author has their own two
    await _ok(await _unreact(limited, fan, message["id"], "a"))
    swapped = await _ok(await _react(limited, fan, message["id"], "c"))
    assert set(swapped["reactions"]["c"]["userIds"]) == {author.id, fan.id}
