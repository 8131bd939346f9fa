"""The review queue's table (owned by screening/queue.py: screening adds items, moderation
decides them through it)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.db import Base, JSONType, UTCDateTime, new_id, utcnow
from parley.core.encrypted import EncryptedText
from parley.screening.schemas import ItemStatus


class ModerationItem(Base):
    """One flagged text of one message: a send, an edit that was flagged again, or a member's
    report (`reporter_id` set; one per reporter per message)."""

    __tablename__ = "moderation_items"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE")
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    sender_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    message_version: Mapped[int] = mapped_column(Integer, default=1)
    content: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    terms: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    report_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_moderation_items_conversation_status", "conversation_id", "status", "created_at"),
        Index("ix_moderation_items_message", "message_id"),
        Index("ux_moderation_items_message_reporter", "message_id", "reporter_id", unique=True),
    )
