"""Two Parley servers beside the session's (same database, each with its own Redis key prefix
so their preview caches stay apart) and the loopback page server:

- `open_server`: PREVIEW_ALLOW_PRIVATE=true, so it previews the page server on 127.0.0.1;
- `guarded_server`: the SSRF rules on, with 127.0.0.2/32 as the one allowed exception
  (PREVIEW_ALLOW_NETWORKS), so a permitted hop can redirect to a refused address.

Both with PREVIEW_TIMEOUT=1s, so the slow page's test takes a second, not five.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import start_server, with_redis_prefix
from tests.metrics.support import Samples, scrape, until, value
from tests.previews.pages import PageServer, serving
from tests.realtime.sockets import Recorder, open_socket
from tests.support import Server, User, create_conversation, register, send

PREVIEW_TIMEOUT = "1s"
OUTCOMES = "parley_link_previews_total"
RESULTS = "parley_link_preview_messages_total"


def _server(backend_env: dict[str, str], name: str, extra: dict[str, str]) -> Server:
    env = with_redis_prefix(backend_env, name)
    return start_server(env, {"PREVIEW_TIMEOUT": PREVIEW_TIMEOUT, **extra})


def _stop(running: Server) -> None:
    running.stop()
    if "PARLEY_TEST_KEEP_LOGS" not in os.environ:
        os.unlink(running.log_path)


# Package scope: these servers share the session's database, and on SQLite (no Redis, no
# fan-out between processes) a server still running after this package would, for example,
# send other tests' scheduled messages to its own sockets instead of the session server's.
@pytest.fixture(scope="package")
def open_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = _server(backend_env, "previews-open", {"PREVIEW_ALLOW_PRIVATE": "true"})
    yield running
    _stop(running)


@pytest.fixture(scope="package")
def second_open_server(backend_env: dict[str, str]) -> Iterator[Server]:
    """Another instance like `open_server`, on the same Redis key prefix (PostgreSQL + Redis
    only): they share the preview cache."""
    running = _server(backend_env, "previews-open", {"PREVIEW_ALLOW_PRIVATE": "true"})
    yield running
    _stop(running)


@pytest.fixture(scope="package")
def guarded_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = _server(
        backend_env,
        "previews-guarded",
        {"PREVIEW_ALLOW_PRIVATE": "false", "PREVIEW_ALLOW_NETWORKS": "127.0.0.2/32"},
    )
    yield running
    _stop(running)


@pytest.fixture(scope="package")
async def pages() -> AsyncIterator[PageServer]:
    async with serving() as server:
        yield server


@pytest.fixture(scope="package")
async def open_client(open_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=open_server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="package")
async def guarded_client(guarded_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=guarded_server.url, timeout=30) as http:
        yield http


async def pair(http: httpx.AsyncClient) -> tuple[User, User]:
    return await register(http, "alice"), await register(http, "bob")


async def message_updated(recorder: Recorder, message_id: str, seconds: float = 10) -> Any:
    """The next `message_updated` of `message_id` (other events pass by)."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no message_updated for {message_id}"
        event, data = await asyncio.wait_for(recorder.events.get(), remaining)
        if event == "message_updated" and data["message"]["id"] == message_id:
            return data


@dataclass
class Room:
    """alice and bob (new users) in a conversation of their own on the open server, with a
    socket of bob's listening: most preview tests send as alice and wait for the preview."""

    client: httpx.AsyncClient
    alice: User
    bob: User
    conversation_id: str
    listener: Recorder

    async def send_and_wait(
        self, content: str, sender: User | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Send (as alice unless told); (the message as sent, the message as its
        `message_updated` has it)."""
        sent = await send(self.client, sender or self.alice, self.conversation_id, content)
        updated = (await message_updated(self.listener, sent["id"]))["message"]
        return sent, updated


@pytest.fixture
async def room(
    open_server: Server, open_client: httpx.AsyncClient, sockets: list[Recorder]
) -> Room:
    alice, bob = await pair(open_client)
    conversation = await create_conversation(open_client, alice, [bob])
    listener = await open_socket(sockets, open_server, bob)
    return Room(open_client, alice, bob, conversation["id"], listener)


class Counters:
    """The preview counters of one server, from a baseline: `await counters.reach(...)`
    waits (with a deadline) until each named counter has moved by at least that much."""

    def __init__(self, http: httpx.AsyncClient, baseline: Samples) -> None:
        self._http = http
        self._baseline = baseline

    @classmethod
    async def start(cls, http: httpx.AsyncClient) -> Counters:
        return cls(http, await scrape(http))

    def moved(self, samples: Samples, metric: str, label: str, name: str) -> float:
        return value(samples, metric, **{label: name}) - value(
            self._baseline, metric, **{label: name}
        )

    async def reach(
        self,
        outcomes: dict[str, int] | None = None,
        results: dict[str, int] | None = None,
        any_result: tuple[str, ...] = (),
    ) -> Samples:
        """`any_result`: one more message counted under any of these results."""

        def reached(samples: Samples) -> bool:
            if any_result and not any(
                self.moved(samples, RESULTS, "result", name) >= 1 for name in any_result
            ):
                return False
            return all(
                self.moved(samples, OUTCOMES, "outcome", name) >= count
                for name, count in (outcomes or {}).items()
            ) and all(
                self.moved(samples, RESULTS, "result", name) >= count
                for name, count in (results or {}).items()
            )

        return await until(self._http, reached)
