"""Moving a user's sockets in and out of a conversation's room, and disconnecting the sockets
of a room (a revoked token's), on every instance.

python-socketio's manager can move a socket it knows by sid, but only the instance holding a
socket knows its sid. So a move is applied here to this instance's sockets of the user, and
relayed through the Redis manager (`fanout.LocalFirstRedisManager.relay`) to every other
instance, which applies it to its own. The relay shares the emits' outbox and listener, so a
remote instance applies a move and the events around it in the order they happened here (a
removed member hears `participant_removed`, then leaves the room). Without Redis there is one
instance and the local move is all.
"""

from __future__ import annotations

import logging

import orjson
import socketio

from parley.core.events import conversation_room, user_room
from parley.realtime.fanout import LocalFirstRedisManager

log = logging.getLogger(__name__)


class RoomMover:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server
        manager = server.manager
        self._relay = manager if isinstance(manager, LocalFirstRedisManager) else None
        if self._relay is not None:
            self._relay.on_relay(self._receive)

    async def move(self, user_id: str, conversation_id: str, *, enter: bool) -> None:
        await self._apply(user_id, conversation_id, enter=enter)
        if self._relay is not None:
            message = {"user": user_id, "conversation": conversation_id, "enter": enter}
            await self._relay.relay(orjson.dumps(message))

    async def disconnect(self, rooms: list[str]) -> None:
        """Disconnect every socket in `rooms`, on every instance."""
        await self._disconnect(rooms)
        if self._relay is not None:
            await self._relay.relay(orjson.dumps({"disconnect": rooms}))

    async def _disconnect(self, rooms: list[str]) -> None:
        for room in rooms:
            sids = [sid for sid, _ in self._server.manager.get_participants("/", room)]
            for sid in sids:
                try:
                    await self._server.disconnect(sid)
                except Exception:
                    # The socket left on its own meanwhile (a client told `session_revoked`
                    # hangs up at once): Engine.IO then raises KeyError on the closed
                    # transport. The socket is gone, which is what was asked.
                    log.debug("disconnect of a closing socket skipped", exc_info=True)

    async def _apply(self, user_id: str, conversation_id: str, *, enter: bool) -> None:
        room = conversation_room(conversation_id)
        sids = [sid for sid, _ in self._server.manager.get_participants("/", user_room(user_id))]
        for sid in sids:
            if enter:
                await self._server.enter_room(sid, room)
            else:
                await self._server.leave_room(sid, room)

    async def _receive(self, body: bytes) -> None:
        data = orjson.loads(body)
        if "disconnect" in data:
            await self._disconnect(data["disconnect"])
        else:
            await self._apply(data["user"], data["conversation"], enter=data["enter"])
