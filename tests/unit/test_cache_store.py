"""The cache and the store of parley.core.cache.open_caches: the cache may forget entries under
its bound, the store (revoked tokens) must not (docs/deployment.md, Redis configuration)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from parley.core.cache import MemoryCache, open_caches
from parley.core.config import load_settings


def test_in_process_the_store_is_not_the_bounded_cache(tmp_path: Path) -> None:
    settings = load_settings(environ={"PARLEY_DATA_DIR": str(tmp_path)})
    cache, store = open_caches(settings, None, None)
    assert cache is not store

    async def fill() -> None:
        await store.add("revoked-token:first", True, 3600)
        for number in range(100_001):  # past the cache's bound of 100,000 entries
            await cache.set(f"user:{number}", {}, 3600)
            await store.set(f"revoked-token:{number}", True, 3600)
        assert await store.get("revoked-token:first") is True
        assert await cache.get("user:0") is None  # the cache dropped its oldest tenth

    asyncio.run(fill())


def test_an_unbounded_store_still_drops_what_expired() -> None:
    async def run() -> None:
        store = MemoryCache(max_entries=None)
        await store.set("revoked-token:old", True, 0)  # expires at once
        await asyncio.sleep(0.01)
        for number in range(20_000):  # past the first sweep (10,000 entries)
            await store.set(f"revoked-token:{number}", True, 3600)
        assert "revoked-token:old" not in store._entries
        assert await store.get("revoked-token:19999") is True

    asyncio.run(run())
