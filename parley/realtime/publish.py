"""The EventPublisher that carries domain events to Socket.IO rooms.

Membership events also move the target user's sockets in or out of the conversation's room, so
an added member hears the conversation at once and a removed one stops hearing it at once.
(This process's sockets only, for now: moving sockets on other instances is the scale-out step.)
"""

from __future__ import annotations

from typing import Any

import socketio

from parley.core.events import conversation_room, user_room

_LEAVING_STATUSES = {"LEFT", "REMOVED", "BANNED"}


class SocketPublisher:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server

    async def emit(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None:
        if event.startswith("participant_"):
            participant = payload.get("participant") or {}
            user_id, conversation_id = participant.get("userId"), payload.get("conversationId")
            if user_id and conversation_id:
                leaving = participant.get("status") in _LEAVING_STATUSES
                if not leaving:
                    await self._move(user_id, conversation_id, enter=True)
                await self._server.emit(event, payload, to=rooms)
                if leaving:
                    await self._move(user_id, conversation_id, enter=False)
                return
        await self._server.emit(event, payload, to=rooms)

    async def _move(self, user_id: str, conversation_id: str, *, enter: bool) -> None:
        room = conversation_room(conversation_id)
        sids = [sid for sid, _ in self._server.manager.get_participants("/", user_room(user_id))]
        for sid in sids:
            if enter:
                await self._server.enter_room(sid, room)
            else:
                await self._server.leave_room(sid, room)
