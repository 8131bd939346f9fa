"""The Redis fan-out's cost per emit, python-socketio's pub/sub manager against Parley's
(`parley.realtime.fanout`).

First the CPU of the message format, in microseconds, in this process (no Redis, no sockets):
the library sends a JSON message that every instance, the sender included, decodes, and whose
packet each receiver encodes again; Parley sends the encoded packet behind a small header, and
the sender drops its own by comparing 32 bytes. Then emits one after the other (as the
committer's announcer makes them) through each manager to the machine's Redis, on a channel of
their own, until Redis has taken the last one: the library awaits a PUBLISH per emit, Parley
queues it and pipelines. Prints two tables; nothing is asserted.

    .venv/bin/python -m bench.fanout_codec
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import timeit
import uuid
from typing import Any

import orjson
import socketio
from socketio import packet

from parley.realtime.fanout import LocalFirstRedisManager, skip_rooms

HOST = uuid.uuid4().hex
OTHER = uuid.uuid4().hex.encode()


def _payload() -> dict[str, Any]:
    """The shape and size of a `new_message` event (about 900 bytes of JSON)."""
    return {
        "message": {
            "id": str(uuid.uuid4()),
            "conversationId": str(uuid.uuid4()),
            "senderId": str(uuid.uuid4()),
            "sender": {"id": str(uuid.uuid4()), "username": "alice_1234", "displayName": "Alice"},
            "seq": 123456,
            "clientMessageId": "cm-" + uuid.uuid4().hex,
            "type": "TEXT",
            "content": "The quick brown fox jumps over the lazy dog. " * 6,
            "status": "SENT",
            "createdAt": "2026-12-02T18:00:00.000000Z",
            "editedAt": None,
            "replyToId": None,
            "threadRootId": None,
            "mentions": [],
            "hashtags": ["fox"],
            "reactions": [],
            "attachments": [],
        },
        "conversationId": str(uuid.uuid4()),
    }


def main() -> None:
    payload = _payload()
    room = "conversation:" + payload["conversationId"]
    skip = skip_rooms(["user:" + payload["message"]["senderId"]])

    def encode_packet() -> str:
        return str(
            packet.Packet(packet.EVENT, namespace="/", data=["new_message", payload]).encode()
        )

    library_message = json.dumps(
        {
            "method": "emit",
            "event": "new_message",
            "data": [payload],
            "binary": False,
            "namespace": "/",
            "room": room,
            "skip_sid": skip,
            "callback": None,
            "host_id": HOST,
        }
    ).encode()
    encoded = encode_packet()
    ours = OTHER + b"E" + orjson.dumps({"n": "/", "r": room, "s": skip}) + b"\n" + encoded.encode()
    own_prefix = HOST.encode()

    def library_publish() -> bytes:
        encode_packet()  # the local delivery's packet
        message = {
            "method": "emit",
            "event": "new_message",
            "data": [payload],
            "binary": False,
            "namespace": "/",
            "room": room,
            "skip_sid": skip,
            "callback": None,
            "host_id": HOST,
        }
        return json.dumps(message).encode()

    def library_own_echo() -> None:
        json.loads(library_message)  # decoded, then dropped by host_id

    def library_remote() -> str:
        data = json.loads(library_message)
        return str(
            packet.Packet(packet.EVENT, namespace="/", data=["new_message", *data["data"]]).encode()
        )

    def ours_publish() -> bytes:
        text = encode_packet()
        header = orjson.dumps({"n": "/", "r": room, "s": skip})
        return own_prefix + b"E" + header + b"\n" + text.encode()

    def ours_own_echo() -> bool:
        return (own_prefix + ours[32:]).startswith(own_prefix)

    def ours_remote() -> str:
        header, _, text = ours[33:].partition(b"\n")
        orjson.loads(header)
        return text.decode()

    rows = [
        ("publish (packet + message)", library_publish, ours_publish),
        ("own publication read back", library_own_echo, ours_own_echo),
        ("each other instance", library_remote, ours_remote),
    ]
    stdlib_packet = min(timeit.repeat(encode_packet, number=20_000, repeat=5)) / 20_000 * 1e6
    orjson_body = (
        min(timeit.repeat(lambda: orjson.dumps(["new_message", payload]), number=20_000, repeat=5))
        / 20_000
        * 1e6
    )
    print(f"\nfan-out message format, new_message of {len(encoded)} bytes; us per emit (best of 5)")
    print(f"{'step':<30}{'python-socketio':>17}{'parley':>10}{'ratio':>8}")
    for name, library, parley in rows:
        times = [
            min(timeit.repeat(f, number=20_000, repeat=5)) / 20_000 * 1e6 for f in (library, parley)
        ]
        print(f"{name:<30}{times[0]:>17.2f}{times[1]:>10.2f}{times[0] / times[1]:>7.1f}x")

    print(
        f"(of which the packet's JSON, stdlib json: {stdlib_packet:.2f} us; "
        f"the same body through orjson: {orjson_body:.2f} us)"
    )

    asyncio.run(_sequential_emits(payload, os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")))


async def _sequential_emits(payload: dict[str, Any], url: str, count: int = 3000) -> None:
    channel = f"bench-fanout-{uuid.uuid4().hex}"
    managers: dict[str, Any] = {
        "python-socketio AsyncRedisManager": socketio.AsyncRedisManager(url, channel=channel),
        "parley LocalFirstRedisManager": LocalFirstRedisManager(url, channel=channel),
    }
    print(f"\n{count} emits one after the other to a room of another instance, Redis at {url}")
    print(f"{'manager':<36}{'emits/s':>10}{'us per emit':>13}")
    for _round in range(3):
        for name, manager in managers.items():
            socketio.AsyncServer(async_mode="asgi", client_manager=manager)
            started = time.perf_counter()
            for _ in range(count):
                await manager.emit("new_message", payload, namespace="/", room="conversation:x")
            if isinstance(manager, LocalFirstRedisManager):
                await manager.flush()
            elapsed = time.perf_counter() - started
            print(f"{name:<36}{count / elapsed:>10.0f}{elapsed / count * 1e6:>13.1f}")
    for manager in managers.values():
        await manager.redis.aclose()


if __name__ == "__main__":
    main()
