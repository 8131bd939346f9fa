"""SIGTERM on one instance (SQLite, or PostgreSQL + Redis): the sends it accepted are all
committed and confirmed before its sockets are told to go, new sends and sockets are refused
meanwhile, the sockets' reconnect delays are spread over the window, and the process exits
within its grace period. Then started again on the same database: everything accepted is
there once, in contiguous seq."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import socketio

from tests.conftest import own_storage, start_server
from tests.realtime.sockets import Recorder
from tests.shutdown.load import (
    RATE_LIMIT,
    Ledger,
    exited,
    http_sender,
    refused_for_shutdown,
    sigterm,
    stop_all,
)
from tests.support import Server, User, create_conversation, read_all, register

GRACE_SECONDS = 10
SPREAD_SECONDS = 1


@pytest.fixture
def storage(backend_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_storage(backend_env, "drain") as env:
        yield {
            **env,
            "SHUTDOWN_GRACE": f"{GRACE_SECONDS}s",
            "SHUTDOWN_RECONNECT_SPREAD": f"{SPREAD_SECONDS}s",
        }


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


async def connect(server: Server, user: User, **options: Any) -> Recorder:
    recorder = Recorder(**options)
    await recorder.client.connect(server.url, auth={"token": user.token}, transports=["websocket"])
    return recorder


def drained(recorder: Recorder) -> list[tuple[str, Any]]:
    events = []
    while not recorder.events.empty():
        events.append(recorder.events.get_nowait())
    return events


async def socket_sender(
    socket: Recorder, conversation_id: str, ledger: Ledger, stop: asyncio.Event
) -> None:
    """`send_message` one after another until the server refuses (shutting down) or cuts the
    socket; what it acknowledged goes into the ledger."""
    while not stop.is_set():
        client_message_id = str(uuid.uuid4())
        ledger.tried.add(client_message_id)
        try:
            ack = await socket.call(
                "send_message",
                {
                    "conversationId": conversation_id,
                    "content": f"socket {client_message_id}",
                    "clientMessageId": client_message_id,
                },
            )
        except (socketio.exceptions.SocketIOError, TimeoutError):
            return
        if not ack["ok"]:
            assert ack["error"]["code"] == "SERVICE_UNAVAILABLE", ack
            assert ack["error"]["details"]["reason"] == "SHUTTING_DOWN", ack
            return
        ledger.accept(client_message_id, ack["message"]["id"])


async def test_sends_accepted_before_sigterm_are_confirmed_before_the_sockets_go_and_kept(
    storage: dict[str, str], servers: list[Server]
) -> None:
    server = start_server(storage)
    servers.append(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        alice, bob = await register(http, "alice"), await register(http, "bob")
        conversation = (await create_conversation(http, alice, [bob], rateLimit=RATE_LIMIT))["id"]
    # Alice's own socket hears the confirmation of every send of hers, HTTP ones too.
    watcher = await connect(server, alice, ignore=frozenset({"user_status_changed", "new_message"}))
    sender = await connect(server, alice)
    ledger, stop = Ledger(), asyncio.Event()
    tasks = [
        asyncio.create_task(http_sender([server.url], alice, conversation, ledger, stop))
        for _ in range(6)
    ]
    tasks.append(asyncio.create_task(socket_sender(sender, conversation, ledger, stop)))
    try:
        await ledger.wait_for_accepted(100)  # a burst under way
        signalled = sigterm(server)
        status = await exited(server, GRACE_SECONDS + 5)
        took = time.monotonic() - signalled
    finally:
        await stop_all(tasks, stop)
        for recorder in (watcher, sender):
            await recorder.close()

    assert status == -signal.SIGTERM, f"not a graceful exit: {status}"  # 70: the watchdog
    assert took < GRACE_SECONDS
    assert any(refused_for_shutdown(response) for response in ledger.refusals)
    events = drained(watcher)
    names = [name for name, _ in events]
    assert names.count("server_shutdown") == 1, names[-5:]
    hint = names.index("server_shutdown")
    assert 0 <= events[hint][1]["reconnectAfterMs"] <= SPREAD_SECONDS * 1000
    confirmed_first = {
        data["clientMessageId"] for name, data in events[:hint] if name == "message_confirmed"
    }
    assert set(ledger.accepted) <= confirmed_first

    server = start_server(storage)
    servers.append(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        stored = await read_all(http, bob, conversation)
    counts = Counter(message["clientMessageId"] for message in stored)
    assert [key for key, count in counts.items() if count > 1] == []
    assert set(ledger.accepted) <= set(counts) <= ledger.tried
    assert {message["id"] for message in stored} >= set(ledger.accepted.values())
    assert [message["seq"] for message in stored] == list(range(1, len(stored) + 1))


async def test_a_stopping_server_spreads_its_sockets_reconnects_and_refuses_new_sockets(
    storage: dict[str, str], servers: list[Server]
) -> None:
    server = start_server(storage)
    servers.append(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        alice = await register(http, "alice")
        sockets = [await connect(server, alice) for _ in range(12)]
        cut_at: dict[int, float] = {}
        for number, recorder in enumerate(sockets):

            def cut(*_reason: Any, number: int = number) -> None:
                cut_at[number] = time.monotonic()

            recorder.client.on("disconnect", cut)
        late = Recorder()
        try:
            sigterm(server)
            hints = []
            for recorder in sockets:
                hints.append(await recorder.next_of("server_shutdown"))
                heard_at = time.monotonic()
                assert recorder.client.connected  # told first, cut later
                hints[-1]["heardAt"] = heard_at

            with pytest.raises(socketio.exceptions.ConnectionError):
                await late.client.connect(
                    server.url, auth={"token": alice.token}, transports=["websocket"]
                )
            health = await http.get("/health")
            await exited(server, GRACE_SECONDS + 5)
        finally:
            for recorder in [*sockets, late]:
                await recorder.close()

    assert late.connect_errors[0]["message"].startswith("SERVICE_UNAVAILABLE")
    assert health.status_code == 503 and health.json()["status"] == "draining"
    delays = [hint["reconnectAfterMs"] for hint in hints]
    assert all(0 <= delay <= SPREAD_SECONDS * 1000 for delay in delays), delays
    assert len(set(delays)) > 1, delays  # jittered per socket
    assert len(cut_at) == len(sockets)
    for number, hint in enumerate(hints):
        # Disconnected by the server no sooner than the delay it announced.
        assert cut_at[number] - hint["heardAt"] >= hint["reconnectAfterMs"] / 1000 - 0.05


@pytest.fixture
async def write_lock(storage: dict[str, str]) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """`take()` holds the database's write lock from outside the server until the test ends
    (SQLite: an IMMEDIATE transaction on the file; PostgreSQL: the conversations table
    locked), so the server's commits wait."""
    release: list[Callable[[], Awaitable[None]]] = []

    async def take() -> None:
        if "DATABASE_URL" in storage:
            connection = await asyncpg.connect(storage["DATABASE_URL"])
            await connection.execute("BEGIN; LOCK TABLE conversations IN EXCLUSIVE MODE")
            release.append(connection.close)
        else:
            database = sqlite3.connect(
                Path(storage["PARLEY_DATA_DIR"]) / "parley.db", isolation_level=None
            )
            database.execute("BEGIN IMMEDIATE")

            async def close() -> None:
                database.close()

            release.append(close)

    yield take
    for step in release:
        await step()


async def test_a_shutdown_whose_commits_hang_still_exits_within_the_grace_period(
    storage: dict[str, str], servers: list[Server], write_lock: Callable[[], Awaitable[None]]
) -> None:
    grace = 4
    server = start_server(storage, {"SHUTDOWN_GRACE": f"{grace}s"})
    servers.append(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        alice = await register(http, "alice")
        conversation = (await create_conversation(http, alice, []))["id"]
        await write_lock()
        response = await http.post(
            "/messages",
            json={"conversationId": conversation, "content": "stuck"},
            headers=alice.headers,
        )
        assert response.status_code == 202, response.text  # accepted; its commit waits

    signalled = sigterm(server)
    status = await exited(server, grace + 5)
    took = time.monotonic() - signalled

    assert status == 70  # the watchdog: the grace period ran out
    assert grace - 0.5 <= took < grace + 2
