"""`LimitChain`: several limits counted in one step, against a real Redis and in process.

The chain runs the `limits` library's own sliding-window script once per limit inside one
Lua call; these tests check it counts in the keys the library reads and stops at the first
limit that refuses, exactly as the library's `hit` one after the other does.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from redis.asyncio import Redis

from parley.core.config import load_settings
from parley.core.limits import LimitChain, sliding_window_limiter
from tests.conftest import REDIS_URL

PER_MINUTE = RateLimitItemPerMinute(3)
PER_HOUR = RateLimitItemPerHour(5)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    prefix = f"parley-test-chain-{secrets.token_hex(4)}:"
    client.prefix = prefix  # type: ignore[attr-defined]  # for the clean-up below
    yield client
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
async def test_a_chain_counts_like_hits_one_after_the_other(redis: Redis, shared: bool) -> None:
    prefix = redis.prefix  # type: ignore[attr-defined]
    settings = load_settings({"REDIS_KEY_PREFIX": prefix})
    limiter = sliding_window_limiter(settings, redis if shared else None)
    chain = LimitChain(limiter, redis if shared else None)
    first = (PER_MINUTE, ("messages", "alice", "room-1"))
    second = (PER_MINUTE, ("messages", "alice", "room-2"))
    hourly = (PER_HOUR, ("messages", "alice"))

    assert [await chain.hit(first, hourly) for _ in range(3)] == [None, None, None]
    # The first limit refuses: the hourly one is not counted.
    assert await chain.hit(first, hourly) == 0
    assert (await limiter.get_window_stats(PER_HOUR, "messages", "alice")).remaining == 2
    assert (
        await limiter.get_window_stats(PER_MINUTE, "messages", "alice", "room-1")
    ).remaining == 0
    # The library sees the chain's counts, and the chain the library's.
    assert await limiter.hit(PER_HOUR, "messages", "alice")
    assert await chain.hit(second, hourly) is None
    assert await chain.hit(second, hourly) == 1  # the hour is spent: 3 + 1 + 1
    assert (
        await limiter.get_window_stats(PER_MINUTE, "messages", "alice", "room-2")
    ).remaining == 1  # counted before the hour refused, as `hit` in turn would
    if shared:
        assert [key async for key in redis.scan_iter(match=prefix + "*")]
