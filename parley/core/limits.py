"""The one way Parley counts against limits: the `limits` library's sliding-window counter,
in Redis when it is configured (every instance shares the counts) or in process."""

from __future__ import annotations

from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis

from parley.core.config import Settings


def sliding_window_limiter(
    settings: Settings, redis: Redis | None
) -> SlidingWindowCounterRateLimiter:
    """Close to a true moving window (no double burst at a window edge) for two keys a limit."""
    storage: MemoryStorage | RedisStorage
    if redis is not None:
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # passed through to redis-py
            key_prefix=f"{settings.redis_key_prefix}limits",
        )
    else:
        storage = MemoryStorage()
    return SlidingWindowCounterRateLimiter(storage)
