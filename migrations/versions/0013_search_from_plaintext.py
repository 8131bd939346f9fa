"""message text encrypted at rest: the search index is fed the plaintext by the application
(PostgreSQL) or through `parley_decrypt` (SQLite)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

`messages.content` now holds ciphertext (core/encrypted.py), so the database can no longer
derive the index from it:
- PostgreSQL: `search_vector` stops being a generated column (its values stay) and is written
  by the application from the plaintext (messages/search_vector.py); a trigger sets it NULL
  when the row is end-to-end encrypted, deleted or without content. The configuration it was
  built with moves into the column's comment (search/language.py reads it). Rows already
  stored encrypted get their vector recomputed from the decrypted text.
- SQLite: the view and triggers of 0008 index `parley_decrypt(content)`, an application
  function every connection registers (core/db.py), and the FTS5 index is rebuilt.
"""

import os
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parley.core.config import search_language
from parley.core.encrypted import decrypt_stored

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_BUILT_WITH = re.compile(r"to_tsvector\('([a-z][a-z0-9_]*)'::regconfig")
_GUARD = "messages_search_vector_guard"

# SQLite: what a row must be to be in the index, and its indexed text (0008's, decrypted).
_INDEXED = "{row}.encrypted = 0 AND {row}.deleted_at IS NULL AND {row}.content IS NOT NULL"
_TEXT_0008 = "replace(replace({row}.content, char(57344), ''), char(57345), '')"
_TEXT_0013 = "replace(replace(parley_decrypt({row}.content), char(57344), ''), char(57345), '')"


def _built_language() -> str:
    expression = op.get_bind().scalar(
        sa.text(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
            "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = to_regclass('messages') AND a.attname = 'search_vector'"
        )
    )
    found = _BUILT_WITH.search(expression or "")
    # A checked name, never SQL.
    return search_language({"SEARCH_LANGUAGE": found.group(1)} if found else dict(os.environ))


def _postgresql_upgrade() -> None:
    language = _built_language()
    # Keeps every vector computed so far (from content still in clear): no table rewrite.
    op.execute("ALTER TABLE messages ALTER COLUMN search_vector DROP EXPRESSION")
    op.execute(
        "COMMENT ON COLUMN messages.search_vector IS "
        f"'to_tsvector(''{language}''::regconfig, content), written by the application "
        "(parley/messages/search_vector.py)'"
    )
    op.execute(
        f"CREATE FUNCTION {_GUARD}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.encrypted OR NEW.deleted_at IS NOT NULL OR NEW.content IS NULL THEN "
        "NEW.search_vector := NULL; END IF; RETURN NEW; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {_GUARD} BEFORE INSERT OR UPDATE OF content, deleted_at, encrypted, "
        f"search_vector ON messages FOR EACH ROW EXECUTE FUNCTION {_GUARD}()"
    )
    _recompute_encrypted(language)


def _recompute_encrypted(language: str) -> None:
    """Rows whose content is already ciphertext: their vector from the decrypted text."""
    bind = op.get_bind()
    update = sa.text(
        f"UPDATE messages SET search_vector = to_tsvector('{language}'::regconfig, :text) "
        "WHERE id = :id"
    )
    after = None
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, content FROM messages WHERE content LIKE 'pe1:%' AND NOT encrypted "
                "AND deleted_at IS NULL AND (CAST(:after AS uuid) IS NULL OR id > :after) "
                "ORDER BY id LIMIT :limit"
            ),
            {"after": after, "limit": _BATCH},
        ).all()
        if not rows:
            return
        bind.execute(
            update,
            [
                {
                    "id": row.id,
                    "text": (decrypt_stored(row.content) or "")
                    .replace("\ue000", "")
                    .replace("\ue001", ""),
                }
                for row in rows
            ],
        )
        after = rows[-1].id


def _sqlite_objects(text: str) -> None:
    op.execute(
        "CREATE VIEW messages_fts_source AS SELECT rowid AS message_rowid, "
        f"{text.format(row='messages')} AS content FROM messages "
        f"WHERE {_INDEXED.format(row='messages')}"
    )
    new, old = _INDEXED.format(row="new"), _INDEXED.format(row="old")
    new_text, old_text = text.format(row="new"), text.format(row="old")
    op.execute(
        f"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN {new} BEGIN "
        f"INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, {new_text}); END"
    )
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


def _sqlite_drop() -> None:
    for trigger in ("messages_fts_insert", "messages_fts_update", "messages_fts_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP VIEW IF EXISTS messages_fts_source")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
        return
    _sqlite_drop()
    _sqlite_objects(_TEXT_0013)


def downgrade() -> None:
    """Back to 0008's objects, which index the stored form: run it only on a database whose
    content is still in clear (ciphertext would be indexed as gibberish)."""
    if op.get_bind().dialect.name == "postgresql":
        match = re.search(
            r"'([a-z][a-z0-9_]*)'",
            op.get_bind().scalar(
                sa.text(
                    "SELECT col_description(a.attrelid, a.attnum) FROM pg_attribute a "
                    "WHERE a.attrelid = to_regclass('messages') AND a.attname = 'search_vector'"
                )
            )
            or "",
        )
        language = search_language({"SEARCH_LANGUAGE": match.group(1)} if match else {})
        op.execute(f"DROP TRIGGER IF EXISTS {_GUARD} ON messages")
        op.execute(f"DROP FUNCTION IF EXISTS {_GUARD}()")
        op.execute("DROP INDEX IF EXISTS ix_messages_search")
        op.execute("ALTER TABLE messages DROP COLUMN IF EXISTS search_vector")
        op.execute(
            "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "CASE WHEN encrypted OR deleted_at IS NOT NULL THEN NULL "
            f"ELSE to_tsvector('{language}'::regconfig, coalesce(content, '')) END) STORED"
        )
        op.execute("CREATE INDEX ix_messages_search ON messages USING gin (search_vector)")
        return
    _sqlite_drop()
    _sqlite_objects(_TEXT_0008)
