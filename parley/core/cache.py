"""One cache interface, two backends: Redis (shared by every instance) or in-process.

Values are JSON-able; the service that owns the data invalidates its keys after commit.
Redis errors degrade to a miss, so a Redis outage slows Parley down but does not break it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core import runtime
from parley.core.db import after_commit

log = logging.getLogger(__name__)


class CacheStats:
    """Hit/miss counters for /metrics and benchmarks."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class MemoryCache:
    """In-process cache for the single-instance embedded mode."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}
        self._max_entries = max_entries
        self.stats = CacheStats()

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            if entry is not None:
                del self._entries[key]
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return entry[1]

    async def get_many(self, keys: list[str]) -> list[Any | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        if len(self._entries) >= self._max_entries:
            self._evict()
        self._entries[key] = (time.monotonic() + ttl_seconds, value)

    async def set_many(self, items: dict[str, Any], ttl_seconds: int) -> None:
        for key, value in items.items():
            await self.set(key, value, ttl_seconds)

    @property
    def shared(self) -> bool:
        return False

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def _evict(self) -> None:
        now = time.monotonic()
        expired = [key for key, (deadline, _) in self._entries.items() if deadline < now]
        for key in expired:
            del self._entries[key]
        if len(self._entries) >= self._max_entries:
            # Dicts keep insertion order: drop the oldest tenth.
            for key in list(self._entries)[: self._max_entries // 10]:
                del self._entries[key]


class RedisCache:
    """Redis-backed cache shared by every instance."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + "cache:"
        self.stats = CacheStats()

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self._redis.get(self._prefix + key)
        except RedisError as error:
            log.warning("cache get failed", extra={"error": str(error)})
            raw = None
        if raw is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return orjson.loads(raw)

    async def get_many(self, keys: list[str]) -> list[Any | None]:
        try:
            raws = await self._redis.mget([self._prefix + key for key in keys])
        except RedisError as error:
            log.warning("cache get failed", extra={"error": str(error)})
            raws = [None] * len(keys)
        values: list[Any | None] = []
        for raw in raws:
            if raw is None:
                self.stats.misses += 1
                values.append(None)
            else:
                self.stats.hits += 1
                values.append(orjson.loads(raw))
        return values

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        try:
            await self._redis.set(self._prefix + key, orjson.dumps(value), ex=ttl_seconds)
        except RedisError as error:
            log.warning("cache set failed", extra={"error": str(error)})

    async def set_many(self, items: dict[str, Any], ttl_seconds: int) -> None:
        """One round trip for many keys (a pipeline of SETs)."""
        if not items:
            return
        pipeline = self._redis.pipeline(transaction=False)
        for key, value in items.items():
            pipeline.set(self._prefix + key, orjson.dumps(value), ex=ttl_seconds)
        try:
            await pipeline.execute()
        except RedisError as error:
            log.warning("cache set failed", extra={"error": str(error)})

    @property
    def shared(self) -> bool:
        return True

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self._redis.delete(*(self._prefix + key for key in keys))
        except RedisError as error:
            # A failed invalidation could serve stale access rights: surface it.
            log.error("cache invalidation failed", extra={"error": str(error)})
            raise


def invalidate_after_commit(session: AsyncSession, *keys: str) -> None:
    """Drop cache keys once the session's change is committed (never for a rollback), so a
    reader cannot refill the cache with the old state in between."""

    async def _drop() -> None:
        await runtime.current().cache.delete(*keys)

    after_commit(session, _drop)
