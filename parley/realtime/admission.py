"""Who may hold a socket on this instance, and for how long.

- **Places.** An Engine.IO transport takes one of the instance's `WS_MAX_CONNECTIONS` places
  at its handshake (when one is free) and keeps it until it closes or its socket leaves, so
  transports that never connect the namespace count against the limit like sockets do. A
  handshake with every place taken is still accepted, only so that its namespace connect can
  be refused with a named reason (`TOO_MANY_CONNECTIONS`); it is closed like any other
  transport that does not connect in time.
- **Connect timeout.** A transport without a connected Socket.IO socket is closed
  `WS_CONNECT_TIMEOUT` after its handshake (a refused connect does not extend it; a socket
  that leaves the namespace gives its transport as long again). The clock stops while a
  connect is being admitted: that is the server's own work, however long it takes.
- **Per user.** At most `WS_MAX_CONNECTIONS_PER_USER` sockets of one user, on all instances
  together (`TOO_MANY_CONNECTIONS_FOR_USER`; presence/quota.py).
- **Token expiry.** A socket is disconnected when the token it connected with expires.

python-socketio answers Engine.IO's `connect`/`disconnect` events itself (it keeps each
transport's environ); `install` chains onto its handlers rather than replacing them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from parley.core import runtime
from parley.core.config import Settings
from parley.presence.quota import SocketQuota

EngineHandler = Callable[..., Awaitable[Any]]


def _refuse(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    return socketio.exceptions.ConnectionRefusedError(f"{code}: {message}")


class Admission:
    def __init__(self, server: socketio.AsyncServer, settings: Settings) -> None:
        self._server = server
        self._max = settings.ws_max_connections
        self._connect_timeout = settings.ws_connect_timeout_seconds
        self._places: set[str] = set()  # Engine.IO sids holding one of the places
        self._closing: dict[str, asyncio.TimerHandle] = {}  # transports without a namespace
        self._deadline: dict[str, float] = {}  # Engine.IO sid -> when it must have connected
        self._transport: dict[str, str] = {}  # socket sid -> its Engine.IO sid
        self._busy: set[str] = set()  # Engine.IO sids carrying a socket (admitting, connected)
        self._owner: dict[str, uuid.UUID] = {}  # socket sid -> user (admitting or connected)
        self._expiry: dict[str, asyncio.TimerHandle] = {}  # socket sid -> disconnect timer
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        """Hook the Engine.IO transport's open and close, after python-socketio's own."""
        engine = self._server.eio
        on_open: EngineHandler = engine.handlers["connect"]
        on_close: EngineHandler = engine.handlers["disconnect"]

        async def opened(eio_sid: str, environ: dict[str, Any]) -> Any:
            answer = await on_open(eio_sid, environ)
            self._transport_opened(eio_sid)
            return answer

        async def closed(eio_sid: str, reason: Any = None) -> Any:
            try:
                return await on_close(eio_sid, reason)
            finally:
                self._transport_closed(eio_sid)

        engine.on("connect", opened)
        engine.on("disconnect", closed)

    # ---------------------------------------------------------------- transports

    def _transport_opened(self, eio_sid: str) -> None:
        if len(self._places) < self._max:
            self._places.add(eio_sid)
        self._deadline[eio_sid] = asyncio.get_running_loop().time() + self._connect_timeout
        self._arm(eio_sid)

    def _transport_closed(self, eio_sid: str) -> None:
        self._places.discard(eio_sid)
        self._busy.discard(eio_sid)
        self._deadline.pop(eio_sid, None)
        timer = self._closing.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()

    def _arm(self, eio_sid: str) -> None:
        """Close the transport at its deadline unless it connects the namespace first."""
        if eio_sid in self._closing:
            return
        loop = asyncio.get_running_loop()
        deadline = self._deadline.setdefault(eio_sid, loop.time() + self._connect_timeout)
        self._closing[eio_sid] = loop.call_at(
            deadline, self._spawn, lambda: self._close_transport(eio_sid)
        )

    async def _close_transport(self, eio_sid: str) -> None:
        self._closing.pop(eio_sid, None)
        transport = self._server.eio.sockets.get(eio_sid)
        await self._server.eio.disconnect(eio_sid)
        if transport is not None:
            # Engine.IO's close only sends its CLOSE packet and waits for the client to hang
            # up (up to the ping timeout); a client that ignores it would keep the connection.
            # An empty entry ends the websocket's writer, which closes the websocket itself.
            await transport.queue.put(None)

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- sockets

    def take_place(self, sid: str) -> None:
        """The namespace CONNECT came, before authentication: the socket's transport must hold,
        or get, a place. Its timer stops here: admission is the server's own work, however
        long it takes under load."""
        eio_sid = self._server.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is None or eio_sid not in self._server.eio.sockets or eio_sid in self._busy:
            raise _refuse("UNAUTHORIZED", "the transport is closed or already connected")
        if eio_sid not in self._places:
            if len(self._places) >= self._max:
                raise _refuse("TOO_MANY_CONNECTIONS", "this instance is full; try again later")
            self._places.add(eio_sid)
        self._transport[sid] = eio_sid
        self._busy.add(eio_sid)
        timer = self._closing.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()

    async def take_user_slot(self, sid: str, user_id: uuid.UUID) -> None:
        """After authentication: one more socket of `user_id`, on every instance together."""
        quota = runtime.current().component(SocketQuota)
        if not await quota.reserve(user_id):
            raise _refuse(
                "TOO_MANY_CONNECTIONS_FOR_USER",
                f"at most {quota.limit} sockets per user; close another one first",
            )
        self._owner[sid] = user_id

    def admitted(self, sid: str, expires_at: float) -> bool:
        """The socket is connected: schedule its token's expiry. False if its transport
        closed while it was being admitted."""
        eio_sid = self._transport.get(sid)
        if eio_sid is None or eio_sid not in self._server.eio.sockets:
            return False
        loop = asyncio.get_running_loop()
        self._expiry[sid] = loop.call_later(
            max(0.0, expires_at - time.time()), self._spawn, lambda: self._expire(sid)
        )
        return True

    async def _expire(self, sid: str) -> None:
        self._expiry.pop(sid, None)
        await self._server.disconnect(sid)

    async def refused(self, sid: str) -> None:
        """Admission failed: give back the user's slot and the place; the transport may try
        again until its first deadline (a refusal does not extend it)."""
        await self._release_user(sid)
        self._free_transport(sid)

    async def left(self, sid: str) -> None:
        """A connected socket left. Its place is free at once: the transport is almost always
        closing too (a client's DISCONNECT comes just before it hangs up), and one that stays
        must take a place again to reconnect, and is closed if it does not in time."""
        await self._release_user(sid)
        timer = self._expiry.pop(sid, None)
        if timer is not None:
            timer.cancel()
        eio_sid = self._transport.get(sid)
        if eio_sid is not None:  # a fresh window to connect again
            self._deadline[eio_sid] = asyncio.get_running_loop().time() + self._connect_timeout
        self._free_transport(sid)

    def _free_transport(self, sid: str) -> None:
        eio_sid = self._transport.pop(sid, None)
        if eio_sid is None:
            return
        self._places.discard(eio_sid)
        self._busy.discard(eio_sid)
        if eio_sid in self._server.eio.sockets:
            self._arm(eio_sid)

    async def _release_user(self, sid: str) -> None:
        user_id = self._owner.pop(sid, None)
        if user_id is not None:
            await runtime.current().component(SocketQuota).release(user_id)
