"""A bare Socket.IO app on Parley's Redis manager, for the frozen-Redis fan-out test: a client's
`shout` makes the server emit three `note` events to everyone, one after the other, as the
committer's announcer emits a batch. Served by `uvicorn tests.faults.fanout_app:app`, with
FANOUT_REDIS_URL naming the Redis."""

from __future__ import annotations

import os

import socketio

from parley.realtime.fanout import LocalFirstRedisManager

server = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=LocalFirstRedisManager(os.environ["FANOUT_REDIS_URL"], channel="fanout-test"),
    logger=False,
)


@server.on("shout")
async def shout(_sid: str, _data: object) -> None:
    for n in range(3):
        await server.emit("note", {"n": n})


app = socketio.ASGIApp(server)
