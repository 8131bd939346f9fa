"""A non-member sees nothing: every message endpoint answers 404, as if nothing existed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support import (
    User,
    assert_error,
    create_conversation,
    get_message,
    read_all,
    remove,
    send,
)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with {conversation}, {message}, {emoji} and {target} to fill in
    body: dict[str, Any] | None
    code: str


THUMBS_UP = "\N{THUMBS UP SIGN}"

CALLS = {
    "send": Call(
        "POST",
        "/messages",
        {"conversationId": "{conversation}", "content": "hi"},
        "CONVERSATION_NOT_FOUND",
    ),
    "list": Call("GET", "/messages/conversation/{conversation}", None, "CONVERSATION_NOT_FOUND"),
    "catch-up": Call(
        "GET", "/messages/conversation/{conversation}?afterSeq=0", None, "CONVERSATION_NOT_FOUND"
    ),
    "get": Call("GET", "/messages/{message}", None, "MESSAGE_NOT_FOUND"),
    "edit": Call("PUT", "/messages/{message}", {"content": "mine now"}, "MESSAGE_NOT_FOUND"),
    "delete": Call("DELETE", "/messages/{message}", None, "MESSAGE_NOT_FOUND"),
    "history": Call("GET", "/messages/{message}/history", None, "MESSAGE_NOT_FOUND"),
    "thread": Call("GET", "/messages/{message}/thread", None, "MESSAGE_NOT_FOUND"),
    "react": Call(
        "POST", "/messages/{message}/reactions", {"emoji": THUMBS_UP}, "MESSAGE_NOT_FOUND"
    ),
    "unreact": Call("DELETE", "/messages/{message}/reactions/{emoji}", None, "MESSAGE_NOT_FOUND"),
    "forward-from": Call(
        "POST",
        "/messages/{message}/forward",
        {"conversationIds": ["{target}"]},
        "MESSAGE_NOT_FOUND",
    ),
}


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, names) for key, item in value.items()}
    return value


@pytest.mark.parametrize("name", list(CALLS))
async def test_non_member_gets_not_found(
    client: httpx.AsyncClient, alice: User, bob: User, mallory: User, erin: User, name: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "members only")
    reaction = await client.post(
        f"/messages/{message['id']}/reactions", json={"emoji": THUMBS_UP}, headers=bob.headers
    )
    assert reaction.status_code == 200, reaction.text
    own = await create_conversation(client, mallory, [erin])
    call = CALLS[name]
    names = {
        "conversation": conversation["id"],
        "message": message["id"],
        "emoji": quote(THUMBS_UP, safe=""),
        "target": own["id"],
    }

    response = await client.request(
        call.method,
        _fill(call.path, names),
        json=_fill(call.body, names),
        headers=mallory.headers,
    )

    assert_error(response, 404, call.code)


async def test_non_member_calls_change_nothing(
    client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "members only")
    attempts = [
        await client.post(
            "/messages",
            params={"wait": "true"},
            json={"conversationId": conversation["id"], "content": "let me in"},
            headers=mallory.headers,
        ),
        await client.put(
            f"/messages/{message['id']}", json={"content": "defaced"}, headers=mallory.headers
        ),
        await client.delete(f"/messages/{message['id']}", headers=mallory.headers),
        await client.post(
            f"/messages/{message['id']}/reactions", json={"emoji": "x"}, headers=mallory.headers
        ),
    ]
    assert [a.status_code for a in attempts] == [404, 404, 404, 404]

    assert await read_all(client, bob, conversation["id"]) == [message]
    assert await get_message(client, bob, message["id"]) == message


async def test_removed_member_loses_access(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "before you left")
    removed = await remove(client, alice, conversation["id"], bob)
    assert removed.status_code == 200, removed.text

    response = await client.get(f"/messages/{message['id']}", headers=bob.headers)

    assert_error(response, 404, "MESSAGE_NOT_FOUND")
