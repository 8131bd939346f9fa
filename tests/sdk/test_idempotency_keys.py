"""The SDK's calls that create things (issue 10, point 2) carry an `Idempotency-Key`: a fresh
one per call, the same one when the SDK retries that call after losing the answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from parley.client import ParleyClient
from tests.support import PASSWORD, Server, User, read_all, send


@dataclass
class Recorder:
    """An HTTP endpoint that notes each request's Idempotency-Key and drops the first
    connection without answering (the answer lost on the way back)."""

    url: str = ""
    keys: list[str | None] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n")[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        await reader.readexactly(int(headers.get("content-length", "0")))
        self.keys.append(headers.get("idempotency-key"))
        if len(self.keys) % 2 == 1:
            writer.close()  # processed, but the client never hears it
            return
        body = json.dumps({"id": "made"}).encode()
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    recording = Recorder()
    listener = await asyncio.start_server(recording.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    recording.url = f"http://127.0.0.1:{port}"
    yield recording
    listener.close()
    await listener.wait_closed()


async def test_a_retried_create_sends_the_same_key_and_the_next_call_a_new_one(
    recorder: Recorder,
) -> None:
    # The same endpoint twice: the SDK's retry on "the next URL" reaches it again.
    parley = ParleyClient([recorder.url, recorder.url], token="t")

    first = await parley.create_conversation("GROUP", ["u1"], name="room")
    second = await parley.add_participants("c1", ["u2"])

    assert first == second == {"id": "made"}
    assert len(recorder.keys) == 4 and all(recorder.keys)
    assert recorder.keys[0] == recorder.keys[1]  # one call, retried: one key
    assert recorder.keys[2] == recorder.keys[3]
    assert recorder.keys[0] != recorder.keys[2]  # another call: another key


async def test_create_add_and_forward_through_the_sdk(
    server: Server, client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    parley = ParleyClient([server.url])
    await parley.login(alice.username, PASSWORD)

    room = await parley.create_conversation("GROUP", [bob.id], name="sdk room")
    await parley.add_participants(room["id"], [carol.id])
    other = await parley.create_conversation("GROUP", [carol.id], name="sdk other")
    message = await send(client, alice, room["id"], "pass it on")
    forwarded = await parley.forward(message["id"], [other["id"]], wait=True)

    assert forwarded["items"][0]["conversationId"] == other["id"]
    assert forwarded["items"][0]["status"] == "SENT"
    assert [m["content"] for m in await read_all(client, carol, room["id"])] == ["pass it on"]
    stored = await read_all(client, carol, other["id"])
    assert [(m["content"], m["type"]) for m in stored] == [("pass it on", "FORWARD")]
