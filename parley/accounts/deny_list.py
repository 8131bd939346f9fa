"""The deny-list of revoked tokens, and how its store copy is kept whole.

A revoked token's id (`jti`) is written to the store (Redis with REDIS_URL, so every instance
sees it; in process otherwise) and to the database (`revoked_tokens`). The token check reads
the store, and the database when the store cannot be trusted to answer "not revoked":
- it does not answer (an outage: `CacheUnavailable`);
- it lost its data: a Redis restarted without its files, a failover to a replica that was
  behind, a FLUSHALL, or an in-process store after a restart. A marker key, written once the
  store holds every revocation the database does, tells these apart from a store that simply
  has no entry for the token; where it is missing, the check asks the database, and one
  instance copies the database's rows back into the store, then writes the marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts.models import RevokedToken
from parley.core import runtime
from parley.core.cache import CacheUnavailable
from parley.core.db import Database, utcnow
from parley.core.runtime import Cache

log = logging.getLogger(__name__)

# In the store next to the revoked tokens: present while the store holds every revocation of
# the database. Renewed by a fresh copy once a month (a copy is cheap; this bounds the life of
# a marker that outlived a partial loss of the store's data).
COMPLETE_KEY = "deny-list:complete"
COMPLETE_TTL_SECONDS = 30 * 24 * 3600
# Held by the instance copying, so that instances do not all copy at once; if it dies, the
# next check after this long starts a copy again.
COPYING_KEY = "deny-list:copying"
COPYING_TTL_SECONDS = 120
COPY_BATCH = 1000  # rows read, and keys written in one pipeline, at a time
RETRY_SECONDS = 5.0  # between copies tried by one instance while the marker stays missing


def revoked_key(token_id: str) -> str:
    return f"revoked-token:{token_id}"


async def revoked_in_database(token_id: str) -> bool:
    """The deny-list's database copy (on the primary: a revocation is read as soon as it is
    committed)."""
    async with runtime.current().db.reads() as session:
        return await session.get(RevokedToken, token_id) is not None


async def revoked_reading(
    store: Cache, token_id: str, keys: list[str]
) -> tuple[bool, list[Any | None]]:
    """Whether the token is revoked, with `keys` read from the store in the same round trip
    (the caller's user entry: one MGET for the whole token check). When the store does not
    answer, the database says and the keys read as misses."""
    try:
        *values, entry, complete = await store.get_many(
            [*keys, revoked_key(token_id), COMPLETE_KEY], strict=True
        )
    except CacheUnavailable:
        return await revoked_in_database(token_id), [None] * len(keys)
    if entry is not None:
        return True, values
    if complete is not None:
        return False, values
    repair = runtime.current().find(DenyListRepair)
    if repair is not None:
        repair.store_incomplete()
    return await revoked_in_database(token_id), values


async def copy_to_store(db: Database, store: Cache, *, now: datetime | None = None) -> int:
    """Write every revocation of the database that has not expired into the store, then the
    marker; returns how many were copied. Raises CacheUnavailable if a write fails (the
    marker is then not written)."""
    now = now or utcnow()
    copied, after = 0, ""
    while True:
        async with db.reads() as session:
            rows = (
                await session.execute(
                    select(RevokedToken.token_id, RevokedToken.expires_at)
                    .where(RevokedToken.token_id > after, RevokedToken.expires_at > now)
                    .order_by(RevokedToken.token_id)
                    .limit(COPY_BATCH)
                )
            ).all()
        if not rows:
            break
        # One TTL per batch, the longest: an entry kept past its token's expiry refuses
        # nothing the signature check would not.
        ttl = math.ceil((max(expires_at for _, expires_at in rows) - now).total_seconds())
        entries = {revoked_key(token_id): True for token_id, _ in rows}
        await store.set_many(entries, max(1, ttl), strict=True)
        copied += len(rows)
        after = rows[-1][0]
    await store.set(COMPLETE_KEY, True, COMPLETE_TTL_SECONDS)
    return copied


async def purge_expired_revocations(session: AsyncSession, *, now: datetime) -> int:
    """Forget the revoked tokens that have expired (their signature check refuses them now):
    each refresh adds one. Returns how many went."""
    result = await session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


class DenyListRepair:
    """The process's copier of the database's revocations into a store that lost them,
    started and stopped by the app's lifespan."""

    def __init__(self, db: Database, store: Cache) -> None:
        self._db = db
        self._store = store
        self._task: asyncio.Task[None] | None = None
        self._next_try = 0.0

    async def start(self) -> None:
        """At start: an in-process store is empty, and a Redis may have lost its data while
        no instance ran."""
        if await self._store.get(COMPLETE_KEY) is None:
            self.store_incomplete()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def store_incomplete(self) -> None:
        """A check found no marker: copy, unless a copy is under way or due here (one at
        most every RETRY_SECONDS; checks keep asking the database meanwhile)."""
        if self._task is not None and not self._task.done():
            return
        delay = max(0.0, self._next_try - time.monotonic())
        self._task = asyncio.create_task(self._copy(delay), name="parley-deny-list-repair")

    async def _copy(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._next_try = time.monotonic() + RETRY_SECONDS
        try:
            if not await self._store.add(COPYING_KEY, True, COPYING_TTL_SECONDS):
                return  # another instance is copying (or the store does not answer)
            try:
                copied = await copy_to_store(self._db, self._store)
            finally:
                await self._store.delete(COPYING_KEY)
            log.info("revoked tokens copied back into the store", extra={"tokens": copied})
        except Exception as error:  # the checks ask the database until a copy succeeds
            log.warning("revoked token copy failed", extra={"error": type(error).__name__})
