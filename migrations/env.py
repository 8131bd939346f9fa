"""Alembic environment: runs on SQLite and PostgreSQL through the async engine."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parley.core.config import ConfigError, load_settings
from parley.core.crypto import KeyRing, install_key_ring
from parley.core.db import Base, register_sqlite_functions
from parley.models import import_all_models
from parley.search.schema import is_search_object

import_all_models()
target_metadata = Base.metadata


def _url() -> str:
    configured = context.config.attributes.get("database_url")
    return str(configured) if configured else load_settings().database_url


def _install_key_ring() -> None:
    """Migrations that read or rewrite encrypted columns (0013 recomputes the search index
    from the plaintext) need the ring: the caller's (`parley migrate`, `parley serve`), else
    the environment's."""
    ring = context.config.attributes.get("key_ring")
    if not isinstance(ring, KeyRing):
        try:
            ring = load_settings().key_ring
        except ConfigError:
            ring = None  # a database with nothing encrypted yet migrates without one
    if ring is not None:
        install_key_ring(ring)


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        # The search index is built by the database from messages.content (0008), not modelled.
        include_object=is_search_object,
        # SQLite's DDL is transactional once SQLAlchemy begins the transactions (_sqlite_ddl_
        # in_transactions). One transaction per migration there: a start killed part-way
        # keeps the migrations it finished and the next one resumes after them, so a first
        # start that is killed again and again (a container's start-up deadline) still gets
        # to head. PostgreSQL keeps one transaction for all: its advisory lock lasts as long.
        transactional_ddl=True,
        transaction_per_migration=sqlite,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Instances starting at once migrate one after the other: the lock lasts until
            # this transaction (all of the migration) ends; the next one then finds head.
            connection.execute(text("SELECT pg_advisory_xact_lock(727210)"))
        context.run_migrations()


def _sqlite_ddl_in_transactions(engine: AsyncEngine) -> None:
    """Python's sqlite3 (under aiosqlite) begins a transaction only before INSERT, UPDATE or
    DELETE, so each CREATE or ALTER of a migration committed on its own: a process killed
    part-way left tables of a migration that alembic_version did not record, and every later
    start failed ("table ... already exists"). SQLAlchemy's recipe: the driver in autocommit,
    and BEGIN sent here, so a migration's DDL commits with its alembic_version row or not
    at all. The app's engines do the same (parley/core/db.py)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # Batch mode copies a table, drops the old one and renames the copy: with foreign
        # keys enforced, dropping a referenced table would fail or cascade. Off is SQLite's
        # default, said here because no PRAGMA can change it inside the transaction.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        # The app's wait for the write lock: a server beside it may be writing.
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # The search index's view and triggers call parley_decrypt (migration 0013).
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        # The write lock from the start, as the app's writer takes it: a deferred transaction
        # that read alembic_version and then writes fails at once if a server wrote between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


async def _run_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        _sqlite_ddl_in_transactions(engine)

    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    _install_key_ring()
    asyncio.run(_run_online())
