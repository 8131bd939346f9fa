"""Room emits: encoded once, delivered to this instance's sockets at once, published once for
the other instances, and never waiting for Redis.

Local delivery (`EncodeOnce`). python-socketio's manager encodes an emit once, then starts an
asyncio task per recipient socket and waits for all of them. Each task only puts the packet on
that socket's outgoing queue (an unbounded `asyncio.Queue`, so the put never waits), which
makes the task and the wait pure overhead: with a large room it is most of the CPU an emit
costs (design.md). `EncodeOnce` replaces that with a plain loop over the recipients (a socket
found past its ping timeout is closed inline by the library, as before, but only delays the
recipients after it by its disconnect handler). Emits with an acknowledgement callback (none
in Parley) keep the library's path.

Across instances (`LocalFirstRedisManager`). python-socketio 5.18's Redis manager already
delivers locally before it publishes, but:
- `emit` awaits the PUBLISH, so every emit of the committer's announcer (one task, commit
  order) waits for a Redis round trip before the next message reaches even a local socket;
  under load each round trip costs at least one turn of a busy event loop, and a frozen Redis
  stops local delivery altogether;
- the payload is encoded twice (the socket packet, then the message JSON), and every receiving
  instance decodes it and encodes the packet again;
- every instance reads its own publications back and JSON-decodes them only to drop them;
- room moves (`rooms.py`) travelled on a second channel and connection, so a remote instance
  could apply a member's removal before the `participant_removed` emitted just before it.
Here an emit is delivered locally and its already-encoded packet is put on an outbox; one
publisher task sends the outbox to Redis in order, as one pipelined round trip per batch
(batches grow with load). A publication is `host id + kind + body`: the receiver drops its own
by comparing 32 bytes, and for an emit it parses only a small header (namespace, room, skip)
and hands the packet text to its sockets as it came. Room moves and the library's own
cross-instance messages (a remote sid's disconnect or room change, callbacks, close_room) go
through the same outbox and the same listener, so everything one instance publishes is applied
by every other in the order it happened there.

Order: a sender's messages are announced by one task in commit order; local sockets get them
in that order from the loop above, and remote ones from the FIFO outbox -> one subscriber
connection -> one listener task. (Two sends of one user through two instances are ordered by
`seq`, not by arrival, as before.)

Failure: events are best effort (docs/architecture.md): a batch that fails is retried once on
a new connection, then dropped and logged; past OUTBOX_LIMIT waiting publications (Redis
frozen) new ones are dropped, never local deliveries. Clients catch up by `seq`.

Compatibility: messages in python-socketio's JSON format (from an external write-only
manager, or an older Parley) are still understood. An older Parley cannot read this format and
ignores it, so during a rolling deploy from a version before it, events emitted on upgraded
instances do not reach sockets on old ones until they are upgraded (clients catch up by
`seq`); within one version nothing changes.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import socketio
from engineio import packet as eio_packet
from socketio import packet

log = logging.getLogger(__name__)


_SKIP_ROOMS = "skipRooms"

# Publications waiting for Redis beyond which new ones are dropped (Redis down or frozen).
OUTBOX_LIMIT = 10_000
# Publications sent in one pipelined round trip at most.
BATCH_LIMIT = 500
_HOST_ID_BYTES = 32  # uuid4().hex
_EMIT = b"E"
_RELAY = b"R"

Relay = Callable[[bytes], Awaitable[None]]


def skip_rooms(rooms: list[str]) -> dict[str, list[str]]:
    """A `skip_sid` value meaning "not the sockets in these rooms". The sids of a room are
    known only on the instance holding the sockets, so the rooms travel with the emit and each
    instance resolves them locally."""
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
        if namespace not in self.rooms:
            return
        encoded = _encode(self.server, event, data, namespace)
        await self.deliver(namespace, to or room, skip_sid, _frames(encoded))

    async def deliver(
        self, namespace: str, room: Any, skip_sid: Any, frames: list[eio_packet.Packet]
    ) -> None:
        """Queue `frames` to this instance's sockets in `room`, but not those `skip_sid` names
        (a sid, a list of sids, or `skip_rooms(...)`)."""
        if namespace not in self.rooms:
            return
        if isinstance(skip_sid, dict):
            skipped = {sid for sid, _ in self.get_participants(namespace, skip_sid[_SKIP_ROOMS])}
        else:
            skipped = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        send = self.server.eio.send_packet
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skipped:
                continue
            try:
                for frame in frames:
                    await send(eio_sid, frame)
            except Exception:  # a socket closing under us must not cost the others the event
                log.debug("emit to a closing socket skipped", exc_info=True)


def _encode(server: Any, event: str, data: Any, namespace: str) -> str | list[Any]:
    if isinstance(data, tuple):
        arguments = list(data)
    elif data is not None:
        arguments = [data]
    else:
        arguments = []
    encoded: str | list[Any] = server.packet_class(
        packet.EVENT, namespace=namespace, data=[event, *arguments]
    ).encode()
    return encoded


def _frames(encoded: str | list[Any]) -> list[eio_packet.Packet]:
    parts = encoded if isinstance(encoded, list) else [encoded]
    return [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]


class LocalFirstRedisManager(socketio.AsyncRedisManager, EncodeOnce):  # type: ignore[misc]
    """Delivers locally at once, publishes once for the other instances (see the module)."""

    connected: bool  # set by the library's Redis manager

    def __init__(
        self,
        url: str,
        *,
        channel: str,
        password: str | None = None,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        options = {**(redis_options or {}), **({"password": password} if password else {})}
        super().__init__(url, channel=channel, redis_options=options or None)
        self._prefix = self.host_id.encode()
        assert len(self._prefix) == _HOST_ID_BYTES
        self._outbox: collections.deque[bytes] = collections.deque()
        self._wake = asyncio.Event()
        self._publisher: asyncio.Task[None] | None = None
        self._dropping = False
        self._drained = asyncio.Event()
        self._drained.set()
        self._relay_handler: Relay | None = None

    # --- emitting -------------------------------------------------------------------------

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        namespace = namespace or "/"
        room = to or room
        if kwargs.get("ignore_queue"):
            await EncodeOnce.emit(self, event, data, namespace, room=room, skip_sid=skip_sid)
            return
        encoded = _encode(self.server, event, data, namespace) if callback is None else None
        if not isinstance(encoded, str):
            # A callback (a per-recipient packet id) or binary attachments: the library's way
            # (local, then its JSON message, which `_publish` below queues in order).
            await super().emit(
                event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback
            )
            return
        await self.deliver(namespace, room, skip_sid, _frames(encoded))
        header = orjson.dumps({"n": namespace, "r": room, "s": skip_sid})
        self._queue(_EMIT + header + b"\n" + encoded.encode())

    async def relay(self, body: bytes) -> None:
        """Publish `body` to the other instances' relay handler, in order with the emits."""
        self._queue(_RELAY + body)

    def on_relay(self, handler: Relay) -> None:
        """Where relayed bodies from other instances go (`rooms.RoomMover`)."""
        self._relay_handler = handler

    async def _publish(self, data: Any) -> None:
        """The library's cross-instance messages, in its own JSON format, through the outbox."""
        self._queue_raw(self.json.dumps(data).encode())

    def _queue(self, message: bytes) -> None:
        self._queue_raw(self._prefix + message)

    def _queue_raw(self, message: bytes) -> None:
        if len(self._outbox) >= OUTBOX_LIMIT:
            if not self._dropping:
                self._dropping = True
                log.error(
                    "redis fan-out behind: publications dropped", extra={"waiting": OUTBOX_LIMIT}
                )
            return
        self._outbox.append(message)
        self._drained.clear()
        self._wake.set()
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_outbox(), name="parley-fanout")

    async def _publish_outbox(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                count = min(len(self._outbox), BATCH_LIMIT)
                batch = [self._outbox.popleft() for _ in range(count)]
                await self._send(batch)
                if len(self._outbox) < OUTBOX_LIMIT // 2:
                    self._dropping = False
            self._drained.set()

    async def _send(self, batch: list[bytes]) -> None:
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                pipe = self.redis.pipeline(transaction=False)
                for message in batch:
                    pipe.publish(self.channel, message)
                await pipe.execute()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.connected = False
                if attempt == 2:
                    log.error(
                        "redis fan-out failed: publications dropped",
                        extra={"count": len(batch), "error": type(error).__name__},
                    )

    async def flush(self) -> None:
        """Return once what was queued has been handed to Redis (or dropped), so an orderly
        shutdown publishes the events of its last commits; the caller bounds the wait."""
        await self._drained.wait()
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
            self._publisher = None

    # --- receiving ------------------------------------------------------------------------

    async def _thread(self) -> None:
        """The library's listener loop, reading this format and its own."""
        while True:
            try:
                async for message in self._listen():
                    try:
                        await self._receive(message)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("fan-out message from another instance not applied")
            except asyncio.CancelledError:
                break
            except Exception:
                log.exception("fan-out listener failed; resubscribing")

    async def _receive(self, message: bytes) -> None:
        if message.startswith(self._prefix):
            return  # our own: delivered locally when it was emitted
        if message[:1] == b"{":
            await self._receive_library_message(self.json.loads(message))
            return
        kind, body = message[_HOST_ID_BYTES : _HOST_ID_BYTES + 1], message[_HOST_ID_BYTES + 1 :]
        if kind == _EMIT:
            header, _, encoded = body.partition(b"\n")
            fields = orjson.loads(header)
            await self.deliver(fields["n"], fields["r"], fields["s"], _frames(encoded.decode()))
        elif kind == _RELAY and self._relay_handler is not None:
            await self._relay_handler(body)

    async def _receive_library_message(self, data: dict[str, Any]) -> None:
        """As python-socketio's `AsyncPubSubManager._thread` dispatches its messages."""
        method = data.get("method")
        if method == "callback":
            await self._handle_callback(data)
        elif data.get("host_id") == self.host_id:
            return
        elif method == "emit":
            await self._handle_emit(data)
        elif method == "disconnect":
            await self._handle_disconnect(data)
        elif method == "enter_room":
            await self._handle_enter_room(data)
        elif method == "leave_room":
            await self._handle_leave_room(data)
        elif method == "close_room":
            await self._handle_close_room(data)
