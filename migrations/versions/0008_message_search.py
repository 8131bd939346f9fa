"""message search: a generated tsvector with a GIN index (PostgreSQL), an FTS5 table kept in
step by triggers (SQLite); the existing messages are indexed here

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

The PostgreSQL text search configuration is `SEARCH_LANGUAGE` as this migration runs (default
`simple`): it is part of the column's expression. Changing it later means rebuilding the
column (docs/api.md, "Search"). Encrypted and deleted messages are not indexed on either
engine: their vector is NULL, and the triggers leave them out of (or take them out of) FTS5.
"""

import os
from collections.abc import Sequence

from alembic import op

from parley.core.config import search_language

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: what a row must be to be in the index (the same rule as PostgreSQL's CASE).
_INDEXED = "{row}.encrypted = 0 AND {row}.deleted_at IS NULL AND {row}.content IS NOT NULL"
# The indexed text: the content without U+E000/U+E001, the private-use characters search
# uses to mark matches in snippets (parley/search/terms.py), so a message cannot fake one.
_TEXT = "replace(replace({row}.content, char(57344), ''), char(57345), '')"


def _postgresql_upgrade() -> None:
    language = search_language(dict(os.environ))  # a checked name, never SQL
    # Adding a STORED generated column rewrites the table: this is where existing rows are
    # indexed. On a large production table, plan it (docs/api.md, "Search").
    op.execute(
        "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        "CASE WHEN encrypted OR deleted_at IS NOT NULL THEN NULL "
        f"ELSE to_tsvector('{language}'::regconfig, coalesce(content, '')) END) STORED"
    )
    op.execute("CREATE INDEX ix_messages_search ON messages USING gin (search_vector)")
    # Search ranks the newest matches (parley/search/queries.py, RANK_WINDOW): for a common
    # word the planner walks back through this index instead of ranking every match.
    op.execute("CREATE INDEX ix_messages_search_recent ON messages (server_timestamp, id)")


def _sqlite_upgrade() -> None:
    # prefix='3': the last word of a query is also a prefix (3 characters at least); without
    # this index FTS5 merges the lists of every word starting with it ("the": then, there,
    # they...) in memory, 170 ms p50 at 1M messages (bench/search.py).
    # External content: FTS5 keeps only the index and reads the text (for snippets, and for
    # a 'rebuild') from this view, which holds exactly the indexed rows and text.
    op.execute(
        "CREATE VIEW messages_fts_source AS SELECT rowid AS message_rowid, "
        f"{_TEXT.format(row='messages')} AS content FROM messages "
        f"WHERE {_INDEXED.format(row='messages')}"
    )
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages_fts_source', "
        "content_rowid='message_rowid', tokenize='unicode61 remove_diacritics 2', prefix='3')"
    )
    new, old = _INDEXED.format(row="new"), _INDEXED.format(row="old")
    new_text, old_text = _TEXT.format(row="new"), _TEXT.format(row="old")
    op.execute(
        f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN {new} BEGIN "
        f"INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, {new_text}); END"
    )
    # One trigger for both steps: the old text must leave the index before the new one
    # enters (an external-content 'delete' removes the tokens it is given for that rowid).
    op.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, deleted_at, encrypted "
        "ON messages BEGIN "
        "INSERT INTO messages_fts(messages_fts, rowid, content) "
        f"SELECT 'delete', old.rowid, {old_text} WHERE {old}; "
        "INSERT INTO messages_fts(rowid, content) "
        f"SELECT new.rowid, {new_text} WHERE {new}; END"
    )
    op.execute(
        f"CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN {old} BEGIN "
        "INSERT INTO messages_fts(messages_fts, rowid, content) "
        f"VALUES ('delete', old.rowid, {old_text}); END"
    )
    op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_search_recent")
        op.execute("DROP INDEX IF EXISTS ix_messages_search")
        op.execute("ALTER TABLE messages DROP COLUMN IF EXISTS search_vector")
        return
    for trigger in ("messages_fts_insert", "messages_fts_update", "messages_fts_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS messages_fts")
    op.execute("DROP VIEW IF EXISTS messages_fts_source")
