"""Typing indicators: throttled both ways, and ending by themselves.

Clients send `typing_start` again every few seconds while the user types, and `typing_stop`
when they stop. This instance keeps, per user and conversation, what the room was last told:
- `isTyping: true` goes out at most once per THROTTLE_SECONDS (a renewal after that repeats it,
  so late joiners see it);
- `isTyping: false` goes out only when the room was told `true`, so a stop without a start
  announced before it is silent;
- a start held back by the throttle is not lost: when its window ends, the room is told what
  the user is doing then, if that differs from what it was told.
So a burst of alternating starts and stops costs at most one start and one stop per window,
and the room always ends in the typist's state. When no renewal comes within TYPING_TIMEOUT,
the room is told the user stopped, so an indicator never sticks after a client vanished
without `typing_stop`; when the socket that last said its user was typing disconnects, the
room is told at once (a closed tab stops typing now, not TYPING_TIMEOUT later).
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
Key = tuple[uuid.UUID, uuid.UUID]


@dataclass
class _Typing:
    started_at: float  # when the room was last told `true` (the throttle window's start)
    announced: bool  # what the room was last told
    typing: bool  # what the user last said
    sid: str  # the socket that said it last
    expiry: asyncio.Task[None] | None = None
    window_end: asyncio.Task[None] | None = None


class TypingTracker:
    def __init__(self, announce: Announce, timeout_seconds: float) -> None:
        self._announce = announce
        self._timeout = timeout_seconds
        self._states: dict[Key, _Typing] = {}
        # The keys each socket started, whatever became of them since (kept until it leaves).
        self._started_by: dict[str, set[Key]] = {}

    async def start(self, conversation_id: uuid.UUID, user_id: uuid.UUID, sid: str) -> None:
        key = (conversation_id, user_id)
        now = time.monotonic()
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _Typing(
                started_at=now, announced=False, typing=True, sid=sid
            )
            elapsed = THROTTLE_SECONDS
        else:
            elapsed = now - state.started_at
        state.typing, state.sid = True, sid
        self._started_by.setdefault(sid, set()).add(key)
        _cancel(state.expiry)
        state.expiry = asyncio.create_task(self._expire(key))
        if elapsed >= THROTTLE_SECONDS:
            _cancel(state.window_end)
            state.window_end = None
            state.started_at, state.announced = now, True
            await self._announce(conversation_id, user_id, True)
        elif not state.announced and state.window_end is None:
            state.window_end = asyncio.create_task(
                self._end_window(key, state.started_at + THROTTLE_SECONDS - now)
            )

    async def stop(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
        key = (conversation_id, user_id)
        state = self._states.get(key)
        if state is None:
            return
        state.typing = False
        _cancel(state.expiry)
        state.expiry = None
        remaining = state.started_at + THROTTLE_SECONDS - time.monotonic()
        if remaining <= 0:
            _cancel(state.window_end)
            del self._states[key]  # the window is over: forget the user
        elif state.window_end is None:
            # Keep the window (a start within it stays throttled), then forget the user.
            state.window_end = asyncio.create_task(self._end_window(key, remaining))
        if state.announced:
            state.announced = False
            await self._announce(conversation_id, user_id, False)

    async def socket_left(self, sid: str) -> None:
        """The socket is gone: where it was the one typing, its user stopped."""
        for conversation_id, user_id in self._started_by.pop(sid, ()):
            state = self._states.get((conversation_id, user_id))
            if state is not None and state.sid == sid and state.typing:
                await self.stop(conversation_id, user_id)

    async def _end_window(self, key: Key, delay: float) -> None:
        """The throttle window ends: tell the room a start it held back if the user is still
        typing, or forget the user if not."""
        await asyncio.sleep(delay)
        state = self._states.get(key)
        if state is None or state.window_end is not asyncio.current_task():
            return
        state.window_end = None
        if not state.typing:
            del self._states[key]
        elif not state.announced:
            state.started_at, state.announced = time.monotonic(), True
            with contextlib.suppress(Exception):
                await self._announce(key[0], key[1], True)

    async def _expire(self, key: Key) -> None:
        await asyncio.sleep(self._timeout)
        state = self._states.get(key)
        if state is None or state.expiry is not asyncio.current_task():
            return
        del self._states[key]
        _cancel(state.window_end)
        if state.announced:
            with contextlib.suppress(Exception):
                await self._announce(key[0], key[1], False)


def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
