"""Room emits that do no per-recipient work beyond queueing one shared packet.

python-socketio's manager encodes an emit once, then starts an asyncio task per recipient
socket and waits for all of them. Each task only puts the packet on that socket's outgoing
queue (an unbounded `asyncio.Queue`, so the put never waits), which makes the task and the
wait pure overhead: with a large room it is most of the CPU an emit costs (design.md).
`EncodeOnce` replaces that local delivery with a plain loop over the recipients (a socket
found past its ping timeout is closed inline by the library, as before, but only delays the
recipients after it by its disconnect handler). Emits with an acknowledgement callback (none
in Parley) keep the library's path.

Mixed in below the pub/sub manager, it also serves emits arriving from other instances
through Redis (the pub/sub manager hands them to the local `emit`).
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet

log = logging.getLogger(__name__)


_SKIP_ROOMS = "skipRooms"


def skip_rooms(rooms: list[str]) -> dict[str, list[str]]:
    """A `skip_sid` value meaning "not the sockets in these rooms". The sids of a room are
    known only on the instance holding the sockets, so the rooms travel with the emit (the
    Redis manager passes `skip_sid` on as it is) and each instance resolves them locally."""
    return {_SKIP_ROOMS: list(rooms)}


class EncodeOnce(socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(
                event,
                data,
                namespace,
                room=room,
                skip_sid=skip_sid,
                callback=callback,
                to=to,
                **kwargs,
            )
            return
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            arguments = list(data)
        elif data is not None:
            arguments = [data]
        else:
            arguments = []
        if isinstance(skip_sid, dict):
            skipped = {sid for sid, _ in self.get_participants(namespace, skip_sid[_SKIP_ROOMS])}
        else:
            skipped = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *arguments]
        ).encode()
        frames = [
            eio_packet.Packet(eio_packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        send = self.server.eio.send_packet
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skipped:
                continue
            try:
                for frame in frames:
                    await send(eio_sid, frame)
            except Exception:  # a socket closing under us must not cost the others the event
                log.debug("emit to a closing socket skipped", exc_info=True)


class EncodeOnceRedisManager(socketio.AsyncRedisManager, EncodeOnce):  # type: ignore[misc]
    """The Redis manager (publishes each emit once for the other instances), delivering
    locally through `EncodeOnce`."""
