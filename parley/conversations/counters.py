"""The counters and watermarks that other domains move, inside their own transactions.

The message committer reserves `seq`s and moves the counters, the senders' read pointers and the
per-day counters in its batch transaction (`advance_counters`, `move_read_pointers`,
`count_daily`, `count_hashtags`); an edit moves the hashtag counters too (`count_hashtags`,
`take_back_hashtags`); read and delivery receipts (`parley/inbox/`) move a member's watermarks.
Each only moves forward.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parley.conversations.models import (
    Conversation,
    ConversationDailyHashtag,
    ConversationDailyReaction,
    ConversationDailySender,
    ConversationDailyStats,
    Participant,
)


@dataclass(frozen=True)
class DailySend:
    """One committed message, as the per-day counters see it."""

    conversation_id: uuid.UUID
    day: date
    seq: int
    sender_id: uuid.UUID | None


@dataclass(frozen=True)
class ReadPointer:
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    message_id: uuid.UUID
    at: datetime


_CONVERSATIONS = Conversation.__table__
# Built once (Core, bound parameters): the committer runs it for every batch, and the ORM's
# bulk-update path cost about half of the batch's statement CPU at light load (py-spy, W1).
_ADVANCE_COUNTERS = (
    update(_CONVERSATIONS)  # type: ignore[arg-type]
    .where(_CONVERSATIONS.c.id == bindparam("p_conversation_id"))
    .values(
        last_seq=_CONVERSATIONS.c.last_seq + bindparam("p_count"),
        message_count=_CONVERSATIONS.c.message_count + bindparam("p_count"),
        last_message_id=bindparam("p_last_message_id"),
        last_activity_at=bindparam("p_at"),
    )
    .returning(_CONVERSATIONS.c.last_seq)
)


async def advance_counters(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    count: int,
    last_message_id: uuid.UUID,
    at: datetime,
) -> int | None:
    """Reserve `count` seqs (row lock orders committers); returns the new last seq, or None
    when the conversation no longer exists."""
    connection = await session.connection()
    result = await connection.execute(
        _ADVANCE_COUNTERS,
        {
            "p_conversation_id": conversation_id,
            "p_count": count,
            "p_last_message_id": last_message_id,
            "p_at": at,
        },
    )
    last_seq: int | None = result.scalar_one_or_none()
    return last_seq


_MOVE_READ_POINTER = (
    update(Participant.__table__)  # type: ignore[arg-type]
    .where(
        Participant.__table__.c.conversation_id == bindparam("p_conversation_id"),
        Participant.__table__.c.user_id == bindparam("p_user_id"),
        Participant.__table__.c.read_seq < bindparam("p_seq"),
    )
    .values(
        read_seq=bindparam("p_seq"),
        last_read_message_id=bindparam("p_message_id"),
        last_read_at=bindparam("p_at"),
    )
)


async def move_read_pointers(session: AsyncSession, *, pointers: list[ReadPointer]) -> None:
    """Senders have read what they sent: one executemany for the whole batch."""
    if not pointers:
        return
    connection = await session.connection()
    await connection.execute(
        _MOVE_READ_POINTER,
        [
            {
                "p_conversation_id": pointer.conversation_id,
                "p_user_id": pointer.user_id,
                "p_seq": pointer.seq,
                "p_message_id": pointer.message_id,
                "p_at": pointer.at,
            }
            for pointer in pointers
        ],
    )


async def mark_read_up_to(
    session: AsyncSession,
    participant: Participant,
    *,
    seq: int,
    message_id: uuid.UUID,
    at: datetime,
) -> bool:
    """Move one member's read pointer (and delivered, which reading implies) up to `seq`;
    False when it was already there or beyond."""
    if seq <= participant.read_seq:
        return False
    participant.read_seq = seq
    participant.delivered_seq = max(participant.delivered_seq, seq)
    participant.last_read_message_id = message_id
    participant.last_read_at = at
    participant.updated_at = at
    await session.flush()
    return True


async def mark_delivered_up_to(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID, seq: int
) -> None:
    """Move one member's delivered-up-to watermark forward (never back)."""
    await session.execute(
        update(Participant)
        .where(
            Participant.conversation_id == conversation_id,
            Participant.user_id == user_id,
            Participant.delivered_seq < seq,
        )
        .values(delivered_seq=seq)
        .execution_options(synchronize_session=False)
    )


_STATS = ConversationDailyStats.__table__
_SENDERS = ConversationDailySender.__table__


def _daily_statements(dialect: str) -> tuple[Any, Any]:
    """The batch's upsert of the day counts and insert-or-ignore of the day's senders, in the
    engine's dialect (both speak `ON CONFLICT`)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stats = insert(_STATS)  # type: ignore[arg-type]
    upsert = stats.on_conflict_do_update(
        index_elements=[_STATS.c.conversation_id, _STATS.c.day],
        set_={
            "messages": _STATS.c.messages + stats.excluded.messages,
            # A message accepted just before midnight may commit after the next day's first.
            "first_seq": case(
                (stats.excluded.first_seq < _STATS.c.first_seq, stats.excluded.first_seq),
                else_=_STATS.c.first_seq,
            ),
            "last_seq": case(
                (stats.excluded.last_seq > _STATS.c.last_seq, stats.excluded.last_seq),
                else_=_STATS.c.last_seq,
            ),
        },
    )
    senders = insert(_SENDERS).on_conflict_do_nothing(  # type: ignore[arg-type]
        index_elements=[_SENDERS.c.conversation_id, _SENDERS.c.day, _SENDERS.c.user_id]
    )
    return upsert, senders


# Built once per dialect: every batch runs them.
_DAILY: dict[str, tuple[Any, Any]] = {}


def aggregate_daily(
    sends: list[DailySend],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch folded per (conversation, day): count and seq bounds, and distinct senders."""
    stats: dict[tuple[uuid.UUID, date], dict[str, Any]] = {}
    senders: dict[tuple[uuid.UUID, date, uuid.UUID], dict[str, Any]] = {}
    for send in sends:
        key = (send.conversation_id, send.day)
        row = stats.get(key)
        if row is None:
            stats[key] = {
                "conversation_id": send.conversation_id,
                "day": send.day,
                "messages": 1,
                "first_seq": send.seq,
                "last_seq": send.seq,
            }
        else:
            row["messages"] += 1
            row["first_seq"] = min(row["first_seq"], send.seq)
            row["last_seq"] = max(row["last_seq"], send.seq)
        if send.sender_id is not None:
            senders[(send.conversation_id, send.day, send.sender_id)] = {
                "conversation_id": send.conversation_id,
                "day": send.day,
                "user_id": send.sender_id,
            }
    # Sorted: concurrent committers take the rows' locks in one order.
    return (
        [stats[key] for key in sorted(stats, key=lambda k: (str(k[0]), k[1]))],
        [senders[key] for key in sorted(senders, key=lambda k: (str(k[0]), k[1], str(k[2])))],
    )


async def count_daily(connection: AsyncConnection, *, sends: list[DailySend]) -> None:
    """Move the per-day counters for a batch: two statements, whatever its size."""
    if not sends:
        return
    dialect = connection.dialect.name
    statements = _DAILY.get(dialect)
    if statements is None:
        statements = _DAILY[dialect] = _daily_statements(dialect)
    upsert, senders = statements
    stats_rows, sender_rows = aggregate_daily(sends)
    await connection.execute(upsert, stats_rows)
    if sender_rows:
        await connection.execute(senders, sender_rows)


async def forget_expired(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    removed_ids: list[uuid.UUID],
    highest_removed_seq: int,
    newest_left_id: uuid.UUID | None,
) -> None:
    """Retention deleted these messages (in the caller's transaction, after the rows went):
    `messageCount` drops by as many, `lastMessageId` moves to the newest message left (null
    when none is) if it was one of them, and members who had not read up to the highest
    removed seq are moved past it, so `unreadCount` counts only messages that still exist.
    `last_seq` never moves back: new messages continue the sequence."""
    removed = len(removed_ids)
    # A committer that commits a newer message first sets last_message_id to it: the CASE
    # then keeps it (PostgreSQL re-reads the locked row before applying the update).
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(
            message_count=case(
                (Conversation.message_count > removed, Conversation.message_count - removed),
                else_=0,
            ),
            last_message_id=case(
                (Conversation.last_message_id.in_(removed_ids), newest_left_id),
                else_=Conversation.last_message_id,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Participant)
        .where(
            Participant.conversation_id == conversation_id,
            Participant.read_seq < highest_removed_seq,
        )
        .values(
            read_seq=highest_removed_seq,
            delivered_seq=case(
                (Participant.delivered_seq < highest_removed_seq, highest_removed_seq),
                else_=Participant.delivered_seq,
            ),
        )
        .execution_options(synchronize_session=False)
    )


_REACTIONS = ConversationDailyReaction.__table__


async def count_reaction(
    session: AsyncSession, *, conversation_id: uuid.UUID, day: date, emoji: str, delta: int
) -> None:
    """Move the reactions of `emoji` on the messages of `day` by `delta` (+1 added, -1 taken
    back), in the caller's transaction: one upsert (`ON CONFLICT`, both engines); a take-back
    never goes below zero."""
    if delta > 0:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(_REACTIONS)  # type: ignore[arg-type]
        await session.execute(
            statement.values(
                conversation_id=conversation_id, day=day, emoji=emoji, count=delta
            ).on_conflict_do_update(
                index_elements=[_REACTIONS.c.conversation_id, _REACTIONS.c.day, _REACTIONS.c.emoji],
                set_={"count": _REACTIONS.c.count + statement.excluded.count},
            )
        )
        return
    await session.execute(
        update(ConversationDailyReaction)
        .where(
            ConversationDailyReaction.conversation_id == conversation_id,
            ConversationDailyReaction.day == day,
            ConversationDailyReaction.emoji == emoji,
            ConversationDailyReaction.count >= -delta,
        )
        .values(count=ConversationDailyReaction.count + delta)
        .execution_options(synchronize_session=False)
    )


_HASHTAGS = ConversationDailyHashtag.__table__


@dataclass(frozen=True)
class DailyTag:
    """One hashtag row, as the per-day hashtag counters see it: the day is the message's."""

    conversation_id: uuid.UUID
    day: date
    tag: str


def _hashtags_upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_HASHTAGS)  # type: ignore[arg-type]
    return statement.on_conflict_do_update(
        index_elements=[_HASHTAGS.c.conversation_id, _HASHTAGS.c.day, _HASHTAGS.c.tag],
        set_={"count": _HASHTAGS.c.count + statement.excluded.count},
    )


# Built once per dialect: every batch that carries hashtags runs it.
_HASHTAGS_UPSERT: dict[str, Any] = {}

_TAKE_BACK_HASHTAG = (
    update(_HASHTAGS)  # type: ignore[arg-type]
    .where(
        _HASHTAGS.c.conversation_id == bindparam("p_conversation_id"),
        _HASHTAGS.c.day == bindparam("p_day"),
        _HASHTAGS.c.tag == bindparam("p_tag"),
        _HASHTAGS.c.count >= 1,
    )
    .values(count=_HASHTAGS.c.count - 1)
)


async def count_hashtags(connection: AsyncConnection, *, tags: list[DailyTag]) -> None:
    """+1 per hashtag row written (a batch's, or the tags an edit adds): one executemany
    upsert (`ON CONFLICT`, both engines), none when there are no tags."""
    if not tags:
        return
    folded: dict[tuple[uuid.UUID, date, str], int] = {}
    for tag in tags:
        key = (tag.conversation_id, tag.day, tag.tag)
        folded[key] = folded.get(key, 0) + 1
    dialect = connection.dialect.name
    statement = _HASHTAGS_UPSERT.get(dialect)
    if statement is None:
        statement = _HASHTAGS_UPSERT[dialect] = _hashtags_upsert(dialect)
    await connection.execute(
        statement,
        [
            {"conversation_id": cid, "day": day, "tag": name, "count": count}
            # Sorted: concurrent committers take the rows' locks in one order.
            for (cid, day, name), count in sorted(
                folded.items(), key=lambda item: (str(item[0][0]), item[0][1], item[0][2])
            )
        ],
    )


async def take_back_hashtags(connection: AsyncConnection, *, tags: list[DailyTag]) -> None:
    """-1 per hashtag row removed (the tags an edit drops): one executemany, never below 0."""
    if not tags:
        return
    await connection.execute(
        _TAKE_BACK_HASHTAG,
        [
            {"p_conversation_id": tag.conversation_id, "p_day": tag.day, "p_tag": tag.tag}
            for tag in sorted(tags, key=lambda t: (str(t.conversation_id), t.day, t.tag))
        ],
    )
