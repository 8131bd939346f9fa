"""`attachments`: uploaded files; `attachment_links`: which messages carry each one.

An upload belongs to its uploader until a message carries it. The committer stamps the
attachment with its first message (`message_id`, `conversation_id`: sent once) and writes a
link row for that message and for every forwarded copy, in the batch's transaction, so the
download check is one indexed read: the uploader, or a current member of a conversation where
a non-deleted message carries it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.db import Base, UTCDateTime, new_id, utcnow


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    uploader_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
    )
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Until then the orphan sweep leaves an unsent upload alone: a scheduled message is
    # waiting to carry it (actions/keep.py).
    kept_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_attachments_message", "message_id"),
        Index("ix_attachments_uploader_created", "uploader_id", "created_at"),
        # The orphan sweep: unsent uploads older than ORPHAN_UPLOAD_HOURS.
        Index("ix_attachments_created", "created_at"),
    )


class AttachmentLink(Base):
    """A committed message that carries an attachment (the original send or a forward)."""

    __tablename__ = "attachment_links"

    attachment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid)

    __table_args__ = (
        # The download check: this attachment in the caller's conversations.
        Index("ix_attachment_links_attachment_conversation", "attachment_id", "conversation_id"),
        # A message deleted (soft: its links go; hard: the cascade) finds its rows.
        Index("ix_attachment_links_message", "message_id"),
    )
