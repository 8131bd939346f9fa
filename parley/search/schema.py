"""The search index's database objects, which the models do not describe.

`messages.content` is stored encrypted (core/encrypted.py), so the index is fed the plaintext
(migrations 0008 and 0013), one kind per engine:
- PostgreSQL: `messages.search_vector`, a plain `tsvector` column the application writes from
  the plaintext (messages/search_vector.py: the committer's INSERT, an edit's UPDATE), which
  the trigger `messages_search_vector_guard` sets NULL for end-to-end encrypted, deleted and
  content-less rows; the GIN index `ix_messages_search`; and `ix_messages_search_recent` on
  (server_timestamp, id), for the newest matches first. Its comment names the configuration
  it was built with (search/language.py). Anything else that writes a new text into
  `content` must write the vector too.
- SQLite: the FTS5 table `messages_fts` (its shadow tables are `messages_fts_*`), external
  content read from the view `messages_fts_source` (the indexable messages by rowid, text
  through `parley_decrypt`, core/db.py), kept in step by the triggers `messages_fts_insert`,
  `messages_fts_update`, `messages_fts_delete`. A connection without `parley_decrypt`
  registered cannot write `messages` (the triggers call it) or read the view.
  A later SQLite migration that rebuilds `messages` (batch mode) drops these triggers and may
  renumber rowids: it must re-create them and run `INSERT INTO messages_fts(messages_fts)
  VALUES ('rebuild')`; so must anything that runs VACUUM on the database.

Autogenerate and the migrations-match-models test skip exactly these objects
(`is_search_object`), so every other difference between models and schema still shows.
"""

from __future__ import annotations

from typing import Any

VECTOR_COLUMN = "search_vector"
VECTOR_INDEX = "ix_messages_search"
RECENT_INDEX = "ix_messages_search_recent"
FTS_TABLE = "messages_fts"


def is_search_object(
    _object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any
) -> bool:
    """Alembic `include_object` hook: False for the search index's objects."""
    if name is None:
        return True
    if type_ == "table" and (name == FTS_TABLE or name.startswith(FTS_TABLE + "_")):
        return False
    if type_ == "column" and name == VECTOR_COLUMN:
        return False
    return not (type_ == "index" and name in (VECTOR_INDEX, RECENT_INDEX))
