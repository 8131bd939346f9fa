"""Load for the shutdown tests: senders that keep sending while instances stop and start, and
resend what was refused or cut off with the same clientMessageId, as the SDK does."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import Server, User, read_all

SENDER_PAUSE = 0.01  # between one accepted send and the next: load, not a flood
RATE_LIMIT = 10_000  # the conversation's messages per minute per member: out of the way


@dataclass
class Ledger:
    """What the senders know: every clientMessageId tried, those the server accepted (an ack
    is a promise: never sent again), and the refusals they met."""

    tried: set[str] = field(default_factory=set)
    accepted: dict[str, str] = field(default_factory=dict)  # clientMessageId -> message id
    refusals: list[httpx.Response] = field(default_factory=list)
    cut_off: int = 0  # transport errors (instance stopped or restarting)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def accept(self, client_message_id: str, message_id: str) -> None:
        self.accepted[client_message_id] = message_id
        self.changed.set()

    async def wait_for_accepted(self, count: int) -> None:
        """Until `count` sends have been accepted (within 30 s)."""
        async with asyncio.timeout(30):
            while len(self.accepted) < count:
                self.changed.clear()
                await self.changed.wait()


async def http_sender(
    urls: list[str],
    user: User,
    conversation_id: str,
    ledger: Ledger,
    stop: asyncio.Event,
    *,
    start_at: int = 0,
) -> None:
    """POST /messages one after another. A 503 or a connection cut off is sent again with the
    same clientMessageId, to the next instance (the answer to a cut-off request is unknown:
    the server stores it once either way); an accepted send is never sent again."""
    index = start_at
    async with httpx.AsyncClient(timeout=10) as http:
        while not stop.is_set():
            client_message_id = str(uuid.uuid4())
            ledger.tried.add(client_message_id)
            while not stop.is_set():  # once stopped, one refused or cut off is left unsent
                try:
                    response = await http.post(
                        urls[index % len(urls)] + "/messages",
                        json={
                            "conversationId": conversation_id,
                            "content": f"http {client_message_id}",
                            "clientMessageId": client_message_id,
                        },
                        headers=user.headers,
                    )
                except httpx.TransportError:
                    ledger.cut_off += 1
                    index += 1
                    await asyncio.sleep(SENDER_PAUSE)
                    continue
                if response.status_code in (200, 202):
                    ledger.accept(client_message_id, response.json()["id"])
                    break
                assert response.status_code == 503, response.text
                ledger.refusals.append(response)
                index += 1
                await asyncio.sleep(SENDER_PAUSE)
            await asyncio.sleep(SENDER_PAUSE)


async def stop_all(tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
    """Let the senders finish the send each has under way (its clientMessageId must be known
    to the test: it may be stored), then stop; a sender that failed (an answer it did not
    expect) fails the test."""
    stop.set()
    _, pending = await asyncio.wait(tasks, timeout=20)
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [
        result
        for result in results
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError)
    ]
    if failures:
        raise failures[0]
    assert not pending, "a sender did not finish its last send"


def sigterm(server: Server) -> float:
    """Send SIGTERM; the monotonic time it was sent."""
    server.process.send_signal(signal.SIGTERM)
    return time.monotonic()


async def exited(server: Server, within: float) -> int:
    """The process's exit status, once it has exited (within `within` seconds)."""
    return await asyncio.to_thread(server.process.wait, within)


def refused_for_shutdown(response: httpx.Response) -> bool:
    body: dict[str, Any] = response.json()["error"]
    return (
        response.status_code == 503
        and body["code"] == "SERVICE_UNAVAILABLE"
        and body["details"].get("reason") == "SHUTTING_DOWN"
        and response.headers.get("Retry-After") == "1"
    )


async def history_with(
    http: httpx.AsyncClient, user: User, conversation_id: str, keys: set[str]
) -> list[dict[str, Any]]:
    """The conversation's messages in seq order, once those with `keys` (clientMessageIds)
    are all there, or as they are after 10 s: a send acknowledged 202 is committed a moment
    after its answer."""
    deadline = time.monotonic() + 10
    while True:
        stored = await read_all(http, user, conversation_id)
        if keys <= {message["clientMessageId"] for message in stored}:
            return stored
        if time.monotonic() > deadline:
            return stored
        await asyncio.sleep(0.1)
