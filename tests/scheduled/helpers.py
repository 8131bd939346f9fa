"""Helpers for the scheduled-message tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.realtime.sockets import Recorder
from tests.support import User

# Long enough for the scheduling requests and socket setup to finish first.
LEAD_SECONDS = 2.0


def at(seconds: float) -> str:
    """An ISO-8601 UTC time `seconds` from now."""
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def schedule(
    client: httpx.AsyncClient,
    user: User,
    conversation_id: str,
    content: str,
    when: str,
    **fields: Any,
) -> dict[str, Any]:
    response = await client.post(
        "/messages",
        json={"conversationId": conversation_id, "content": content, "scheduledAt": when, **fields},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "SCHEDULED"
    return body


async def scheduled(client: httpx.AsyncClient, user: User, scheduled_id: str) -> dict[str, Any]:
    response = await client.get(f"/messages/scheduled/{scheduled_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def next_named(recorder: Recorder, name: str, within: float = 10) -> Any:
    """The next `name` event, skipping others (membership events come and go meanwhile)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        left = deadline - asyncio.get_running_loop().time()
        event, data = await asyncio.wait_for(recorder.events.get(), max(left, 0.01))
        if event == name:
            return data


async def wait_for_status(
    client: httpx.AsyncClient, user: User, scheduled_id: str, status: str, within: float = 10
) -> dict[str, Any]:
    """Poll the owner's view of a scheduled message until `status` (a deadline, not a guess:
    the row is marked just after the event the test waited on)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        body = await scheduled(client, user, scheduled_id)
        if body["status"] == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)
