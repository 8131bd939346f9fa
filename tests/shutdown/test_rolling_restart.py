"""A rolling restart of two instances on one PostgreSQL + Redis, under load: instance A gets
SIGTERM and is started again on its address, then B. HTTP senders and SDK clients send all
along, each resending what was refused or cut off with the same clientMessageId. Nothing
accepted is lost, nothing is stored twice, seq stays contiguous, and the SDK sockets of each
stopping instance are told to go and reconnect to the other one."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parley.client import OutboxEntry, ParleyClient
from tests.conftest import BACKEND, start_server
from tests.shutdown.load import (
    RATE_LIMIT,
    SENDER_PAUSE,
    Ledger,
    exited,
    history_with,
    http_sender,
    refused_for_shutdown,
    sigterm,
    stop_all,
)
from tests.support import PASSWORD, create_conversation, register

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="two instances need PostgreSQL and Redis"
)

GRACE_SECONDS = 10
SETTINGS = {"SHUTDOWN_GRACE": f"{GRACE_SECONDS}s", "SHUTDOWN_RECONNECT_SPREAD": "1s"}
# Sends accepted between two steps of the restart: the load goes on throughout.
SENDS_PER_STEP = 40


class Instances:
    """Two instances, each started again on its own address after it stopped."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = {**env, **SETTINGS}
        with concurrent.futures.ThreadPoolExecutor() as pool:
            self.running = list(pool.map(lambda _: start_server(self._env), range(2)))
        # Each is started again on the port it first got (on a free one, and its own).
        self.ports = [int(server.url.rsplit(":", 1)[1]) for server in self.running]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    async def restart(self, index: int) -> tuple[int, float]:
        """SIGTERM one instance, wait for it to exit, start it again where it was: its exit
        status and how long it took to exit."""
        signalled = sigterm(self.running[index])
        status = await exited(self.running[index], GRACE_SECONDS + 5)
        took = time.monotonic() - signalled
        self.running[index] = await asyncio.to_thread(
            start_server, self._env, port=self.ports[index]
        )
        return status, took

    def stop(self) -> None:
        for server in self.running:
            server.stop()


@pytest.fixture
def instances(backend_env: dict[str, str]) -> Iterator[Instances]:
    pair = Instances(backend_env)
    yield pair
    pair.stop()


class SdkSender:
    """A ParleyClient sending one message after another (the SDK resends until confirmed),
    recording the `server_shutdown` hints it hears and where it went after each."""

    def __init__(self, urls: list[str]) -> None:
        self.client = ParleyClient(urls, request_timeout=5, resend_after_seconds=2)
        self.entries: list[OutboxEntry] = []
        self.moves: list[tuple[int, str]] = []  # (reconnectAfterMs, the URL it goes to next)
        self.client.on("server_shutdown", self._told)

    def _told(self, data: dict[str, Any]) -> None:
        self.moves.append((data["reconnectAfterMs"], self.client.url))

    async def run(self, conversation_id: str, ledger: Ledger, stop: asyncio.Event) -> None:
        while not stop.is_set():
            entry = await self.client.send(conversation_id, "sdk")
            self.entries.append(entry)
            ledger.changed.set()
            await asyncio.sleep(SENDER_PAUSE * 2)


async def test_a_rolling_restart_under_load_loses_and_duplicates_nothing(
    instances: Instances,
) -> None:
    urls = instances.urls
    async with httpx.AsyncClient(base_url=urls[0], timeout=10) as http:
        users = [await register(http, name) for name in ("alice", "bob", "carol", "dave")]
        conversation = (await create_conversation(http, users[0], users[1:], rateLimit=RATE_LIMIT))[
            "id"
        ]
    alice, bob, carol, dave = users
    sdk_senders = [SdkSender(urls), SdkSender(list(reversed(urls)))]  # on A, on B
    for sdk, user in zip(sdk_senders, (carol, dave), strict=True):
        await sdk.client.login(user.username, PASSWORD)
        await sdk.client.connect()
    ledger, stop = Ledger(), asyncio.Event()
    tasks = [
        asyncio.create_task(http_sender(urls, alice, conversation, ledger, stop, start_at=0)),
        asyncio.create_task(http_sender(urls, bob, conversation, ledger, stop, start_at=1)),
        *(asyncio.create_task(sdk.run(conversation, ledger, stop)) for sdk in sdk_senders),
    ]
    exits = []
    try:
        await ledger.wait_for_accepted(SENDS_PER_STEP)
        exits.append(await instances.restart(0))
        await ledger.wait_for_accepted(len(ledger.accepted) + SENDS_PER_STEP)
        exits.append(await instances.restart(1))
        await ledger.wait_for_accepted(len(ledger.accepted) + SENDS_PER_STEP)
    finally:
        await stop_all(tasks, stop)
    try:
        async with asyncio.timeout(30):  # the SDK resends until each is confirmed
            for sdk in sdk_senders:
                for entry in sdk.entries:
                    await sdk.client.confirmed(entry.client_message_id)
    finally:
        for sdk in sdk_senders:
            await sdk.client.close()

    for status, took in exits:
        assert status == -signal.SIGTERM and took < GRACE_SECONDS, exits
    assert any(refused_for_shutdown(response) for response in ledger.refusals)
    # Each SDK client was on an instance that stopped: it was told (with a delay within the
    # spread) and went to the other instance's address.
    a, b = urls
    assert [url for _, url in sdk_senders[0].moves] == [b, a]  # A stops (-> B), B stops (-> A)
    assert [url for _, url in sdk_senders[1].moves] == [a]  # B stops (-> A)
    assert all(0 <= delay <= 1000 for sdk in sdk_senders for delay, _ in sdk.moves)

    sdk_sent = {
        entry.client_message_id: entry.message["id"]  # type: ignore[index]
        for sdk in sdk_senders
        for entry in sdk.entries
    }
    accepted = {**ledger.accepted, **sdk_sent}
    async with httpx.AsyncClient(base_url=urls[1], timeout=10) as http:
        stored = await history_with(http, alice, conversation, set(accepted))
    counts = Counter(message["clientMessageId"] for message in stored)
    assert [key for key, count in counts.items() if count > 1] == []
    assert set(accepted) <= set(counts) <= ledger.tried | set(sdk_sent)
    stored_ids = {message["clientMessageId"]: message["id"] for message in stored}
    assert all(stored_ids[key] == message_id for key, message_id in sdk_sent.items())
    assert [message["seq"] for message in stored] == list(range(1, len(stored) + 1))
    assert len(stored) >= 3 * SENDS_PER_STEP
