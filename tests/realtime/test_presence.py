"""Presence: ONLINE with a user's first socket, OFFLINE with lastSeenAt when the last closes,
told to the people who share a conversation with them. Fresh users per test, so no other
test's sockets change their presence."""

from __future__ import annotations

import httpx

from tests.realtime.sockets import Connect
from tests.support import User, create_conversation, register, send

RECORD_ALL: frozenset[str] = frozenset()


async def _status(client: httpx.AsyncClient, viewer: User, user: User) -> str:
    response = await client.get("/users", params={"q": user.username}, headers=viewer.headers)
    assert response.status_code == 200, response.text
    (found,) = [u for u in response.json()["items"] if u["id"] == user.id]
    return str(found["status"])


async def test_first_socket_announces_online_and_last_announces_offline(
    connect: Connect, client: httpx.AsyncClient
) -> None:
    frank, grace = await register(client, "frank"), await register(client, "grace")
    await create_conversation(client, frank, [grace], "DIRECT")
    watcher = await connect(grace, ignore=RECORD_ALL)
    assert (await watcher.next_of("user_status_changed"))["userId"] == grace.id  # herself

    socket = await connect(frank)
    online = await watcher.next_of("user_status_changed")
    assert (online["userId"], online["status"]) == (frank.id, "ONLINE")
    assert await _status(client, grace, frank) == "ONLINE"

    await socket.client.disconnect()
    offline = await watcher.next_of("user_status_changed")
    assert (offline["userId"], offline["status"]) == (frank.id, "OFFLINE")
    assert offline["lastSeenAt"] is not None
    assert await _status(client, grace, frank) == "OFFLINE"


async def test_user_stays_online_while_another_socket_is_open(
    connect: Connect, client: httpx.AsyncClient
) -> None:
    frank, grace = await register(client, "frank"), await register(client, "grace")
    conversation = await create_conversation(client, frank, [grace], "DIRECT")
    phone = await connect(frank)
    laptop = await connect(frank)
    watcher = await connect(grace, ignore=RECORD_ALL)
    assert (await watcher.next_of("user_status_changed"))["userId"] == grace.id

    await phone.client.disconnect()
    marker = await send(client, frank, conversation["id"], "still here")

    assert (await watcher.next_of("new_message"))["message"]["id"] == marker["id"]
    assert await _status(client, grace, frank) == "ONLINE"
    assert laptop.client.connected


async def test_presence_is_not_told_to_strangers(
    connect: Connect, client: httpx.AsyncClient
) -> None:
    frank, grace, heidi = (
        await register(client, "frank"),
        await register(client, "grace"),
        await register(client, "heidi"),
    )
    theirs = await create_conversation(client, grace, [heidi], "DIRECT")
    stranger = await connect(heidi, ignore=RECORD_ALL)
    assert (await stranger.next_of("user_status_changed"))["userId"] == heidi.id

    await connect(frank)
    marker = await send(client, grace, theirs["id"], "hello heidi")

    assert (await stranger.next_of("new_message"))["message"]["id"] == marker["id"]
