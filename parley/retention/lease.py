"""A lease in the database: at most one holder of a job name at a time, across processes and
instances, on SQLite and PostgreSQL alike.

Acquire is a guarded UPDATE (take the row if it is ours or expired), else an INSERT that does
nothing on conflict: whichever statement changes a row holds the lease, and the database's
row lock (SQLite's single writer) decides between two at once. The holder renews before it
expires; a holder that dies stops renewing and another takes over once it expires. Times
come from each process's clock: keep instances' clocks in sync (NTP) well within the TTL."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from parley.core.db import Database, utcnow
from parley.retention.models import JobLease


def new_holder() -> str:
    """An id for this process's claim (host, pid and a random part: unique per lease object)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Lease:
    """One process's claim on job `name`."""

    def __init__(self, db: Database, name: str, *, ttl_seconds: float) -> None:
        self._db = db
        self.name = name
        self.holder = new_holder()
        self._ttl = timedelta(seconds=ttl_seconds)

    async def acquire(self) -> bool:
        """Take the lease if free, expired or already ours; True when we hold it now."""
        now = utcnow()
        async with self._db.unit_of_work() as session:
            taken = await session.execute(
                update(JobLease)
                .where(
                    JobLease.name == self.name,
                    (JobLease.holder == self.holder) | (JobLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self._ttl)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return True
            dialect = (await session.connection()).dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            inserted = await session.execute(
                insert(JobLease)
                .values(name=self.name, holder=self.holder, expires_at=now + self._ttl)
                .on_conflict_do_nothing(index_elements=[JobLease.name])
            )
            return bool(inserted.rowcount == 1)  # type: ignore[attr-defined]

    async def renew(self) -> bool:
        """Push the expiry on while working; False when the lease was lost (expired and
        taken by another): the caller stops."""
        async with self._db.unit_of_work() as session:
            renewed = await session.execute(
                update(JobLease)
                .where(JobLease.name == self.name, JobLease.holder == self.holder)
                .values(expires_at=utcnow() + self._ttl)
                .execution_options(synchronize_session=False)
            )
            return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]

    async def release(self) -> None:
        """Let another take it at once (the job is done for now)."""
        async with self._db.unit_of_work() as session:
            await session.execute(
                update(JobLease)
                .where(JobLease.name == self.name, JobLease.holder == self.holder)
                .values(expires_at=utcnow())
                .execution_options(synchronize_session=False)
            )
