"""The rooms a new socket joins follow membership changes at once, although a user's list of
conversations is cached for the connect path (conversations/access.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.realtime.sockets import Connect, Recorder
from tests.support import User, add, create_conversation, remove, send


async def _next_message(socket: Recorder) -> dict[str, Any]:
    """The next `new_message`, past membership events addressed to the user's room."""
    while True:
        event, data = await socket.next()
        if event == "new_message":
            return dict(data)


async def test_new_socket_of_an_added_member_joins_the_conversation(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await connect(carol)  # reads carol's conversations before she is added

    added = await add(client, alice, conversation["id"], [carol])
    later = await connect(carol)
    message = await send(client, alice, conversation["id"], "welcome")

    assert added.status_code == 201, added.text
    assert (await _next_message(later))["message"]["id"] == message["id"]


async def test_new_socket_of_a_removed_member_does_not_join_the_conversation(
    connect: Connect, client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    other = await create_conversation(client, alice, [carol])
    await connect(carol)  # reads carol's conversations while she is a member

    removed = await remove(client, alice, conversation["id"], carol)
    later = await connect(carol)
    await send(client, alice, conversation["id"], "carol is gone")
    marker = await send(client, alice, other["id"], "still here")

    assert removed.status_code == 200, removed.text
    assert (await _next_message(later))["message"]["id"] == marker["id"]
