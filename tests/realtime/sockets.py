"""A recording Socket.IO client for the realtime tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from tests.support import Server, User

TIMEOUT = 10


class Recorder:
    """A connected socket that records every event it receives, in order."""

    def __init__(self, ignore: frozenset[str] = frozenset({"user_status_changed"})) -> None:
        """`ignore`: events not recorded (presence changes of the shared users come and go
        with every other test's sockets; the presence tests record them)."""
        self.client = socketio.AsyncClient(reconnection=False)
        self.ignore = ignore
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.connect_errors: list[Any] = []

        async def any_event(event: str, data: Any) -> None:
            if event not in self.ignore:
                await self.events.put((event, data))

        async def connect_error(data: Any) -> None:
            self.connect_errors.append(data)

        self.client.on("*", any_event)
        self.client.on("connect_error", connect_error)

    async def next(self) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), TIMEOUT)

    async def next_of(self, name: str) -> Any:
        """The next event, which must be `name`."""
        event, data = await self.next()
        assert event == name, (event, data)
        return data

    async def close(self) -> None:
        """Disconnect, and close the HTTP session even when the connection was refused."""
        if self.client.connected:
            await self.client.disconnect()
        http = getattr(self.client.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        return dict(await self.client.call(event, data, timeout=TIMEOUT))


Connect = Callable[..., Awaitable[Recorder]]


async def open_socket(
    opened: list[Recorder], server: Server, user: User, **options: Any
) -> Recorder:
    """A websocket to `server` as `user`, added to `opened` (the `sockets` fixture closes
    them): for tests that talk to more than the session's server."""
    recorder = Recorder(**options)
    opened.append(recorder)
    await recorder.client.connect(server.url, auth={"token": user.token}, transports=["websocket"])
    return recorder


async def end_typing(typist: Recorder, watcher: Recorder, conversation_id: str) -> None:
    """Stops `typist`'s typing and waits until `watcher` is told. A test of the shared users
    ends with this: typing left on ends by itself TYPING_TIMEOUT later, and that announcement
    reaches the next test's sockets of the same users (a socket joins all its user's rooms)."""
    assert (await typist.call("typing_stop", {"conversationId": conversation_id}))["ok"]
    while True:
        event, data = await watcher.next()
        if event == "user_typing" and (data["conversationId"], data["isTyping"]) == (
            conversation_id,
            False,
        ):
            return
