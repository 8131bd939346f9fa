"""`conversations`, `conversation_participants` and the per-day counters (written by
conversations/actions/ and conversations/counters.py).

`last_seq`, `message_count`, `last_message_id` and `last_activity_at` are moved only by the
message committer, in the same transaction as the messages they count.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from parley.conversations.permissions import ConversationStatus, ParticipantStatus, Role
from parley.core.db import Base, JSONType, UTCDateTime, new_id, utcnow


def default_notification_settings() -> dict[str, Any]:
    """The stored shape of `NotificationSettings` (schemas.py) with its defaults."""
    return {"level": "ALL", "mutedUntil": None, "keywords": []}


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=ConversationStatus.ACTIVE)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    # "lowId:highId" for DIRECT conversations: a unique index makes the pair unique.
    direct_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    message_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ux_conversations_direct_key", "direct_key", unique=True),)


class Participant(Base):
    __tablename__ = "conversation_participants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    status: Mapped[str] = mapped_column(String(16), default=ParticipantStatus.ACTIVE)
    # Only the flags set explicitly for this member; the rest follow the role's defaults.
    permissions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    notification_settings: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=default_notification_settings
    )
    # Watermarks: unreadCount = conversation.last_seq - read_seq.
    read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_read_message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ux_participants_conversation_user", "conversation_id", "user_id", unique=True),
        Index("ix_participants_user_status", "user_id", "status"),
        Index("ix_participants_conversation_joined", "conversation_id", "joined_at", "id"),
    )


class ConversationDailyStats(Base):
    """Messages sent per conversation and UTC day, moved by the committer in each batch.

    `first_seq`/`last_seq` bound the day's messages, so a period's messages are one seq range
    (read rate, first responses) without a timestamp index on `messages`. Deleted messages
    still count: the counters record what was sent.
    """

    __tablename__ = "conversation_daily_stats"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class ConversationDailySender(Base):
    """Who sent at least one message in a conversation on a UTC day (active members)."""

    __tablename__ = "conversation_daily_senders"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


class ConversationDailyReaction(Base):
    """Reactions standing per conversation, UTC day of the reacted message, and emoji: moved
    by the reaction actions in their transaction (+1 on add, -1 on take back), so top
    reactions of a period read a few hundred counter rows instead of joining messages.

    An aggregate like the other day counters: retention and erasure that remove reaction rows
    later do not move it back.
    """

    __tablename__ = "conversation_daily_reactions"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    emoji: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ConversationDailyHashtag(Base):
    """Hashtag rows per conversation, UTC day of the tagged message, and tag: moved by the
    committer in its batch transaction (+1 per tag sent) and by an edit (-1 for a tag the new
    text drops, +1 for one it adds), so top hashtags of a period read at most days x tags
    counter rows instead of every hashtag row of the period.

    An aggregate like the other day counters: retention and erasure that remove hashtag rows
    later do not move it back.
    """

    __tablename__ = "conversation_daily_hashtags"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
