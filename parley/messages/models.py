"""Message tables (written by messages/actions/ and messages/committer.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Uuid, inspect
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.db import Base, JSONType, UTCDateTime, new_id, utcnow
from parley.core.encrypted import EncryptedText
from parley.messages.schemas import MessageStatus


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    sender_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16), default="TEXT")
    content: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.SENT)
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    thread_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    forwarded_from_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    attachments: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    client_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    client_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    server_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    def column_values(self) -> dict[str, Any]:
        """Column name -> value (`metadata`, not the attribute name `extra`)."""
        return {
            attribute.columns[0].name: getattr(self, attribute.key)
            for attribute in inspect(type(self)).column_attrs
        }

    __table_args__ = (
        Index("ux_messages_conversation_seq", "conversation_id", "seq", unique=True),
        Index("ux_messages_sender_client_id", "sender_id", "client_message_id", unique=True),
        Index("ix_messages_thread_seq", "thread_id", "seq"),
    )


class MessageVersion(Base):
    """An earlier text of an edited message; the current text stays on `messages`."""

    __tablename__ = "message_versions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ux_message_versions_message_version", "message_id", "version", unique=True),
    )


class Reaction(Base):
    __tablename__ = "reactions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    emoji: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ux_reactions_message_user_emoji", "message_id", "user_id", "emoji", unique=True),
    )


class Mention(Base):
    __tablename__ = "mentions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE")
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_mentions_user_created", "user_id", "created_at"),
        Index("ix_mentions_message", "message_id"),
    )


class Hashtag(Base):
    __tablename__ = "hashtags"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="CASCADE")
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    tag: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_hashtags_tag_created", "tag", "created_at"),
        Index("ix_hashtags_message", "message_id"),
        # Top hashtags of a conversation over a period (analytics, migration 0011).
        Index("ix_hashtags_conversation_created", "conversation_id", "created_at", "tag"),
        # Autocomplete over the conversations a user reads (migration 0006).
        Index(
            "ix_hashtags_conversation_tag",
            "conversation_id",
            "tag",
            postgresql_ops={"tag": "text_pattern_ops"},
        ),
    )


class ScheduledMessage(Base):
    """A send held until `scheduled_at`; the dispatcher (messages/scheduled/dispatcher.py)
    claims it then and passes it through the ordinary send action."""

    __tablename__ = "scheduled_messages"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    sender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    content: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    thread_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    attachments: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    client_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="SCHEDULED")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # The dispatcher's poll: due rows by status and time.
        Index("ix_scheduled_messages_status_at", "status", "scheduled_at"),
        # The owner's list, soonest first.
        Index("ix_scheduled_messages_sender_at", "sender_id", "scheduled_at"),
        # A retried schedule request with the same clientMessageId finds its row.
        Index(
            "ux_scheduled_messages_sender_client_id", "sender_id", "client_message_id", unique=True
        ),
    )
