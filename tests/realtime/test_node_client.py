"""Compatibility: the npm socket.io-client v4 in Node drives the server unchanged.

`make test` installs the client (npm ci in tests/realtime/node) before running the suite."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from tests.support import Server, User, create_conversation

NODE_DIR = Path(__file__).parent / "node"


async def test_npm_socket_io_client_connects_sends_receives_types_and_reads(
    server: Server, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    assert (NODE_DIR / "node_modules" / "socket.io-client").is_dir(), (
        "run `npm ci` in tests/realtime/node (make test does)"
    )
    conversation = await create_conversation(client, alice, [bob])

    process = await asyncio.create_subprocess_exec(
        "node",
        "compat.mjs",
        server.url,
        alice.token,
        bob.token,
        conversation["id"],
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 0, (stdout.decode(), stderr.decode())
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["badToken"].startswith("INVALID_TOKEN")
    assert result["ack"]["ok"] is True and result["ack"]["status"] == "PENDING"
    assert result["newMessage"]["id"] == result["ack"]["id"]
    assert result["newMessage"]["content"] == "hello from node"
    assert result["confirmed"] == "node-1"
    assert result["typing"] == {
        "conversationId": conversation["id"],
        "userId": alice.id,
        "isTyping": True,
    }
    assert result["typingStopped"] == {**result["typing"], "isTyping": False}
    assert result["readAck"] == {"ok": True, "unreadCount": 0}
    assert result["receipt"]["userId"] == bob.id
    assert [m["id"] for m in result["sync"]["messages"]] == [result["ack"]["id"]]
