"""Sockets per user across every instance (`WS_MAX_CONNECTIONS_PER_USER`).

Each instance counts its own sockets of each user (admitting or connected). With Redis it also
keeps them in `sockets:{userId}` (instance id -> count), and an `instances` hash of instance id
-> expiry that it renews every third of `PRESENCE_TTL`, with the lifetime (3 x `PRESENCE_TTL`)
of its connected users' `sockets:` keys. A reservation is one Lua script: it
adds up the counts of the live instances (a dead instance stops renewing; its counts are
dropped), refuses at the limit, else counts one more for this instance, so a burst spread over
several instances cannot overshoot. Without Redis the local count is the whole truth; if Redis
fails, the local count decides (fail open to the per-instance cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Users' counts renewed per pipeline (10,000 sockets: 10 round trips every PRESENCE_TTL / 3).
_RENEW_BATCH = 1000

_RESERVE = """
local counts = redis.call('HGETALL', KEYS[1])
local now = tonumber(ARGV[3])
local total = 0
for i = 1, #counts, 2 do
  local instance = counts[i]
  local expiry = tonumber(redis.call('HGET', KEYS[2], instance) or '0')
  if instance == ARGV[1] or expiry >= now then
    total = total + tonumber(counts[i + 1])
  else
    redis.call('HDEL', KEYS[1], instance)
  end
end
if total >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


class SocketQuota:
    def __init__(
        self, redis: Redis | None, prefix: str, *, limit: int, ttl_seconds: float = 30.0
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._limit = limit
        self._ttl = ttl_seconds
        self._instance = uuid.uuid4().hex
        self._local: Counter[uuid.UUID] = Counter()
        self._stale: set[uuid.UUID] = set()  # users whose Redis count may be off (an error)
        self._task: asyncio.Task[None] | None = None
        self._reserve: Any = redis.register_script(_RESERVE) if redis is not None else None
        self._key_ttl_ms = int(ttl_seconds * 3000)

    @property
    def limit(self) -> int:
        return self._limit

    def _key(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}sockets:{user_id}"

    async def start(self) -> None:
        if self._redis is not None:
            await self._renew()
            self._task = asyncio.create_task(self._renew_forever(), name="parley-socket-quota")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.hdel(self._prefix + "instances", self._instance)

    async def reserve(self, user_id: uuid.UUID) -> bool:
        """One more socket of `user_id`, unless they have `limit` already (on every instance)."""
        if self._reserve is not None:
            try:
                granted = await self._reserve(
                    keys=[self._key(user_id), self._prefix + "instances"],
                    args=[self._instance, self._limit, time.time(), self._key_ttl_ms],
                )
            except (RedisError, OSError) as error:
                log.warning("socket quota not checked across instances: %s", error)
                self._stale.add(user_id)
                granted = True  # the local count decides
            if not granted:
                return False
        # No await since the script: checking and counting here is atomic on this instance.
        if self._local[user_id] >= self._limit:
            await self._write(user_id)  # drop what the script counted
            return False
        self._local[user_id] += 1
        return True

    async def release(self, user_id: uuid.UUID) -> None:
        self._local[user_id] -= 1
        if self._local[user_id] <= 0:
            del self._local[user_id]
        await self._write(user_id)

    async def _write(self, user_id: uuid.UUID) -> None:
        """Set this instance's count of `user_id` in Redis to the local truth."""
        if self._redis is None:
            return
        count = self._local.get(user_id, 0)
        try:
            if count:
                # With its lifetime: written after the key lapsed, it would otherwise stay.
                pipe = self._redis.pipeline(transaction=False)
                pipe.hset(self._key(user_id), self._instance, count)
                pipe.pexpire(self._key(user_id), self._key_ttl_ms)
                await pipe.execute()
            else:
                await self._redis.hdel(self._key(user_id), self._instance)
        except (RedisError, OSError) as error:
            log.warning("socket count not written: %s", error)
            self._stale.add(user_id)
        else:
            self._stale.discard(user_id)

    async def _renew(self) -> None:
        assert self._redis is not None
        await self._redis.hset(self._prefix + "instances", self._instance, time.time() + self._ttl)
        for user_id in list(self._stale):
            await self._write(user_id)
        # The counts of users still connected here outlive their last connect: without this a
        # user's key lapsed 3 x PRESENCE_TTL after it, and the count across instances with it.
        users = list(self._local)
        for start in range(0, len(users), _RENEW_BATCH):
            pipe = self._redis.pipeline(transaction=False)
            for user_id in users[start : start + _RENEW_BATCH]:
                pipe.pexpire(self._key(user_id), self._key_ttl_ms)
            await pipe.execute()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self._renew()
            except (RedisError, OSError) as error:
                log.warning("socket quota renewal failed: %s", error)
