"""The text search configuration that queries and index writes use: on PostgreSQL, the one the
index was built with (migration 0013 writes it into the comment on `messages.search_vector`,
as `to_tsvector('<name>'::regconfig, content)`), so a setting changed later can never make
queries, new rows and the index disagree; a warning at start says the index needs a rebuild
for the new setting to apply (docs/api.md, "Search")."""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from parley.core.config import Settings
from parley.core.db import Database
from parley.messages.search_vector import SearchLanguage
from parley.search.schema import VECTOR_COLUMN

log = logging.getLogger(__name__)

_BUILT_WITH = re.compile(r"to_tsvector\('([a-z][a-z0-9_]*)'::regconfig")
_COLUMN_COMMENT = text(
    "SELECT col_description(a.attrelid, a.attnum) FROM pg_attribute a "
    "WHERE a.attrelid = to_regclass('messages') AND a.attname = :column"
)


async def built_language(db: Database) -> str | None:
    """The configuration named by `messages.search_vector`'s comment; None on SQLite, or before
    the migration has written it."""
    if db.settings.is_sqlite:
        return None
    try:
        async with db.reads() as session:
            expression = await session.scalar(_COLUMN_COMMENT, {"column": VECTOR_COLUMN})
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
