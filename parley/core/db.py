"""Database engine, session scopes and the column types shared by every domain.

Services never commit. A request's session (`session_scope` via the `SessionDep` dependency) or
`unit_of_work()` for CLI and socket handlers commits once on success, then runs the callbacks
services registered with `after_commit` (events, cache invalidation), so nothing leaves the
process for a transaction that rolled back.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.types import TypeDecorator

from parley.core.config import Settings
from parley.core.encrypted import decrypt_stored
from parley.core.replica import Read, ReadT, acting_user

if TYPE_CHECKING:
    from parley.core.replica import Replica

AfterCommit = Callable[[], Awaitable[None]]

log = logging.getLogger(__name__)

# A failed after-commit hook is retried in the background with backoff for this long, then
# dropped with a log. Cache invalidations never get here: the cache retries its own deletes
# until they land (core/cache.py); what remains is events, which are best effort.
AFTER_COMMIT_RETRY_SECONDS = 30.0
_AFTER_COMMIT_BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0)
_background: set[asyncio.Task[None]] = set()

# Statement counting for tests and diagnostics: a mutable cell set per request (or per
# committer batch); the engine hook adds one per statement executed in that context.
statement_counter: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "statement_counter", default=None
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both engines (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base every domain's models.py derives from."""


class Database:
    """The process's engines and session factories.

    `sessions` may write. `reads` is for work that only reads (history pages, lookups on the
    send path, token checks): on SQLite it is a pool of read-only connections beside the one
    writer, so reads and acks never queue behind the committer's transaction (WAL lets readers
    see the last commit while a write is under way); on PostgreSQL it is the same pool.
    `read_for` is for the reads a read replica may serve (history, search, analytics, export):
    with `DATABASE_READ_URL` they go to `replica` when it is fresh enough for the user
    (core/replica.py), else to `reads`.
    """

    # Attached by the app when DATABASE_READ_URL is set (it needs the cache).
    replica: Replica | None = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine = _create_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine: AsyncEngine = (
            _create_sqlite_reader(settings) if settings.is_sqlite else self.engine
        )
        self.reads = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def attach_replica(self, replica: Replica) -> None:
        self.replica = replica

    async def read_for(self, user_id: uuid.UUID | None, read: Read[ReadT]) -> ReadT:
        """`read` for `user_id` on the replica when it holds everything they wrote and is
        within the lag bound, else on the primary's read pool."""
        if self.replica is None:
            async with self.reads() as session:
                return await read(session)
        return await self.replica.read(user_id, read, self.reads)

    async def dispose(self) -> None:
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        await self.engine.dispose()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commit on success, roll back on error, then after-commit hooks."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                await run_after_rollback(session)
                raise
            if self.replica is not None and (user_id := acting_user.get()) is not None:
                # Before the hooks: whatever they announce, the writer reads it back.
                await self.replica.wrote((user_id,))
            await run_after_commit(session)


def _create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        # One connection: SQLite has one writer, and queueing in asyncio beats SQLite's
        # sleeping busy handler. Nothing may hold a session while awaiting another one.
        return _sqlite_engine(
            settings,
            connections=1,
            pragmas=("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"),
            # The write lock from the start: a deferred transaction that read first and then
            # writes fails at once (SQLITE_BUSY, no busy wait) if another process wrote in
            # between (two servers on one file, `parley` commands beside a server).
            begin="BEGIN IMMEDIATE",
        )
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        # A connection that died while idle (a PostgreSQL restart) is replaced before
        # use: one ping per checkout, sent by the driver, not counted as a statement.
        pool_pre_ping=True,
        pool_timeout=30,
        hide_parameters=True,
    )
    count_statements(engine)
    return engine


def _create_sqlite_reader(settings: Settings) -> AsyncEngine:
    """Read-only connections to the same SQLite file (`SQLITE_READERS` of them). `query_only`
    makes a write through one fail loudly instead of slipping past the single writer."""
    return _sqlite_engine(
        settings, connections=settings.sqlite_readers, pragmas=("query_only=ON",), begin="BEGIN"
    )


def _sqlite_engine(
    settings: Settings, *, connections: int, pragmas: tuple[str, ...], begin: str
) -> AsyncEngine:
    engine = create_async_engine(
        settings.database_url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=connections,
        max_overflow=0,
        pool_timeout=30,
        connect_args={"timeout": 30},
        # Errors never carry the statement's parameters (message content) into a log.
        hide_parameters=True,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, begin transactions, so SAVEPOINT works
        # (SQLAlchemy's documented recipe for pysqlite/aiosqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (*pragmas, "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    count_statements(engine)
    return engine


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """The application's SQL functions on a SQLite connection (the driver's, or SQLAlchemy's
    aiosqlite adapter): `parley_decrypt(text)`, which the search index's view and triggers
    call to index plaintext while `messages.content` holds ciphertext (migration 0013). Every
    connection that writes messages or reads the index needs it: the app's engines, the
    migrations, bench/search.py."""
    dbapi_connection.create_function("parley_decrypt", 1, decrypt_stored, deterministic=True)


def count_statements(engine: AsyncEngine) -> None:
    """Count each statement `engine` runs into the context's `statement_counter` cell."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count_statement(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        cell = statement_counter.get()
        if cell is not None and not statement.startswith("BEGIN"):
            cell[0] += 1


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault("after_commit", []).append(callback)


def after_rollback(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` if the session's transaction rolls back instead of committing: to undo
    what was done outside the database for it (bytes written to storage for a row that was
    never committed)."""
    session.info.setdefault("after_rollback", []).append(callback)


async def run_after_rollback(session: AsyncSession) -> None:
    """Run each undo hook once, in isolation: the request is failing already, so a hook that
    fails is logged (its error's type only) and the next one still runs."""
    session.info.pop("after_commit", None)
    callbacks: list[AfterCommit] = session.info.pop("after_rollback", [])
    for callback in callbacks:
        try:
            await callback()
        except Exception as error:
            log.warning("after-rollback hook failed", extra={"error": type(error).__name__})


async def run_after_commit(session: AsyncSession) -> None:
    """Run each hook in isolation: the change is committed, so nothing here may fail the
    request or skip the hooks after it. A hook that fails is retried in the background."""
    session.info.pop("after_rollback", None)
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            await callback()
        except Exception as error:
            # Only the error's type: its text may carry an event's content.
            log.warning("after-commit hook failed; retrying", extra={"error": type(error).__name__})
            task = asyncio.get_running_loop().create_task(_retry_after_commit(callback))
            _background.add(task)
            task.add_done_callback(_background.discard)


async def _retry_after_commit(callback: AfterCommit) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + AFTER_COMMIT_RETRY_SECONDS
    attempt = 0
    while True:
        await asyncio.sleep(_AFTER_COMMIT_BACKOFF[min(attempt, len(_AFTER_COMMIT_BACKOFF) - 1)])
        attempt += 1
        try:
            await callback()
            return
        except Exception as error:
            if loop.time() >= deadline:
                log.error(
                    "after-commit hook dropped after retries",
                    extra={"error": type(error).__name__, "attempts": attempt + 1},
                )
                return
