"""One cache interface, two backends: Redis (shared by every instance) or in-process.

Values are JSON-able; the service that owns the data invalidates its keys after commit.
Redis errors degrade to a miss, so a Redis outage slows Parley down but does not break it;
a read asked with `strict=True` (the token deny-list, where a miss would let a revoked token
in) raises `CacheUnavailable` instead, for the caller to ask the database.
A delete that fails (Redis down or frozen) never fails the caller: the key is kept in a
process-local "dirty" set, which reads treat as a miss and writes skip, and a background loop
retries the delete until Redis takes it (docs/architecture.md, Caches).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core import metrics, runtime
from parley.core.db import after_commit

if TYPE_CHECKING:
    from parley.core.config import Settings

log = logging.getLogger(__name__)


class CacheUnavailable(Exception):
    """Redis did not answer a `strict` read: its absence there proves nothing."""


class CacheStats:
    """Hit/miss counts for benchmarks, and per layer (a key's prefix) for /metrics."""

    def __init__(self, backend: str) -> None:
        self.hits = 0
        self.misses = 0
        self._layers = metrics.CacheLayerCounters(backend, metrics.CACHE_LAYERS)

    def hit(self, key: str) -> None:
        self.hits += 1
        self._layers.hit(key)

    def miss(self, key: str) -> None:
        self.misses += 1
        self._layers.miss(key)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


# An unbounded MemoryCache drops its expired entries once it holds this many (then twice the
# live count): expired revoked tokens do not pile up.
_STORE_SWEEP_FLOOR = 10_000


class MemoryCache:
    """In-process cache for the single-instance embedded mode."""

    def __init__(self, max_entries: int | None = 100_000) -> None:
        """`max_entries` None: entries leave only when they expire (a store, not a cache)."""
        self._entries: dict[str, tuple[float, Any]] = {}
        self._max_entries = max_entries
        self._next_sweep = _STORE_SWEEP_FLOOR
        self.stats = CacheStats("memory")

    async def get(self, key: str, *, strict: bool = False) -> Any | None:
        """`strict`: never raises here (process memory always answers)."""
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            if entry is not None:
                del self._entries[key]
            self.stats.miss(key)
            return None
        self.stats.hit(key)
        return entry[1]

    async def get_many(self, keys: list[str], *, strict: bool = False) -> list[Any | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        if self._max_entries is not None and len(self._entries) >= self._max_entries:
            self._evict(self._max_entries)
        elif self._max_entries is None and len(self._entries) >= self._next_sweep:
            self._evict(None)
        self._entries[key] = (time.monotonic() + ttl_seconds, value)

    async def add(self, key: str, value: Any, ttl_seconds: int) -> bool | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] >= time.monotonic():
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def set_many(
        self, items: dict[str, Any], ttl_seconds: int, *, strict: bool = False
    ) -> None:
        """`strict`: never raises here (process memory always takes it)."""
        for key, value in items.items():
            await self.set(key, value, ttl_seconds)

    @property
    def shared(self) -> bool:
        return False

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def _evict(self, max_entries: int | None) -> None:
        now = time.monotonic()
        expired = [key for key, (deadline, _) in self._entries.items() if deadline < now]
        for key in expired:
            del self._entries[key]
        if max_entries is None:
            # Unbounded: sweep again when the live entries have doubled (amortized O(1)).
            self._next_sweep = max(_STORE_SWEEP_FLOOR, 2 * len(self._entries))
        elif len(self._entries) >= max_entries:
            # Dicts keep insertion order: drop the oldest tenth.
            for key in list(self._entries)[: max_entries // 10]:
                del self._entries[key]


# Backoff of the loop that retries failed invalidations: short and capped, since the window in
# which another instance may read a stale entry is "until Redis answers + one step".
_RETRY_BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0)


class RedisCache:
    """Redis-backed cache shared by every instance."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + "cache:"
        self.stats = CacheStats("redis")
        # Keys whose invalidation has not reached Redis yet -> a generation, bumped by each
        # failed delete, so a retry that raced a newer failure does not clear the newer one.
        self._dirty: dict[str, int] = {}
        self._generation = 0
        self._retry_task: asyncio.Task[None] | None = None

    @property
    def pending_invalidations(self) -> int:
        """Keys whose delete has not landed yet (for /metrics and tests)."""
        return len(self._dirty)

    async def get(self, key: str, *, strict: bool = False) -> Any | None:
        """The value, or None on a miss or a Redis error (`strict`: CacheUnavailable)."""
        if key in self._dirty:
            # Redis may still hold the value the failed delete was meant to drop.
            self.stats.miss(key)
            return None
        try:
            raw = await self._redis.get(self._prefix + key)
        except RedisError as error:
            log.warning("cache get failed", extra={"error": str(error)})
            if strict:
                raise CacheUnavailable from error
            raw = None
        if raw is None:
            self.stats.miss(key)
            return None
        self.stats.hit(key)
        return orjson.loads(raw)

    async def get_many(self, keys: list[str], *, strict: bool = False) -> list[Any | None]:
        """One MGET; on a Redis error every key misses (`strict`: CacheUnavailable)."""
        try:
            raws = await self._redis.mget([self._prefix + key for key in keys])
        except RedisError as error:
            log.warning("cache get failed", extra={"error": str(error)})
            if strict:
                raise CacheUnavailable from error
            raws = [None] * len(keys)
        values: list[Any | None] = []
        for key, raw in zip(keys, raws, strict=True):
            if raw is None or key in self._dirty:
                self.stats.miss(key)
                values.append(None)
            else:
                self.stats.hit(key)
                values.append(orjson.loads(raw))
        return values

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        if key in self._dirty:
            # Until the pending delete lands, nothing refills the key (a reader's row may
            # predate the change); the retry loop drops whatever Redis holds there.
            return
        try:
            await self._redis.set(self._prefix + key, orjson.dumps(value), ex=ttl_seconds)
        except RedisError as error:
            log.warning("cache set failed", extra={"error": str(error)})

    async def add(self, key: str, value: Any, ttl_seconds: int) -> bool | None:
        # SET NX: of two instances adding the same key at once, exactly one is told True.
        try:
            added = await self._redis.set(
                self._prefix + key, orjson.dumps(value), ex=ttl_seconds, nx=True
            )
        except RedisError as error:
            log.warning("cache add failed", extra={"error": str(error)})
            return None
        return bool(added)

    async def set_many(
        self, items: dict[str, Any], ttl_seconds: int, *, strict: bool = False
    ) -> None:
        """One round trip for many keys (a pipeline of SETs); a Redis error is logged
        (`strict`: raised as CacheUnavailable, for writers that must know)."""
        items = {key: value for key, value in items.items() if key not in self._dirty}
        if not items:
            return
        pipeline = self._redis.pipeline(transaction=False)
        for key, value in items.items():
            pipeline.set(self._prefix + key, orjson.dumps(value), ex=ttl_seconds)
        try:
            await pipeline.execute()
        except RedisError as error:
            log.warning("cache set failed", extra={"error": str(error)})
            if strict:
                raise CacheUnavailable from error

    @property
    def shared(self) -> bool:
        return True

    async def delete(self, *keys: str) -> None:
        """Drop keys; never raises. A delete Redis did not take is retried until it lands."""
        if not keys:
            return
        try:
            await self._redis.delete(*(self._prefix + key for key in keys))
        except RedisError as error:
            self._generation += 1
            for key in keys:
                self._dirty[key] = self._generation
            log.error(
                "cache invalidation failed; retrying",
                extra={"error": type(error).__name__, "keys": len(keys)},
            )
            if self._retry_task is None or self._retry_task.done():
                self._retry_task = asyncio.get_running_loop().create_task(self._retry_deletes())
            return
        for key in keys:
            # A newer delete landed: an older failed one for the key has nothing left to do.
            self._dirty.pop(key, None)

    async def _retry_deletes(self) -> None:
        attempt = 0
        while self._dirty:
            await asyncio.sleep(_RETRY_BACKOFF[min(attempt, len(_RETRY_BACKOFF) - 1)])
            attempt += 1
            pending = dict(self._dirty)
            try:
                await self._redis.delete(*(self._prefix + key for key in pending))
            except Exception:  # whatever it is, the loop must outlive it
                continue
            for key, generation in pending.items():
                if self._dirty.get(key) == generation:
                    del self._dirty[key]
            log.warning("cache invalidation landed", extra={"keys": len(pending)})


def open_caches(
    settings: Settings, redis: Redis | None, cache_redis: Redis | None
) -> tuple[MemoryCache | RedisCache, MemoryCache | RedisCache]:
    """The cache (entries rebuilt from the database: may be evicted) and the store (entries
    nothing else holds, such as revoked tokens: must not be), as `runtime.Runtime` takes them.

    With REDIS_CACHE_URL the cache lives in that Redis (allkeys-lru is fine there) and the
    store in REDIS_URL's (noeviction); with one Redis both are one object, so the token check
    stays one MGET. In process, the store is a second map that never evicts by count: the
    cache's bound must not drop a revoked token (docs/deployment.md, Redis configuration).
    The store keeps the `cache:` key names: a deployment adding REDIS_CACHE_URL keeps its
    revoked tokens where they are."""
    if redis is None:
        return MemoryCache(), MemoryCache(max_entries=None)
    store = RedisCache(redis, settings.redis_key_prefix)
    if cache_redis is None:
        return store, store
    return RedisCache(cache_redis, settings.redis_key_prefix), store


def invalidate_after_commit(session: AsyncSession, *keys: str) -> None:
    """Drop cache keys once the session's change is committed (never for a rollback), so a
    reader cannot refill the cache with the old state in between."""

    async def _drop() -> None:
        await runtime.current().cache.delete(*keys)

    after_commit(session, _drop)
