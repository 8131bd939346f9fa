"""A stopping instance hands its sockets over to the others, spread over a window.

Each socket gets its own delay, drawn uniformly in [0, SHUTDOWN_RECONNECT_SPREAD], and hears
`server_shutdown {reconnectAfterMs}` at once: a client that knows the event keeps its socket
(and the messages it brings) until its delay has passed, then reconnects, to another instance
if it knows one. The server disconnects each socket a moment after its delay
(`DISCONNECT_SLACK_SECONDS`), so a client that ignores the event, and reconnects as soon as it
is cut, is spread over the same window: a rolling deploy does not bring every client of an
instance back in the same instant. (socket.io clients do not reconnect on their own after a
server disconnect; Parley's do, after the delay.)

Sends on these sockets are refused meanwhile (503 SERVICE_UNAVAILABLE, reason SHUTTING_DOWN)
and resent by the clients after they moved; what was accepted before has been committed and
confirmed before the first `server_shutdown` leaves (main.py's drain).
"""

from __future__ import annotations

import asyncio
import logging
import random

import socketio

from parley.realtime.catalogue import SERVER_SHUTDOWN
from parley.realtime.schemas import ServerShutdownEvent

log = logging.getLogger(__name__)

NAMESPACE = "/"
# How long after its announced delay a socket still here is disconnected by the server: a
# client that follows the event leaves on its own first (a clean disconnect of its own).
DISCONNECT_SLACK_SECONDS = 1.0


def connected_sids(server: socketio.AsyncServer) -> list[str]:
    """The sockets of this instance in the default namespace (not those still connecting)."""
    manager = server.manager
    return [
        sid
        for sid, _ in manager.get_participants(NAMESPACE, None)
        if manager.is_connected(sid, NAMESPACE)
    ]


async def hand_over_sockets(
    server: socketio.AsyncServer, *, spread_seconds: float, deadline: float
) -> int:
    """Tell every socket to reconnect after its own jittered delay, then disconnect those
    still here, each a moment after its delay and all by `deadline` (event loop time). New
    sockets are refused meanwhile (the caller set `draining`). Returns how many were told."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    due: list[tuple[float, str]] = []
    for sid in connected_sids(server):
        delay = random.uniform(0, spread_seconds)
        payload = ServerShutdownEvent(reconnect_after_ms=round(delay * 1000))
        # This instance's sockets only: nothing travels through Redis.
        await server.emit(
            str(SERVER_SHUTDOWN.name),
            payload.model_dump(mode="json", by_alias=True),
            to=sid,
            ignore_queue=True,
        )
        due.append((min(started + delay + DISCONNECT_SLACK_SECONDS, deadline), sid))
    told = len(due)
    log.info("graceful shutdown: sockets told to reconnect", extra={"sockets": told})
    due.sort()
    next_index = 0
    while next_index < len(due):
        wait = due[next_index][0] - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        now = loop.time()
        first = next_index
        while next_index < len(due) and due[next_index][0] <= now:
            next_index += 1
        await _disconnect(server, [sid for _, sid in due[first:next_index]])
    # A socket admitted while the list above was being made has had no warning: cut it now
    # (its client reconnects as after any server disconnect).
    await _disconnect(server, connected_sids(server))
    return told


async def _disconnect(server: socketio.AsyncServer, sids: list[str]) -> None:
    # Together: each disconnect handler updates presence (a Redis round trip); the handlers
    # bound how many run at once (realtime/handlers.py).
    results = await asyncio.gather(
        *(server.disconnect(sid, ignore_queue=True) for sid in sids), return_exceptions=True
    )
    for result in results:
        if isinstance(result, Exception):
            log.warning(
                "graceful shutdown: a socket's disconnect failed",
                extra={"error": type(result).__name__},
                exc_info=result,
            )
