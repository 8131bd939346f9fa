"""The Redis pool waits for a free connection when all are in use, and gives up after its
timeout with a ConnectionError (which callers already treat as Redis being unavailable).
Against the real Redis at PARLEY_TEST_REDIS."""

from __future__ import annotations

import asyncio
import os

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from parley.core.redis_pool import WaitingConnectionPool

REDIS_URL = os.environ.get("PARLEY_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def test_a_burst_larger_than_the_pool_waits_instead_of_failing() -> None:
    redis = Redis.from_pool(WaitingConnectionPool.from_url(REDIS_URL, max_connections=2, timeout=5))
    try:
        # BLPOP with a timeout holds its connection; 6 of them on a pool of 2 must queue.
        results = await asyncio.gather(
            *(redis.blpop([f"parley-test-pool-{n}"], timeout=0.2) for n in range(6))
        )
        assert results == [None] * 6
        assert len(redis.connection_pool._in_use_connections) == 0
    finally:
        await redis.aclose()


async def test_waiting_gives_up_after_the_timeout() -> None:
    redis = Redis.from_pool(
        WaitingConnectionPool.from_url(REDIS_URL, max_connections=1, timeout=0.1)
    )
    try:
        held = await redis.connection_pool.get_connection()  # the only one
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await redis.ping()
        await redis.connection_pool.release(held)
        assert await redis.ping() is True
    finally:
        await redis.aclose()
