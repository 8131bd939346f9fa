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
from tests.support import Server


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
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
    finally:
        await engine.dispose()

    assert diff == []
