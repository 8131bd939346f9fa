"""The analytics of one conversation: per-day counters (`conversation_daily_stats`, moved by
the committer in each batch) and indexed queries bounded by the period's seq range.

Every statement reads an index range: the counters (messages, senders, reactions, hashtags) by
their primary key, first responses through `(conversation_id, seq)` of the period's last
messages.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.analytics import figures
from parley.analytics.schemas import (
    AnalyticsDay,
    AnalyticsOut,
    AnalyticsTotals,
    EmojiCount,
    TagCount,
)
from parley.conversations import access
from parley.conversations.models import (
    Conversation,
    ConversationDailyHashtag,
    ConversationDailyReaction,
    ConversationDailySender,
    ConversationDailyStats,
    Participant,
)
from parley.conversations.permissions import VISIBLE_STATUSES, Action, require_role
from parley.messages.models import Message

TOP = 10
# First responses are measured over the period's most recent messages at most: a bounded
# read of (conversation_id, seq), whatever the period's size.
FIRST_RESPONSE_WINDOW = 1_000


async def conversation_analytics(
    session: AsyncSession,
    *,
    caller_id: uuid.UUID,
    conversation_id: uuid.UUID,
    start: date | None,
    end: date | None,
) -> AnalyticsOut:
    """Figures of a period for VIEW_ANALYTICS (owner and admins); 404 for non-members."""
    membership = await access.get_membership(
        session, conversation_id=conversation_id, user_id=caller_id
    )
    require_role(
        membership.role, Action.VIEW_ANALYTICS, "Only the owner and admins may read analytics"
    )
    start, end = figures.period(start, end, today=datetime.now(UTC).date())
    return await compute(session, conversation_id=conversation_id, start=start, end=end)


async def compute_if_exists(
    session: AsyncSession, *, conversation_id: uuid.UUID, start: date, end: date
) -> AnalyticsOut | None:
    """The figures for an operator (the CLI): no access check; None for no conversation."""
    if await session.get(Conversation, conversation_id) is None:
        return None
    return await compute(session, conversation_id=conversation_id, start=start, end=end)


async def compute(
    session: AsyncSession, *, conversation_id: uuid.UUID, start: date, end: date
) -> AnalyticsOut:
    """The figures, without the access check (the CLI and the benchmark call this)."""
    stats = (
        await session.execute(
            select(
                ConversationDailyStats.day,
                ConversationDailyStats.messages,
                ConversationDailyStats.first_seq,
                ConversationDailyStats.last_seq,
            )
            .where(
                ConversationDailyStats.conversation_id == conversation_id,
                ConversationDailyStats.day.between(start, end),
            )
            .order_by(ConversationDailyStats.day)
        )
    ).all()
    in_period = (
        ConversationDailySender.conversation_id == conversation_id,
        ConversationDailySender.day.between(start, end),
    )
    active_by_day: dict[date, int] = {
        day: count
        for day, count in (
            await session.execute(
                select(ConversationDailySender.day, func.count())
                .where(*in_period)
                .group_by(ConversationDailySender.day)
            )
        ).all()
    }
    active_total = await session.scalar(
        select(func.count(func.distinct(ConversationDailySender.user_id))).where(*in_period)
    )
    days = [
        AnalyticsDay(date=day, messages=count, active_members=active_by_day.get(day, 0))
        for day, count, _, _ in stats
    ]
    first_seq = min((row.first_seq for row in stats), default=0)
    last_seq = max((row.last_seq for row in stats), default=-1)
    return AnalyticsOut(
        conversation_id=conversation_id,
        start=start,
        end=end,
        days=days,
        totals=AnalyticsTotals(
            messages=sum(day.messages for day in days), active_members=active_total or 0
        ),
        median_first_response_seconds=await _first_response(
            session, conversation_id=conversation_id, first_seq=first_seq, last_seq=last_seq
        ),
        top_reactions=await _top_reactions(
            session, conversation_id=conversation_id, start=start, end=end
        ),
        top_hashtags=await _top_hashtags(
            session, conversation_id=conversation_id, start=start, end=end
        ),
        read_rate=await _read_rate(
            session, conversation_id=conversation_id, first_seq=first_seq, last_seq=last_seq
        ),
    )


async def _first_response(
    session: AsyncSession, *, conversation_id: uuid.UUID, first_seq: int, last_seq: int
) -> float | None:
    if last_seq < first_seq:
        return None
    rows = (
        await session.execute(
            select(Message.sender_id, Message.server_timestamp)
            .where(
                Message.conversation_id == conversation_id,
                Message.seq.between(max(first_seq, last_seq - FIRST_RESPONSE_WINDOW + 1), last_seq),
                Message.sender_id.is_not(None),
            )
            .order_by(Message.seq)
        )
    ).all()
    return figures.median_first_response([(sender, at) for sender, at in rows if sender])


async def _top_reactions(
    session: AsyncSession, *, conversation_id: uuid.UUID, start: date, end: date
) -> list[EmojiCount]:
    """Reactions standing on the period's messages (whenever they were added), from the
    per-day counters the reaction actions move: at most days x emoji rows."""
    count = func.sum(ConversationDailyReaction.count).label("count")
    rows = (
        await session.execute(
            select(ConversationDailyReaction.emoji, count)
            .where(
                ConversationDailyReaction.conversation_id == conversation_id,
                ConversationDailyReaction.day.between(start, end),
            )
            .group_by(ConversationDailyReaction.emoji)
            .having(count > 0)
            .order_by(count.desc(), ConversationDailyReaction.emoji)
            .limit(TOP)
        )
    ).all()
    return [EmojiCount(emoji=emoji, count=int(n)) for emoji, n in rows]


async def _top_hashtags(
    session: AsyncSession, *, conversation_id: uuid.UUID, start: date, end: date
) -> list[TagCount]:
    """Hashtags of the period's messages, from the per-day counters the committer and the edit
    move: at most days x tags rows, whatever the period's number of hashtag rows."""
    count = func.sum(ConversationDailyHashtag.count).label("count")
    rows = (
        await session.execute(
            select(ConversationDailyHashtag.tag, count)
            .where(
                ConversationDailyHashtag.conversation_id == conversation_id,
                ConversationDailyHashtag.day.between(start, end),
            )
            .group_by(ConversationDailyHashtag.tag)
            .having(count > 0)
            .order_by(count.desc(), ConversationDailyHashtag.tag)
            .limit(TOP)
        )
    ).all()
    return [TagCount(tag=tag, count=int(n)) for tag, n in rows]


async def _read_rate(
    session: AsyncSession, *, conversation_id: uuid.UUID, first_seq: int, last_seq: int
) -> float | None:
    """Over today's members (ACTIVE or MUTED), from their read-up-to watermarks."""
    if last_seq < first_seq:
        return None
    read_seqs = (
        await session.scalars(
            select(Participant.read_seq).where(
                Participant.conversation_id == conversation_id,
                Participant.status.in_([str(status) for status in VISIBLE_STATUSES]),
            )
        )
    ).all()
    return figures.read_rate(list(read_seqs), first_seq=first_seq, last_seq=last_seq)
