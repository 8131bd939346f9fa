"""The text search configuration that queries use: on PostgreSQL, the one the index was built
with (migration 0008 writes `SEARCH_LANGUAGE` into the generated column), so a setting changed
later can never make queries and index disagree; a warning at start says the index needs a
rebuild for the new setting to apply (docs/api.md, "Search")."""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from parley.core.config import Settings
from parley.core.db import Database
from parley.search.schema import VECTOR_COLUMN

log = logging.getLogger(__name__)

_BUILT_WITH = re.compile(r"to_tsvector\('([a-z][a-z0-9_]*)'::regconfig")
_COLUMN_EXPRESSION = text(
    "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
    "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
    "WHERE d.adrelid = to_regclass('messages') AND a.attname = :column"
)


class SearchLanguage:
    """The process's search configuration (a runtime component)."""

    def __init__(self, name: str) -> None:
        self.name = name


async def built_language(db: Database) -> str | None:
    """The configuration in `messages.search_vector`'s expression; None on SQLite, or before
    the migration has built it."""
    if db.settings.is_sqlite:
        return None
    try:
        async with db.reads() as session:
            expression = await session.scalar(_COLUMN_EXPRESSION, {"column": VECTOR_COLUMN})
    except DBAPIError:
        return None
    found = _BUILT_WITH.search(expression or "")
    return found.group(1) if found else None


async def search_language(settings: Settings, db: Database) -> SearchLanguage:
    built = await built_language(db)
    if built is not None and built != settings.search_language:
        log.warning(
            "SEARCH_LANGUAGE differs from the search index's configuration; searches use the "
            "index's until it is rebuilt (docs/api.md, Search)",
            extra={"setting": settings.search_language, "index": built},
        )
    return SearchLanguage(built or settings.search_language)
