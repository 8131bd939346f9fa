"""Per-recipient batching windows, shared by every instance through Redis (in process
without it).

A window holds, per recipient, the last `MAX_ITEMS` entries, a count per conversation, and
its due time in one sorted set. `add` records each (message, recipient) pair once (a seen key
with a TTL) and opens the recipient's window if none is open; `take` closes it atomically,
and only the caller whose `take` removed the due entry gets the contents: so each window is
flushed once, whichever instance (the one that opened it, or any instance sweeping overdue
windows after a crash) gets there first. Both are Lua scripts, pipelined: one round trip per
batch.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis

from parley.notifications.schemas import MAX_ITEMS

SEEN_TTL_SECONDS = 86_400  # a pair seen once is never added again within a day
PENDING_TTL_SECONDS = 3_600  # a window nobody flushed (every instance gone) expires
MEMORY_SEEN_KEPT = 200_000
SCRIPT_CHUNK = 500  # entries per script call


@dataclass
class Taken:
    """A closed window: its last entries (oldest first) and per conversation the number of
    messages it held."""

    entries: list[bytes]
    counts: dict[str, int]
    names: dict[str, str]


@dataclass(frozen=True)
class NewEntry:
    recipient_id: uuid.UUID
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    conversation_name: str | None
    entry: bytes


class Windows(Protocol):
    async def add(self, entries: list[NewEntry], *, due: float) -> list[uuid.UUID]:
        """Add the pairs not seen before; the recipients whose window this call opened."""
        ...

    async def take(self, recipient_ids: list[uuid.UUID]) -> list[Taken]:
        """Close these recipients' windows: the contents of those this caller closed (another
        caller may have taken some already)."""
        ...

    async def overdue(self, before: float, limit: int) -> list[uuid.UUID]:
        """Recipients whose window was due before `before` (their opener may be gone)."""
        ...


# KEYS: due, then per entry: pending list, counts hash, seen key.
# ARGV: due time, seen TTL, pending TTL, max items, then per entry: recipient, entry,
# conversation id, conversation name ("" for none).
_ADD = """
local opened = {}
local n = (#KEYS - 1) / 3
for i = 1, n do
  local pending, counts, seen = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local recipient, entry = ARGV[4 * i + 1], ARGV[4 * i + 2]
  local conversation, name = ARGV[4 * i + 3], ARGV[4 * i + 4]
  if redis.call('SET', seen, '1', 'NX', 'EX', ARGV[2]) then
    redis.call('RPUSH', pending, entry)
    redis.call('LTRIM', pending, -tonumber(ARGV[4]), -1)
    redis.call('HINCRBY', counts, 'c:' .. conversation, 1)
    redis.call('HSET', counts, 'n:' .. conversation, name)
    redis.call('EXPIRE', pending, ARGV[3])
    redis.call('EXPIRE', counts, ARGV[3])
    if redis.call('ZADD', KEYS[1], 'NX', ARGV[1], recipient) == 1 then
      table.insert(opened, recipient)
    end
  end
end
return opened
"""

# KEYS: due, pending list, counts hash. ARGV: recipient.
_TAKE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return false
end
local entries = redis.call('LRANGE', KEYS[2], 0, -1)
local counts = redis.call('HGETALL', KEYS[3])
redis.call('DEL', KEYS[2], KEYS[3])
return {entries, counts}
"""


class RedisWindows:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + "notify:"
        self._due = self._prefix + "due"
        self._add: Any = redis.register_script(_ADD)
        self._take: Any = redis.register_script(_TAKE)

    def _pending(self, recipient_id: uuid.UUID) -> str:
        return f"{self._prefix}pending:{recipient_id}"

    def _counts(self, recipient_id: uuid.UUID) -> str:
        return f"{self._prefix}counts:{recipient_id}"

    async def add(self, entries: list[NewEntry], *, due: float) -> list[uuid.UUID]:
        if not entries:
            return []
        # One round trip; the script runs per chunk, so Redis is never held long by one call.
        pipeline = self._redis.pipeline(transaction=False)
        for start in range(0, len(entries), SCRIPT_CHUNK):
            keys = [self._due]
            args: list[Any] = [due, SEEN_TTL_SECONDS, PENDING_TTL_SECONDS, MAX_ITEMS]
            for new in entries[start : start + SCRIPT_CHUNK]:
                keys += [
                    self._pending(new.recipient_id),
                    self._counts(new.recipient_id),
                    f"{self._prefix}seen:{new.message_id}:{new.recipient_id}",
                ]
                args += [
                    str(new.recipient_id),
                    new.entry,
                    str(new.conversation_id),
                    new.conversation_name or "",
                ]
            await self._add(keys=keys, args=args, client=pipeline)
        results = await pipeline.execute()
        return [uuid.UUID(_text(value)) for opened in results for value in opened]

    async def take(self, recipient_ids: list[uuid.UUID]) -> list[Taken]:
        if not recipient_ids:
            return []
        pipeline = self._redis.pipeline(transaction=False)
        for recipient_id in recipient_ids:
            await self._take(
                keys=[self._due, self._pending(recipient_id), self._counts(recipient_id)],
                args=[str(recipient_id)],
                client=pipeline,
            )
        return [_taken(result) for result in await pipeline.execute() if result]

    async def overdue(self, before: float, limit: int) -> list[uuid.UUID]:
        members: list[Any] = await self._redis.zrangebyscore(
            self._due, "-inf", before, start=0, num=limit
        )
        return [uuid.UUID(_text(member)) for member in members]


def _taken(result: list[Any]) -> Taken:
    entries, flat = result
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    for field_name, value in zip(flat[::2], flat[1::2], strict=True):
        kind, _, conversation_id = _text(field_name).partition(":")
        if kind == "c":
            counts[conversation_id] = int(value)
        elif _text(value):
            names[conversation_id] = _text(value)
    return Taken(entries=list(entries), counts=counts, names=names)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class _Window:
    due: float
    entries: deque[bytes] = field(default_factory=lambda: deque(maxlen=MAX_ITEMS))
    counts: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


class MemoryWindows:
    """One instance (no Redis): the same contract in this process's memory."""

    def __init__(self) -> None:
        self._windows: dict[uuid.UUID, _Window] = {}
        self._seen: OrderedDict[tuple[uuid.UUID, uuid.UUID], float] = OrderedDict()

    async def add(self, entries: list[NewEntry], *, due: float) -> list[uuid.UUID]:
        now = time.monotonic()
        while self._seen and (
            len(self._seen) > MEMORY_SEEN_KEPT or next(iter(self._seen.values())) < now
        ):
            self._seen.popitem(last=False)
        opened = []
        for new in entries:
            pair = (new.message_id, new.recipient_id)
            if pair in self._seen:
                continue
            self._seen[pair] = now + SEEN_TTL_SECONDS
            window = self._windows.get(new.recipient_id)
            if window is None:
                window = self._windows[new.recipient_id] = _Window(due=due)
                opened.append(new.recipient_id)
            window.entries.append(new.entry)
            conversation = str(new.conversation_id)
            window.counts[conversation] = window.counts.get(conversation, 0) + 1
            if new.conversation_name:
                window.names[conversation] = new.conversation_name
        return opened

    async def take(self, recipient_ids: list[uuid.UUID]) -> list[Taken]:
        taken = []
        for recipient_id in recipient_ids:
            window = self._windows.pop(recipient_id, None)
            if window is not None:
                taken.append(
                    Taken(entries=list(window.entries), counts=window.counts, names=window.names)
                )
        return taken

    async def overdue(self, before: float, limit: int) -> list[uuid.UUID]:
        due = [user_id for user_id, window in self._windows.items() if window.due <= before]
        return due[:limit]
