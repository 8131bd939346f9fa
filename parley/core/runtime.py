"""The process-wide objects built at start-up (settings, database, cache, publisher) and a
typed registry for the long-lived components that domains own (the message committer,
presence, the rate limiter).

Set once by the app factory; services reach them through `current()` so that their signatures
stay `session` plus keyword-only arguments. Core knows no domain: a domain registers its
component here and fetches it back by its own type (`current().component(Committer)`), so the
dependency arrow points from the domain to core, never the other way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from parley.core.config import Settings
    from parley.core.db import Database

ComponentT = TypeVar("ComponentT")


class Cache(Protocol):
    """Key-value cache with TTLs (core/cache.py: Redis, or in process)."""

    async def get(self, key: str, *, strict: bool = False) -> Any | None:
        """None on a miss, and on an unreachable cache unless `strict` (then it raises
        core.cache.CacheUnavailable: for reads where a miss would let something through)."""
        ...

    async def get_many(self, keys: list[str], *, strict: bool = False) -> list[Any | None]: ...

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None: ...

    async def set_many(
        self, items: dict[str, Any], ttl_seconds: int, *, strict: bool = False
    ) -> None:
        """Many keys at once; an unreachable cache is ignored unless `strict` (then it raises
        core.cache.CacheUnavailable)."""
        ...

    async def add(self, key: str, value: Any, ttl_seconds: int) -> bool | None:
        """Set `key` only if absent, atomically: True if set, False if it was there, None if
        the cache could not be reached (unlike `set`, the caller must know)."""
        ...

    @property
    def shared(self) -> bool:
        """True when every instance sees the same entries (Redis)."""
        ...

    async def delete(self, *keys: str) -> None: ...


class EventPublisher(Protocol):
    """Carries events to sockets (realtime/publish.py implements it)."""

    async def emit(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        rooms: list[str],
        except_rooms: list[str] | None = None,
    ) -> None:
        """Carry one encoded payload to every socket in `rooms` but those also in
        `except_rooms`, on every instance."""


class ComponentMissing(RuntimeError):
    """A component was asked for before the app started it (a wiring bug, not a user error)."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    # Entries rebuilt from the database on a miss: may be evicted (REDIS_CACHE_URL's Redis).
    cache: Cache
    # Entries nothing else holds (revoked tokens, read-your-writes records): must not be
    # evicted. The same object as `cache` when there is one Redis (or none).
    store: Cache
    publisher: EventPublisher
    redis: Redis | None = None
    cache_redis: Redis | None = None  # REDIS_CACHE_URL's client, when set
    # Set when the graceful shutdown begins (core/shutdown.py): from then on new sends and
    # socket connects are refused, so that what was accepted drains.
    draining: bool = False
    _components: dict[type, object] = field(default_factory=dict)

    def register(self, component: object) -> None:
        """Make `component` the process's one instance of its type."""
        self._components[type(component)] = component

    def component(self, kind: type[ComponentT]) -> ComponentT:
        instance = self._components.get(kind)
        if not isinstance(instance, kind):
            raise ComponentMissing(f"{kind.__name__} is not started")
        return instance

    def find(self, kind: type[ComponentT]) -> ComponentT | None:
        """The component, or None before it is started (for code that also runs without it)."""
        instance = self._components.get(kind)
        return instance if isinstance(instance, kind) else None


_current: Runtime | None = None


def install(value: Runtime) -> None:
    global _current
    _current = value


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("Parley runtime is not started")
    return _current
