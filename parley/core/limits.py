"""The one way Parley counts against limits: the `limits` library's sliding-window counter,
in Redis when it is configured (every instance shares the counts) or in process."""

from __future__ import annotations

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

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


class LimitChain:
    """Several limits counted as one step: each in turn, and a refused one ends the chain
    (the limits after it are not counted), as `hit` one after the other would do, but in
    one Redis round trip (the send path's per-conversation and per-hour limits, issue 11).

    The script is the library's own sliding-window script, run once per limit inside one
    Lua function, so the counts live in the same keys the library reads
    (`get_window_stats`) and follow its algorithm exactly. In process (no Redis) the chain
    is the library's `hit`, one after the other. Under Redis Cluster the keys of one chain
    would need one hash slot; Parley runs on a single Redis (see docs/scaling.md).
    """

    def __init__(self, limiter: SlidingWindowCounterRateLimiter, redis: Redis | None) -> None:
        self._limiter = limiter
        storage = limiter.storage
        self._redis_storage = storage if isinstance(storage, RedisStorage) else None
        self._script: AsyncScript | None = None
        if self._redis_storage is not None and redis is not None:
            script = self._redis_storage.bridge.SCRIPT_ACQUIRE_SLIDING_WINDOW
            body = script.decode() if isinstance(script, bytes) else script
            # The library's script reads KEYS and ARGV: as a function's parameters they name
            # one limit's pair of keys and its (limit, expiry, amount).
            source = (
                f"local function acquire(KEYS, ARGV)\n{body}\nend\n"
                "for i = 1, #KEYS / 2 do\n"
                "  local keys = {KEYS[2 * i - 1], KEYS[2 * i]}\n"
                "  local args = {ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]}\n"
                "  if not acquire(keys, args) then return i end\n"
                "end\n"
                "return 0\n"
            )
            self._script = redis.register_script(source)

    async def hit(self, *limits: tuple[RateLimitItem, tuple[str, ...]]) -> int | None:
        """Count one against each (item, identifiers) in order; the index of the first that
        refused (those after it not counted), or None when all allowed it."""
        if self._script is None or self._redis_storage is None:
            for index, (item, identifiers) in enumerate(limits):
                if not await self._limiter.hit(item, *identifiers):
                    return index
            return None
        storage, bridge = self._redis_storage, self._redis_storage.bridge
        keys: list[str] = []
        args: list[int] = []
        for item, identifiers in limits:
            key = item.key_for(*identifiers)
            keys.append(bridge.prefixed_key(storage._previous_window_key(key)))
            keys.append(bridge.prefixed_key(storage._current_window_key(key)))
            args.extend((item.amount, item.get_expiry(), 1))
        refused = int(await self._script(keys, args))
        return refused - 1 if refused else None
