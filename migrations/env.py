"""Alembic environment: runs on SQLite and PostgreSQL through the async engine."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

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
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The search index is built by the database from messages.content (0008), not modelled.
        include_object=is_search_object,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Instances starting at once migrate one after the other: the lock lasts until
            # this transaction (all of the migration) ends; the next one then finds head.
            connection.execute(text("SELECT pg_advisory_xact_lock(727210)"))
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        # The search index's view and triggers call parley_decrypt (migration 0013).
        @event.listens_for(engine.sync_engine, "connect")
        def _functions(dbapi_connection: Any, _record: Any) -> None:
            register_sqlite_functions(dbapi_connection)

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
