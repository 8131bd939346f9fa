"""The `users` table (owned by accounts/service.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from parley.accounts.schemas import UserStatus
from parley.core.db import Base, UTCDateTime, new_id, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(32))
    # Lower-cased copies: uniqueness is case-insensitive and prefix search uses them.
    username_lower: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(64))
    display_name_lower: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=UserStatus.OFFLINE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Every token carries the generation it was issued under (`gen`); raising this (password
    # change, logout everywhere) revokes all older tokens at once, without listing them.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ux_users_username_lower", "username_lower", unique=True),
        Index(
            "ix_users_username_prefix",
            "username_lower",
            postgresql_ops={"username_lower": "text_pattern_ops"},
        ),
        Index(
            "ix_users_display_name_prefix",
            "display_name_lower",
            postgresql_ops={"display_name_lower": "text_pattern_ops"},
        ),
    )


class RevokedToken(Base):
    """A revoked token's id (`jti`) until the token expires: the deny-list's durable copy,
    which the token check asks when the store does not answer or lost its data, and which is
    copied back into such a store (accounts/deny_list.py). No user id: it identifies no one."""

    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_revoked_tokens_expires", "expires_at"),)
