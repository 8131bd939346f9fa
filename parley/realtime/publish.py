"""The EventPublisher that carries domain events to Socket.IO rooms.

Membership events also move the target user's sockets in or out of the conversation's room, so
an added member hears the conversation at once and a removed one stops hearing it at once.
`RoomMover` makes the move on every instance.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio

from parley.conversations.permissions import sees_conversation
from parley.core.events import EventName
from parley.realtime.fanout import LocalFirstRedisManager, skip_rooms
from parley.realtime.rooms import RoomMover

_MEMBERSHIP_EVENTS = frozenset(
    {EventName.PARTICIPANT_ADDED, EventName.PARTICIPANT_UPDATED, EventName.PARTICIPANT_REMOVED}
)


class SocketPublisher:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server
        self.rooms = RoomMover(server)

    async def stop(self) -> None:
        """Hand the last events to Redis before the process exits (bounded: Redis may be
        down)."""
        manager = self._server.manager
        if isinstance(manager, LocalFirstRedisManager):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await manager.flush()

    async def emit(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        rooms: list[str],
        except_rooms: list[str] | None = None,
    ) -> None:
        # `skip_sid` travels with the emit to every instance (read there by
        # fanout.EncodeOnce.deliver).
        skip = skip_rooms(except_rooms) if except_rooms else None
        if event in _MEMBERSHIP_EVENTS:
            participant = payload.get("participant") or {}
            user_id, conversation_id = participant.get("userId"), payload.get("conversationId")
            if user_id and conversation_id:
                leaving = not sees_conversation(str(participant.get("status")))
                if not leaving:
                    await self.rooms.move(user_id, conversation_id, enter=True)
                await self._server.emit(str(event), payload, to=rooms, skip_sid=skip)
                if leaving:
                    await self.rooms.move(user_id, conversation_id, enter=False)
                return
        await self._server.emit(str(event), payload, to=rooms, skip_sid=skip)
        if event == EventName.SESSION_REVOKED:
            # Told first, then cut off, on every instance.
            await self.rooms.disconnect(rooms)
