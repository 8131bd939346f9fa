"""Read and delivery receipts: a member's watermarks move forward and the sender is told.

Both are one write per conversation whatever the number of messages (watermarks, not rows
per message); the per-message `deliveryTracker` is derived from them when it is read.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import counters
from parley.conversations.access import load_visible
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import visible_statuses
from parley.conversations.render import participant_out
from parley.conversations.schemas import DeliveryStatus, ParticipantOut
from parley.core.db import utcnow
from parley.core.errors import MessageNotFound
from parley.core.events import conversation_room, emit_after_commit, user_room
from parley.inbox.events import MESSAGE_DELIVERY_STATUS, MESSAGE_READ_RECEIPT
from parley.inbox.schemas import DeliveryStatusEvent, ReadReceiptEvent
from parley.messages import queries as messages
from parley.messages.models import Message


async def mark_read(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
) -> ParticipantOut:
    """Move the caller's read pointer up to a message (never backwards): one write."""
    conversation, participant = await load_visible(
        session, conversation_id=conversation_id, user_id=user_id
    )
    position = await messages.position_of(
        session, conversation_id=conversation_id, message_id=message_id
    )
    if position is None:
        raise MessageNotFound(messageId=str(message_id))
    now = utcnow()
    moved = await counters.mark_read_up_to(
        session, participant, seq=position.seq, message_id=message_id, at=now
    )
    if moved and (conversation.settings or {}).get("readReceipts", True):
        emit_after_commit(
            session,
            MESSAGE_READ_RECEIPT,
            ReadReceiptEvent(
                conversation_id=conversation_id, user_id=user_id, message_id=message_id, read_at=now
            ),
            rooms=[conversation_room(conversation_id)],
        )
        _tell_sender(
            session,
            message_id,
            position.sender_id,
            reader_id=user_id,
            status=DeliveryStatus.READ,
            at=now,
        )
    return participant_out(participant, conversation, viewer=participant)


async def mark_delivered(
    session: AsyncSession, *, user_id: uuid.UUID, message_ids: list[uuid.UUID]
) -> int:
    """The caller's client has these messages: move their delivered-up-to watermark in each
    conversation (one write per conversation, never backwards) and tell each sender.

    Messages of conversations the caller does not belong to are ignored. Returns how many of
    the messages were newly delivered.
    """
    rows = (
        await session.execute(
            select(
                Message.id,
                Message.conversation_id,
                Message.seq,
                Message.sender_id,
                Participant.delivered_seq,
                Conversation.settings,
            )
            .join(
                Participant,
                and_(
                    Participant.conversation_id == Message.conversation_id,
                    Participant.user_id == user_id,
                    Participant.status.in_(visible_statuses()),
                ),
            )
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.id.in_(list(dict.fromkeys(message_ids))))
        )
    ).all()
    newest: dict[uuid.UUID, int] = {}
    now = utcnow()
    delivered = 0
    for message_id, conversation_id, seq, sender_id, delivered_seq, settings in rows:
        if seq <= delivered_seq:
            continue
        delivered += 1
        newest[conversation_id] = max(seq, newest.get(conversation_id, 0))
        if (settings or {}).get("readReceipts", True):
            _tell_sender(
                session,
                message_id,
                sender_id,
                reader_id=user_id,
                status=DeliveryStatus.DELIVERED,
                at=now,
            )
    for conversation_id, seq in newest.items():
        await counters.mark_delivered_up_to(
            session, conversation_id=conversation_id, user_id=user_id, seq=seq
        )
    return delivered


def _tell_sender(
    session: AsyncSession,
    message_id: uuid.UUID,
    sender_id: uuid.UUID | None,
    *,
    reader_id: uuid.UUID,
    status: DeliveryStatus,
    at: datetime,
) -> None:
    """`message_delivery_status` to the sender's sockets (not for one's own messages)."""
    if sender_id is not None and sender_id != reader_id:
        emit_after_commit(
            session,
            MESSAGE_DELIVERY_STATUS,
            DeliveryStatusEvent(message_id=message_id, user_id=reader_id, status=status, at=at),
            rooms=[user_room(sender_id)],
        )
