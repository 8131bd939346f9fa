"""The counters and watermarks that other domains move, inside their own transactions.

The message committer reserves `seq`s and moves the counters and the senders' read pointers in
its batch transaction (`advance_counters`, `move_read_pointers`); read and delivery receipts
(`parley/inbox/`) move a member's watermarks. Each only moves forward.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.models import Conversation, Participant


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
