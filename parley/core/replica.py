"""Read replicas: history, search, analytics and export reads go to a PostgreSQL streaming
replica (`DATABASE_READ_URL`) while it is fresh enough, and each user reads their own writes.

Freshness. Every `PROBE_SECONDS` the monitor samples the primary's WAL position, with the time
taken just before asking (so every commit that returned before that time is at or below the
position), and then the replica's replayed position. `fresh_as_of` is the latest sample time
whose position the replica has replayed: every commit that returned before it is visible on
the replica. The lag is `now - fresh_as_of`; the replica serves reads only while the lag is
within `DATABASE_READ_MAX_LAG` and it answered its last probe. A failed probe, or a read that
fails on the replica, marks it down (the primary serves; probes go on with backoff).

Read-your-writes. Each transaction committed for a user (`Database.unit_of_work()` under the
caller resolved by the HTTP or socket layer, and the committer's batches for their senders)
records the time it returned, in this process and, with Redis, under `wrote:{user_id}` for the
other instances, kept for the lag bound. A read for that user goes to the replica only if the
write is older than `fresh_as_of`: the replica has replayed a position sampled after it. With
no record the write is older than the bound, and a replica that is used at all is fresher.
The instances' clocks must agree (NTP) to well within the bound: a write recorded by one
instance is compared with the samples of another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from parley.core import metrics
from parley.core.errors import AppError

if TYPE_CHECKING:
    from parley.core.config import Settings

log = logging.getLogger(__name__)

ReadT = TypeVar("ReadT")
Read = Callable[[AsyncSession], Awaitable[ReadT]]

PROBE_SECONDS = 0.1
# A probe that takes longer counts as a failure: a replica that hangs is as good as down.
PROBE_TIMEOUT_SECONDS = 1.0
# Between probes of a replica that is down (its recovery is seen within the last step).
_DOWN_BACKOFF = (0.2, 0.5, 1.0, 2.0)
# A new connection to the replica gives up after this long (asyncpg's default is 60 s, which a
# partitioned replica would make every read wait).
CONNECT_TIMEOUT_SECONDS = 2.0
# Samples kept while the replica has not replayed them (at PROBE_SECONDS each, about 100 s):
# dropping older ones only makes `fresh_as_of` later than it could be, never wrong.
_MAX_SAMPLES = 1000
WROTE_KEY = "wrote:{user_id}"

# The user a request or socket event acts for, set where the caller is resolved (the HTTP
# dependency, the socket event wrapper): `Database.unit_of_work()` records a write for them.
acting_user: ContextVar[uuid.UUID | None] = ContextVar("acting_user", default=None)

_PRIMARY_POSITION = text("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
_REPLAYED_POSITION = text(
    "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"
)

# What a read that failed on the replica is retried on the primary for.
_REPLICA_FAILURES = (DBAPIError, PoolTimeout, OSError, TimeoutError)


class WriteRecords(Protocol):
    """Where other instances' write records are found: the store (core/cache.py, never evicted)."""

    async def get(self, key: str) -> Any | None: ...

    async def set_many(self, items: dict[str, Any], ttl_seconds: int) -> None: ...

    @property
    def shared(self) -> bool: ...


class NotAReplica(RuntimeError):
    """DATABASE_READ_URL answers but is not in recovery (promoted, or not a replica at all)."""


class Replica:
    """The replica's engine, its freshness monitor and the routing rule for reads."""

    def __init__(
        self,
        settings: Settings,
        primary: AsyncEngine,
        cache: WriteRecords,
        count_statements: Callable[[AsyncEngine], None],
    ) -> None:
        if settings.database_read_url is None:
            raise ValueError("Replica needs DATABASE_READ_URL")
        self.engine = create_async_engine(
            settings.database_read_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=True,
            pool_timeout=5,
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
            hide_parameters=True,
        )
        count_statements(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.max_lag_seconds = settings.database_read_max_lag_seconds
        # Write records outlive the bound by a second (the cache's TTLs are whole seconds).
        self._wrote_ttl = math.ceil(settings.database_read_max_lag_seconds) + 1
        self._primary = primary
        self._cache = cache
        self._samples: deque[tuple[float, int]] = deque(maxlen=_MAX_SAMPLES)
        self.fresh_as_of: float | None = None
        self.up = False
        # This process's recent writes by user (read-your-writes without a Redis round trip,
        # and without Redis at all on one instance); pruned by the monitor.
        self._recent: dict[uuid.UUID, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Probe once (so the first reads already know the replica's state), then keep
        probing in the background."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._probe_once(), PROBE_TIMEOUT_SECONDS)
        self._task = asyncio.create_task(self._monitor(), name="parley-replica-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.engine.dispose()

    @property
    def lag_seconds(self) -> float | None:
        """How far behind the primary the replica is (None before it was ever fresh)."""
        return None if self.fresh_as_of is None else max(0.0, time.time() - self.fresh_as_of)

    # -- routing --------------------------------------------------------------------------

    async def route(self, user_id: uuid.UUID | None) -> str | None:
        """None when `user_id`'s read may go to the replica, else why it goes to the primary
        (`down`, `lag`, `own_write`)."""
        if not self.up:
            return "down"
        fresh_as_of = self.fresh_as_of
        if fresh_as_of is None or time.time() - fresh_as_of > self.max_lag_seconds:
            return "lag"
        if user_id is None:
            return None
        wrote = self._recent.get(user_id)
        if wrote is None and self._cache.shared:
            # Another instance's write for this user (Redis; a miss when Redis is down).
            stored = await self._cache.get(WROTE_KEY.format(user_id=user_id))
            wrote = float(stored) if isinstance(stored, int | float) else None
        if wrote is not None and wrote >= fresh_as_of:
            return "own_write"
        return None

    async def read(
        self,
        user_id: uuid.UUID | None,
        read: Read[ReadT],
        primary: async_sessionmaker[AsyncSession],
    ) -> ReadT:
        """`read` on the replica when `route` allows it, else on the primary. A read that
        fails on the replica (connection, timeout, a query the standby cancelled) is retried
        once on the primary, and a not-found there too (what the caller cannot find may be a
        moment newer than the replica: a conversation they were just added to)."""
        reason = await self.route(user_id)
        if reason is None:
            metrics.DB_READS_REPLICA.inc()
            try:
                async with self.sessions() as session:
                    return await read(session)
            except AppError as error:
                if error.status != 404:
                    raise
                reason = "not_found"
            except _REPLICA_FAILURES as error:
                self.mark_down(error)
                reason = "replica_error"
        metrics.db_read_on_primary(reason)
        async with primary() as session:
            return await read(session)

    # -- read-your-writes -----------------------------------------------------------------

    async def wrote(self, user_ids: Iterable[uuid.UUID]) -> None:
        """Record that these users' transactions have committed (call after the commit);
        never raises."""
        now = time.time()
        changed = {user_id: now for user_id in user_ids}
        if not changed:
            return
        self._recent.update(changed)
        if not self._cache.shared:
            return
        try:
            await self._cache.set_many(
                {WROTE_KEY.format(user_id=user_id): now for user_id in changed},
                self._wrote_ttl,
            )
        except Exception as error:
            # Never fails a commit that is done (nor the committer's writer task): the other
            # instances may then read this user's write from the replica up to the bound late.
            log.warning("write record not shared", extra={"error": _kind(error)})

    # -- freshness monitor ----------------------------------------------------------------

    def mark_down(self, error: BaseException) -> None:
        if self.up:
            # The error's type only: a driver's message may carry a statement's values.
            log.warning("read replica down: reads go to the primary", extra={"error": _kind(error)})
        self.up = False
        metrics.DB_REPLICA_UP.set(0)

    async def _monitor(self) -> None:
        failures = 0
        while True:
            try:
                await asyncio.wait_for(self._probe_once(), PROBE_TIMEOUT_SECONDS)
            except Exception:
                failures += 1
                delay = _DOWN_BACKOFF[min(failures - 1, len(_DOWN_BACKOFF) - 1)]
            else:
                failures = 0
                delay = PROBE_SECONDS
            self._prune()
            await asyncio.sleep(delay)

    async def _probe_once(self) -> None:
        await self._sample_primary()
        try:
            async with self.engine.connect() as connection:
                in_recovery, replayed = (await connection.execute(_REPLAYED_POSITION)).one()
            if not in_recovery or replayed is None:
                raise NotAReplica("DATABASE_READ_URL is not a streaming replica")
        except Exception as error:
            self.mark_down(error)
            raise
        self._replayed(int(replayed))
        if not self.up:
            log.info("read replica up", extra={"lag_seconds": self.lag_seconds})
        self.up = True
        metrics.DB_REPLICA_UP.set(1)
        lag = self.lag_seconds
        if lag is not None:
            metrics.DB_REPLICA_LAG.set(lag)

    async def _sample_primary(self) -> None:
        taken = time.time()
        try:
            async with self._primary.connect() as connection:
                position = (await connection.execute(_PRIMARY_POSITION)).scalar_one()
        except Exception as error:
            # No sample: `fresh_as_of` stops moving and the lag grows past the bound, which is
            # right, since nothing can tell how far behind the replica is.
            log.warning("primary WAL position unknown", extra={"error": _kind(error)})
            return
        self._samples.append((taken, int(position)))

    def _replayed(self, position: int) -> None:
        fresh_as_of = self.fresh_as_of
        while self._samples and self._samples[0][1] <= position:
            fresh_as_of = self._samples.popleft()[0]
        self.fresh_as_of = fresh_as_of

    def _prune(self) -> None:
        if len(self._recent) < 1024:
            return
        oldest = time.time() - self._wrote_ttl
        self._recent = {user: at for user, at in self._recent.items() if at >= oldest}


def _kind(error: BaseException) -> str:
    return type(getattr(error, "orig", None) or error).__name__
