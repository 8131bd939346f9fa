"""Full-text search over the messages a caller may read now (no side effects).

Visibility is the rule of `messages/tagged.py`, stricter for held messages: a conversation
the caller reads now (`access.readable_conversations`, so leaving or removal takes effect at
once), not deleted, not encrypted (never indexed either) and not held for review (not even
for its sender or the reviewers: search is for what everyone in the room can see).

One statement finds the page and loads its rows (an engine-specific subquery gives ids and
ranks, best first); the rows are rendered like every other message list and given their
snippets, which are computed for those rows only.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Subquery,
    Text,
    Uuid,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts.service import find_user_ids_by_usernames
from parley.conversations import access
from parley.core.config import search_language
from parley.core.errors import ValidationFailed
from parley.core.pagination import decode_text_cursor, encode_text_cursor
from parley.messages.models import Hashtag, Mention, Message
from parley.messages.render import render
from parley.messages.schemas import MessageStatus
from parley.messages.search_vector import current_language, indexed_text
from parley.messages.tagged import normalise_tag
from parley.search import terms
from parley.search.schema import FTS_TABLE, VECTOR_COLUMN
from parley.search.schemas import SearchHit, SearchPage

_USERNAME = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,63}")
# One stretch of 12-30 words around the best match; ts_headline leaves out what its parser
# takes for HTML tags (`<b>`), which a snippet can do without.
_HEADLINE_OPTIONS = (
    f"StartSel={terms.MARK_START}, StopSel={terms.MARK_STOP}, MaxWords=30, MinWords=12"
)
_SNIPPET_TOKENS = 24
# Ranking reads every candidate's text, so it is bounded: the newest RANK_WINDOW matches (after
# visibility and filters) are ranked, and pages walk through them best first. A word in most
# messages then costs the walk back to its RANK_WINDOW newest uses, not a rank of millions
# (docs/api.md, "Search"; bench/search.py). Older hits are reached by narrowing: `to=`, more
# words, a conversation.
RANK_WINDOW = 200


@dataclass(frozen=True)
class SearchFilters:
    """Narrowing conditions, all of which a hit meets (AND)."""

    conversation_id: uuid.UUID | None = None
    sender_id: uuid.UUID | None = None
    since: datetime | None = None  # serverTimestamp >= since
    until: datetime | None = None  # serverTimestamp < until
    hashtag: str | None = None  # `#` optional, any case
    mention: str | None = None  # a username, `@` optional


def normalise_query(query: str) -> str:
    """The query trimmed; VALIDATION_ERROR unless it has 1..MAX_QUERY_LENGTH characters."""
    text = query.strip()
    if not 1 <= len(text) <= terms.MAX_QUERY_LENGTH:
        raise ValidationFailed(f"q must have 1 to {terms.MAX_QUERY_LENGTH} characters", field="q")
    return text


def _normalise_mention(mention: str) -> str:
    name = mention.strip().removeprefix("@").lower()
    if not _USERNAME.fullmatch(name):
        raise ValidationFailed("mention is not a username", field="mention")
    return name


def _encode_cursor(rank: float, message_id: uuid.UUID) -> str:
    return encode_text_cursor(f"{rank!r}|{message_id}")


def _decode_cursor(cursor: str) -> tuple[float, uuid.UUID]:
    try:
        rank_text, id_text = decode_text_cursor(cursor).split("|", 1)
        rank, message_id = float(rank_text), uuid.UUID(id_text)
    except ValueError:
        raise ValidationFailed("The cursor is not valid", field="cursor") from None
    if not math.isfinite(rank):
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return rank, message_id


async def search_messages(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    query: str,
    filters: SearchFilters,
    limit: int,
    cursor: str | None,
    language: str | None = None,
) -> SearchPage:
    """The messages the caller may read now that contain every word of `query` (the last
    one also as a prefix), best ranked first, paged by `cursor`."""
    words = terms.words(normalise_query(query))
    after = _decode_cursor(cursor) if cursor is not None else None
    tag = normalise_tag(filters.hashtag, field="hashtag") if filters.hashtag is not None else None
    mention = _normalise_mention(filters.mention) if filters.mention is not None else None
    if filters.conversation_id is not None:
        # CONVERSATION_NOT_FOUND for a conversation the caller does not read, as elsewhere.
        await access.get_membership(
            session, conversation_id=filters.conversation_id, user_id=user_id
        )
    conditions = _visible(user_id)
    conditions += _narrowed(filters, tag)
    if mention is not None:
        found = await find_user_ids_by_usernames(session, usernames=[mention])
        if mention not in found:
            return SearchPage(items=[])
        conditions.append(
            exists().where(Mention.message_id == Message.id, Mention.user_id == found[mention])
        )
    if not words:  # nothing searchable (only punctuation): nothing found, not an error
        return SearchPage(items=[])

    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        engine: _Engine = _PostgreSQL(words, language or current_language())
    else:
        engine = _SQLite(words)
    if postgresql:
        # A plan for these words and this caller each time: a cached generic plan cannot know
        # whether the words are rare or in most messages, and the plan for one is ruinous for
        # the other (seen in bench/search.py: a second instead of milliseconds).
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    # The page's rows come with their ranks in one statement (one round trip, and the rows
    # are those the page's conditions saw: nothing deleted or held in between).
    page = engine.page(conditions, after).limit(limit + 1).subquery("page")
    statement = (
        select(Message, page.c.rank)
        .join(page, page.c.id == Message.id)
        .order_by(page.c.rank.desc(), page.c.id.desc())
    )
    rows = list((await session.execute(statement)).tuples().all())
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return SearchPage(items=[])
    last_message, last_rank = rows[-1]
    messages = [message for message, _ in rows]
    texts = {message.id: message.content or "" for message in messages}
    snippets = dict((await session.execute(engine.snippets(texts))).tuples().all())
    rendered = await render(session, messages)
    items = [
        SearchHit.model_validate(
            {
                **out.model_dump(),
                "snippet": terms.snippet_html(snippets.get(message.id) or ""),
                "rank": rank,
            }
        )
        for out, (message, rank) in zip(rendered, rows, strict=True)
    ]
    if not more:
        return SearchPage(items=items)
    return SearchPage(items=items, next_cursor=_encode_cursor(last_rank, last_message.id))


def _visible(user_id: uuid.UUID) -> list[ColumnElement[bool]]:
    readable = access.readable_conversations(user_id).subquery()
    return [
        Message.conversation_id.in_(select(readable.c.conversation_id)),
        Message.deleted_at.is_(None),
        Message.encrypted.is_(False),
        Message.status != MessageStatus.MODERATED,
    ]


def _narrowed(filters: SearchFilters, tag: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.conversation_id is not None:
        conditions.append(Message.conversation_id == filters.conversation_id)
    if filters.sender_id is not None:
        conditions.append(Message.sender_id == filters.sender_id)
    if filters.since is not None:
        conditions.append(Message.server_timestamp >= filters.since)
    if filters.until is not None:
        conditions.append(Message.server_timestamp < filters.until)
    if tag is not None:
        conditions.append(exists().where(Hashtag.message_id == Message.id, Hashtag.tag == tag))
    return conditions


def _ranked(
    candidates: Subquery, after: tuple[float, uuid.UUID] | None
) -> Select[uuid.UUID, float]:
    """The candidates best first (rank desc, id desc), from just past the cursor."""
    statement = select(candidates.c.id, candidates.c.rank).order_by(
        candidates.c.rank.desc(), candidates.c.id.desc()
    )
    if after is None:
        return statement
    last_rank, last_id = after
    rank, message_id = candidates.c.rank, candidates.c.id
    return statement.where(or_(rank < last_rank, and_(rank == last_rank, message_id < last_id)))


class _Engine:
    def page(
        self, conditions: list[ColumnElement[bool]], after: tuple[float, uuid.UUID] | None
    ) -> Select[uuid.UUID, float]:
        """The page's statement (without its LIMIT): ids and ranks, best first."""
        raise NotImplementedError

    def snippets(self, texts: dict[uuid.UUID, str]) -> Select[uuid.UUID, str]:
        """The page's snippets (id -> raw snippet), from its messages' plaintext by id."""
        raise NotImplementedError


class _PostgreSQL(_Engine):
    """The `search_vector` column, its GIN index, `ts_rank_cd`, `ts_headline`."""

    def __init__(self, words: list[str], language: str) -> None:
        # A constant, not a bound parameter: `CAST($1 AS regconfig)` is not folded at plan
        # time (its input function is only stable), so to_tsquery then ran for every row the
        # walk visits, and the planner could not see the words' selectivity (bench/search.py:
        # "water" 52 -> 2x faster). The name is checked by `config.search_language`: never SQL.
        checked = search_language({"SEARCH_LANGUAGE": language})
        self.language = literal_column(f"'{checked}'::regconfig", REGCONFIG)
        self.text = terms.tsquery_text(words)

    def _tsquery(self) -> ColumnElement[str]:
        return func.to_tsquery(self.language, literal(self.text))

    def page(
        self, conditions: list[ColumnElement[bool]], after: tuple[float, uuid.UUID] | None
    ) -> Select[uuid.UUID, float]:
        vector: ColumnElement[str] = literal_column(f"messages.{VECTOR_COLUMN}")
        # The planner picks the GIN index for rare words (few matches, sorted by time) or a
        # walk back through ix_messages_search_recent for common ones (stops at the window).
        candidates = (
            select(Message.id.label("id"), vector.label("vector"))
            .where(vector.op("@@")(self._tsquery()), *conditions)
            .order_by(Message.server_timestamp.desc(), Message.id.desc())
            .limit(RANK_WINDOW)
            .subquery("candidates")
        )
        # Ranked outside the window's subquery, so only the window's rows are ranked: inside
        # it, ts_rank_cd ran for every match the scan returned (for a prefix, every match in
        # scope before the top-N sort; bench/search.py: 3-letter prefix 16 -> 13 ms at 1M).
        rank: ColumnElement[float] = func.ts_rank_cd(
            candidates.c.vector, self._tsquery(), type_=Float
        )
        scored = select(candidates.c.id, rank.label("rank")).subquery("scored")
        return _ranked(scored, after)

    def snippets(self, texts: dict[uuid.UUID, str]) -> Select[uuid.UUID, str]:
        # `content` is stored encrypted: ts_headline reads the page's plaintext, passed as two
        # array parameters (the markers taken out first, so only ts_headline's own remain).
        # Arrays, not a VALUES list: SQLAlchemy compiled a VALUES list of parameters anew for
        # every search (1.2 ms of CPU on the bench machine); this statement is compiled once.
        plain = [indexed_text(text, encrypted=False) or "" for text in texts.values()]
        page = (
            func.unnest(
                bindparam("page_ids", list(texts), type_=ARRAY(Uuid)),
                bindparam("page_texts", plain, type_=ARRAY(Text)),
            )
            .table_valued(column("id", Uuid), column("text", Text))
            .render_derived(name="page")
        )
        headline = func.ts_headline(self.language, page.c.text, self._tsquery(), _HEADLINE_OPTIONS)
        return select(page.c.id, headline)


class _SQLite(_Engine):
    """The FTS5 table `messages_fts` (external content: messages), bm25, `snippet()`."""

    def __init__(self, words: list[str]) -> None:
        self.match = terms.fts5_match(words)
        self.fts = table(FTS_TABLE, column("rowid"))

    def _on(self) -> ColumnElement[bool]:
        return literal_column("messages.rowid") == self.fts.c.rowid

    def _matches(self) -> ColumnElement[bool]:
        return literal_column(FTS_TABLE).op("MATCH")(literal(self.match))

    def page(
        self, conditions: list[ColumnElement[bool]], after: tuple[float, uuid.UUID] | None
    ) -> Select[uuid.UUID, float]:
        # bm25 is lower for better matches: negated, so "higher is better" on both engines.
        rank: ColumnElement[float] = -func.bm25(literal_column(FTS_TABLE), type_=Float)
        # FTS5 returns matches in rowid order without sorting; messages' rowids grow with
        # each insert, so the newest matches come first and the window stops the scan.
        candidates = (
            select(Message.id.label("id"), rank.label("rank"))
            .select_from(self.fts)
            .join(Message, self._on())
            .where(self._matches(), *conditions)
            .order_by(self.fts.c.rowid.desc())
            .limit(RANK_WINDOW)
            .subquery("candidates")
        )
        return _ranked(candidates, after)

    def snippets(self, texts: dict[uuid.UUID, str]) -> Select[uuid.UUID, str]:
        # FTS5's snippet() reads the view, which decrypts (parley_decrypt, migration 0013).
        ids = list(texts)
        snippet = func.snippet(
            literal_column(FTS_TABLE),
            0,
            terms.MARK_START,
            terms.MARK_STOP,
            "…",
            _SNIPPET_TOKENS,
        )
        # The page's rows by rowid: FTS5 then looks up each one, instead of walking every
        # match of a common word to find them (170 ms at 1M messages, bench/search.py).
        rowid: ColumnElement[int] = literal_column("messages.rowid")
        rowids = select(rowid).where(Message.id.in_(ids)).scalar_subquery()
        return (
            select(Message.id, snippet)
            .select_from(self.fts)
            .join(Message, self._on())
            .where(self._matches(), self.fts.c.rowid.in_(rowids))
        )
