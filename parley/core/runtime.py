"""The process-wide objects built at start-up (settings, database, cache, publisher).

Set once by the app factory or the CLI; services reach them through `current()` so that their
signatures stay `session` plus keyword-only arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from parley.core.cache import MemoryCache, RedisCache
    from parley.core.config import Settings
    from parley.core.db import Database
    from parley.core.events import EventPublisher
    from parley.messages.committer import Committer
    from parley.presence.service import Presence
    from parley.ratelimit.service import RateLimiter


@dataclass
class Runtime:
    settings: Settings
    db: Database
    cache: MemoryCache | RedisCache
    publisher: EventPublisher
    redis: Redis | None = None
    committer: Committer | None = None
    presence: Presence | None = None
    rate_limiter: RateLimiter | None = None
    extras: dict[str, Any] = field(default_factory=dict)


_current: Runtime | None = None


def install(value: Runtime) -> None:
    global _current
    _current = value


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("Parley runtime is not started")
    return _current
