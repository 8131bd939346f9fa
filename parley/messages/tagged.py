"""Reading messages through their mention and hashtag rows (no side effects).

A message is listed to a user only where `queries.list_messages` would show it to them with
its content: in a conversation they read now (`access.readable_conversations`), not deleted,
and, when held for review, only to its sender and the reviewers (`may_read_held`, in SQL).
Encrypted messages have neither mention nor hashtag rows: the text is not read at send.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, Subquery, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import access
from parley.conversations.permissions import Action, roles_allowed
from parley.core.errors import ValidationFailed
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.messages import extract
from parley.messages.models import Hashtag, Mention, Message
from parley.messages.render import render
from parley.messages.schemas import HashtagOut, HashtagPage, MessagePage, MessageStatus

_TAG_PREFIX = re.compile(r"[\w-]{0,100}")


def normalise_tag(tag: str, *, field: str = "tag") -> str:
    """`#Launch` or `launch` -> `launch` (as `extract.hashtags` stores it); VALIDATION_ERROR
    for anything that could not be a tag."""
    name = tag.strip().removeprefix("#").lower()
    if not extract.is_hashtag(name):
        raise ValidationFailed(f"{field} is not a hashtag", field=field)
    return name


def normalise_prefix(prefix: str) -> str:
    """An autocomplete prefix: the start of a tag, `#` optional, maybe empty."""
    name = prefix.strip().removeprefix("#").lower()
    if not _TAG_PREFIX.fullmatch(name):
        raise ValidationFailed("prefix is not the start of a hashtag", field="prefix")
    return name


def _visible_to(user_id: uuid.UUID) -> tuple[Subquery, list[ColumnElement[bool]]]:
    """The caller's readable conversations (to join on) and the conditions that keep to the
    messages they may read with content there."""
    readable = access.readable_conversations(user_id).subquery()
    reviewers = [str(role) for role in roles_allowed(Action.REVIEW_FLAGGED_CONTENT)]
    conditions: list[ColumnElement[bool]] = [
        Message.deleted_at.is_(None),
        or_(
            Message.status != MessageStatus.MODERATED,
            Message.sender_id == user_id,
            readable.c.role.in_(reviewers),
        ),
    ]
    return readable, conditions


async def list_mentions(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, cursor: str | None
) -> MessagePage:
    """The messages that mention the caller, newest first, that the caller reads now."""
    return await _list_through(
        session, Mention, Mention.user_id == user_id, user_id=user_id, limit=limit, cursor=cursor
    )


async def list_tagged(
    session: AsyncSession, *, user_id: uuid.UUID, tag: str, limit: int, cursor: str | None
) -> MessagePage:
    """The messages carrying `tag`, newest first, in conversations the caller reads now."""
    name = normalise_tag(tag)
    return await _list_through(
        session, Hashtag, Hashtag.tag == name, user_id=user_id, limit=limit, cursor=cursor
    )


async def _list_through(
    session: AsyncSession,
    index: type[Mention] | type[Hashtag],
    matches: ColumnElement[bool],
    *,
    user_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> MessagePage:
    """A page of the messages whose `index` rows match, newest first by the rows' time."""
    readable, conditions = _visible_to(user_id)
    statement = (
        select(Message, index.created_at)
        .select_from(index)
        .join(Message, Message.id == index.message_id)
        .join(readable, readable.c.conversation_id == index.conversation_id)
        .where(matches, *conditions)
        .order_by(index.created_at.desc(), index.message_id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        statement = statement.where(
            after_time_cursor(cursor, index.created_at, index.message_id, descending=True)
        )
    return await _page(session, statement, limit)


async def _page(
    session: AsyncSession, statement: Select[Message, datetime], limit: int
) -> MessagePage:
    """A page of (message, indexed at) rows; the cursor is the last row's position."""
    rows = list((await session.execute(statement)).tuples().all())
    more = len(rows) > limit
    rows = rows[:limit]
    return MessagePage(
        # Held messages were kept only where the caller may read them: no viewer to apply.
        items=await render(session, [message for message, _ in rows]),
        next_cursor=encode_time_cursor(rows[-1][1], rows[-1][0].id) if more else None,
        has_more=more,
    )


async def list_hashtags(
    session: AsyncSession, *, user_id: uuid.UUID, prefix: str, limit: int
) -> HashtagPage:
    """Tags starting with `prefix` on messages the caller reads, most used first (then by
    name): for autocomplete, one bounded page."""
    start = normalise_prefix(prefix)
    readable, conditions = _visible_to(user_id)
    uses = func.count(Hashtag.id)
    statement = (
        select(Hashtag.tag, uses)
        .select_from(Hashtag)
        .join(Message, Message.id == Hashtag.message_id)
        .join(readable, readable.c.conversation_id == Hashtag.conversation_id)
        .where(*conditions)
        .group_by(Hashtag.tag)
        .order_by(uses.desc(), Hashtag.tag)
        .limit(limit)
    )
    if start:
        statement = statement.where(Hashtag.tag.like(_escape_like(start) + "%", escape="\\"))
    rows = (await session.execute(statement)).all()
    return HashtagPage(items=[HashtagOut(tag=tag, count=count) for tag, count in rows])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
