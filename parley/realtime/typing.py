"""Typing indicators: throttled, and ending by themselves.

Clients send `typing_start` again every few seconds while the user types. This instance tells
the room once per THROTTLE_SECONDS per user and conversation, and, when no renewal comes
within TYPING_TIMEOUT, tells the room the user stopped, so an indicator never sticks after a
client vanished without `typing_stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

THROTTLE_SECONDS = 2.0

Announce = Callable[[uuid.UUID, uuid.UUID, bool], Awaitable[None]]


@dataclass
class _Typing:
    announced_at: float
    expiry: asyncio.Task[None]


class TypingTracker:
    def __init__(self, announce: Announce, timeout_seconds: float) -> None:
        self._announce = announce
        self._timeout = timeout_seconds
        self._active: dict[tuple[uuid.UUID, uuid.UUID], _Typing] = {}

    async def start(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
        key = (conversation_id, user_id)
        now = time.monotonic()
        previous = self._active.pop(key, None)
        if previous is not None:
            previous.expiry.cancel()
        announce = previous is None or now - previous.announced_at >= THROTTLE_SECONDS
        self._active[key] = _Typing(
            announced_at=now if announce else previous.announced_at,  # type: ignore[union-attr]
            expiry=asyncio.create_task(self._expire(key)),
        )
        if announce:
            await self._announce(conversation_id, user_id, True)

    async def stop(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
        current = self._active.pop((conversation_id, user_id), None)
        if current is not None:
            current.expiry.cancel()
        await self._announce(conversation_id, user_id, False)

    async def _expire(self, key: tuple[uuid.UUID, uuid.UUID]) -> None:
        await asyncio.sleep(self._timeout)
        current = self._active.get(key)
        if current is not None and current.expiry is asyncio.current_task():
            del self._active[key]
            with contextlib.suppress(Exception):
                await self._announce(key[0], key[1], False)
