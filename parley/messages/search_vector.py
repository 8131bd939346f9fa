"""The search index's text on PostgreSQL: `messages.search_vector`, written by the application.

`messages.content` is stored encrypted (core/encrypted.py), so the database cannot derive the
vector from it: whoever writes a message's text writes its vector from the plaintext in the
same statement (the committer's INSERT, the edit's UPDATE). A trigger (migration 0013) sets it
NULL whenever the row is end-to-end encrypted, deleted, or has no content, so erasure,
retention and soft delete need not know about search. SQLite indexes through its own triggers
and `parley_decrypt` (core/db.py), so nothing here runs there.

The text search configuration is the one the column was built with (search/language.py reads
it from the column's comment at start-up and registers it as `SearchLanguage`), so writes and
queries always agree with what is already indexed.
"""

from __future__ import annotations

import uuid
from functools import cache

from sqlalchemy import ColumnElement, Insert, Text, Uuid, bindparam, column, func, literal_column
from sqlalchemy import table as table_clause
from sqlalchemy.dialects.postgresql import REGCONFIG, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core import runtime
from parley.core.config import search_language
from parley.messages.models import Message

VECTOR_COLUMN = "search_vector"
# Private-use characters search puts around matches in snippets (search/terms.py): taken out
# of the indexed text so a message cannot fake a match.
MARK_START = "\ue000"
MARK_STOP = "\ue001"
_TEXT_PARAMETER = "search_text"


class SearchLanguage:
    """The configuration the index was built with (a runtime component)."""

    def __init__(self, name: str) -> None:
        self.name = name


def current_language() -> str:
    """The index's configuration, or the setting before it is known."""
    current = runtime.current()
    known = current.find(SearchLanguage)
    return known.name if known is not None else current.settings.search_language


def regconfig(language: str) -> ColumnElement[str]:
    """`'<name>'::regconfig` as a constant (folded at plan time; see search/queries.py). The
    name is checked by `config.search_language`: never SQL."""
    checked = search_language({"SEARCH_LANGUAGE": language})
    return literal_column(f"'{checked}'::regconfig", REGCONFIG)


def indexed_text(content: str | None, *, encrypted: bool) -> str | None:
    """What the index reads of a message: its plaintext without the snippet markers; None
    for end-to-end encrypted messages (client ciphertext is never indexed) and no content."""
    if encrypted or content is None:
        return None
    return content.replace(MARK_START, "").replace(MARK_STOP, "")


def vector_of(language: str, text: ColumnElement[str]) -> ColumnElement[str]:
    return func.to_tsvector(regconfig(language), text, type_=TSVECTOR)


@cache
def insert_messages(language: str) -> Insert:
    """The committer's INSERT on PostgreSQL: every column of `messages` through its type
    (content encrypted on bind) plus the vector from each row's `search_text` parameter, in
    the one executemany statement the batch already runs."""
    columns = [column(c.name, c.type) for c in Message.__table__.columns]
    messages = table_clause("messages", *columns, column(VECTOR_COLUMN, TSVECTOR))
    text = bindparam(_TEXT_PARAMETER, type_=Text)
    return messages.insert().values({VECTOR_COLUMN: vector_of(language, text)})


def with_search_text(row: dict[str, object], *, content: str | None, encrypted: bool) -> None:
    """Add the insert's `search_text` parameter to a row of `insert_messages`."""
    row[_TEXT_PARAMETER] = indexed_text(content, encrypted=encrypted)


async def write_vector(
    session: AsyncSession, *, message_id: uuid.UUID, content: str | None, encrypted: bool
) -> None:
    """After a change of text (an edit, an erasure's rewritten mention): the vector of the new
    text (PostgreSQL only; SQLite's triggers do it)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    messages = table_clause("messages", column("id", Uuid), column(VECTOR_COLUMN, TSVECTOR))
    text = indexed_text(content, encrypted=encrypted)
    await session.execute(
        messages.update()
        .where(messages.c.id == message_id)
        .values({VECTOR_COLUMN: vector_of(current_language(), bindparam("text", text, Text))})
    )
