"""Moving a user's sockets in and out of a conversation's room, and disconnecting the sockets
of a room (a revoked token's), on every instance.

python-socketio's manager can move a socket it knows by sid, but only the instance holding a
socket knows its sid. So a move is applied here to this instance's sockets of the user, and
published on a Redis channel that every instance applies to its own (without Redis there is
one instance and the local move is all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import orjson
import socketio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from parley.core.events import conversation_room, user_room

log = logging.getLogger(__name__)


class RoomMover:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server
        self._redis: Redis | None = None
        self._channel = ""
        self._instance = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None

    async def start(self, redis: Redis | None, prefix: str) -> None:
        self._redis = redis
        self._channel = prefix + "rooms"
        if redis is not None:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(self._channel)
            self._task = asyncio.create_task(self._listen(pubsub), name="parley-room-mover")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def move(self, user_id: str, conversation_id: str, *, enter: bool) -> None:
        await self._apply(user_id, conversation_id, enter=enter)
        if self._redis is not None:
            message = {
                "from": self._instance,
                "user": user_id,
                "conversation": conversation_id,
                "enter": enter,
            }
            try:
                await self._redis.publish(self._channel, orjson.dumps(message))
            except RedisError as error:
                log.error("room move not published", extra={"error": str(error)})

    async def disconnect(self, rooms: list[str]) -> None:
        """Disconnect every socket in `rooms`, on every instance."""
        await self._disconnect(rooms)
        if self._redis is not None:
            message = {"from": self._instance, "disconnect": rooms}
            try:
                await self._redis.publish(self._channel, orjson.dumps(message))
            except RedisError as error:
                log.error("disconnect not published", extra={"error": str(error)})

    async def _disconnect(self, rooms: list[str]) -> None:
        for room in rooms:
            sids = [sid for sid, _ in self._server.manager.get_participants("/", room)]
            for sid in sids:
                await self._server.disconnect(sid)

    async def _apply(self, user_id: str, conversation_id: str, *, enter: bool) -> None:
        room = conversation_room(conversation_id)
        sids = [sid for sid, _ in self._server.manager.get_participants("/", user_room(user_id))]
        for sid in sids:
            if enter:
                await self._server.enter_room(sid, room)
            else:
                await self._server.leave_room(sid, room)

    async def _listen(self, pubsub: Any) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    data = orjson.loads(message["data"])
                    if data.get("from") == self._instance:
                        continue
                    if "disconnect" in data:
                        await self._disconnect(data["disconnect"])
                    else:
                        await self._apply(data["user"], data["conversation"], enter=data["enter"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("room mover listener failed; resubscribing")
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await pubsub.subscribe(self._channel)
