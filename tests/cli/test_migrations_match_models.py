"""The migrations build exactly the schema the models describe, on the backend under test.

The server fixture has migrated the test database with `parley serve`; Alembic's autogenerate
comparison against the models must then find nothing to change (a model change without a
migration, or a migration that differs from the models, fails here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from parley.core.config import normalize_database_url
from parley.core.db import Base
from parley.models import import_all_models
from parley.search.schema import is_search_object
from tests.support import Server, query_sql


async def test_migrated_schema_matches_the_models(
    server: Server, backend_env: dict[str, str]
) -> None:
    import_all_models()
    url = (
        normalize_database_url(backend_env["DATABASE_URL"])
        if "DATABASE_URL" in backend_env
        else f"sqlite+aiosqlite:///{Path(backend_env['PARLEY_DATA_DIR']) / 'parley.db'}"
    )
    engine = create_async_engine(url)

    def differences(connection: Any) -> list[Any]:
        # The search index's objects (parley/search/schema.py) are the database's own
        # derivation of messages.content, not model columns; everything else is compared.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": is_search_object}
        )
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await engine.dispose()

    assert diff == []


async def test_the_search_index_exists_where_the_filter_skips_it(
    server: Server, backend_env: dict[str, str]
) -> None:
    """The objects the comparison above skips are really there (so skipping hides nothing)."""
    if "DATABASE_URL" in backend_env:
        rows = await query_sql(
            backend_env,
            "SELECT indexname FROM pg_indexes WHERE tablename = 'messages' "
            "AND indexdef LIKE '%USING gin (search_vector)%'",
        )
        assert rows == [("ix_messages_search",)]
    else:
        rows = await query_sql(
            backend_env,
            "SELECT name FROM sqlite_master WHERE (type = 'table' AND name = 'messages_fts') "
            "OR (type = 'trigger' AND name LIKE 'messages_fts%') "
            "ORDER BY name",
        )
        assert [name for (name,) in rows] == [
            "messages_fts",
            "messages_fts_delete",
            "messages_fts_insert",
            "messages_fts_update",
        ]
