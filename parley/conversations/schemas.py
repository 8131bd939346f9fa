"""Conversation and participant requests and responses."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from parley.accounts.schemas import UserOut
from parley.conversations.permissions import (
    PERMISSION_FLAGS,
    ConversationStatus,
    ConversationType,
    ParticipantStatus,
    Role,
)
from parley.core.config import MAX_RETENTION_DAYS
from parley.core.schemas import ApiModel, ClientTimestamp, InputModel, Timestamp


class DeliveryStatus(StrEnum):
    """Where one message stands for one recipient, derived from their watermarks."""

    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"


class ConversationSettings(InputModel):
    """Per-conversation switches; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    typing_indicators: bool = True
    read_receipts: bool = True
    link_previews: bool = True
    moderation: bool = Field(
        default=True, description="Score messages and queue flagged ones for review"
    )
    end_to_end_encryption: bool = Field(
        default=False,
        description="Messages are client-encrypted envelopes (encrypted: true) and only those; "
        "not scored, members report instead",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RETENTION_DAYS,
        strict=True,
        description="Messages older than this many days are deleted (null: keep them, unless "
        "RETENTION_DAYS is set; the shorter of the two wins)",
    )


class ConversationSettingsPatch(InputModel):
    """Only the keys present change; `retentionDays: null` removes the conversation's own
    retention (RETENTION_DAYS, if set, still applies)."""

    typing_indicators: bool | None = None
    read_receipts: bool | None = None
    link_previews: bool | None = None
    moderation: bool | None = None
    end_to_end_encryption: bool | None = None
    retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS, strict=True)


class ConversationCreate(InputModel):
    type: ConversationType
    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=2000)
    participant_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    settings: ConversationSettings | None = None
    rate_limit: int | None = Field(
        default=None, ge=1, le=10000, description="Messages per minute per member"
    )


class ConversationUpdate(InputModel):
    """PATCH: only the fields present change; `rateLimit: null` restores the default."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=2000)
    settings: ConversationSettingsPatch | None = None
    # Optional, but never null (documented without `null`; refused by the action).
    status: (
        Literal[ConversationStatus.ACTIVE, ConversationStatus.ARCHIVED, ConversationStatus.MUTED]
        | SkipJsonSchema[None]
    ) = None
    rate_limit: int | None = Field(default=None, ge=1, le=10000)


class LastMessageOut(ApiModel):
    """The newest message of a conversation, as shown in a conversation list."""

    id: uuid.UUID
    seq: int
    sender_id: uuid.UUID | None
    type: str
    content: str | None
    status: str
    server_timestamp: Timestamp


class ConversationOut(ApiModel):
    id: uuid.UUID
    type: ConversationType
    name: str | None
    description: str | None
    status: ConversationStatus
    message_count: int
    last_seq: int
    last_message_id: uuid.UUID | None
    last_activity_at: Timestamp
    settings: dict[str, bool | int | None]
    rate_limit: int = Field(description="Messages per minute per member (effective value)")
    created_by: uuid.UUID | None
    created_at: Timestamp
    # Per caller:
    my_role: Role | None = None
    unread_count: int = 0
    last_message: LastMessageOut | None = None


class ParticipantsAdd(InputModel):
    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    role: Literal["ADMIN", "MODERATOR", "MEMBER"] = "MEMBER"


class NotificationLevel(StrEnum):
    """Which messages of a conversation notify the member."""

    ALL = "ALL"
    MENTIONS = "MENTIONS"
    NONE = "NONE"


MAX_NOTIFICATION_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 32

Keyword = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_KEYWORD_LENGTH)
]


class NotificationSettingsPatch(InputModel):
    """A member's own notification settings: the fields sent replace the stored ones
    (`mutedUntil: null` unmutes); unknown keys are refused."""

    level: NotificationLevel | None = None
    muted_until: ClientTimestamp | None = Field(
        default=None, description="Silent until then; null: not muted"
    )
    keywords: list[Keyword] | None = Field(
        default=None,
        max_length=MAX_NOTIFICATION_KEYWORDS,
        description=f"Words that always notify: at most {MAX_NOTIFICATION_KEYWORDS}, "
        f"1-{MAX_KEYWORD_LENGTH} characters each",
    )


class NotificationSettings(ApiModel):
    """The stored shape (camelCase JSON) and what the member reads back."""

    level: NotificationLevel = NotificationLevel.ALL
    muted_until: Timestamp | None = None
    keywords: list[str] = Field(default_factory=list)


class ParticipantUpdate(InputModel):
    role: Role | None = None
    status: ParticipantStatus | None = None
    permissions: dict[str, bool | None] | None = Field(
        default=None,
        max_length=len(PERMISSION_FLAGS),
        description="Per-member overrides; null restores the role's default",
    )
    notification_settings: NotificationSettingsPatch | None = None


class ParticipantOut(ApiModel):
    """A member as the viewer may see them: their own record in full; others' role, status,
    join time and user, their read position where `readReceipts` is on, and their flags to
    those who may act on them. Hidden fields are null."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    status: ParticipantStatus
    permissions: dict[str, bool] | None = Field(
        description="Effective flags: for the member and those who may act on them"
    )
    last_read_at: Timestamp | None
    last_read_message_id: uuid.UUID | None
    read_seq: int | None = Field(description="Others': only where readReceipts is on")
    delivered_seq: int | None = Field(description="Others': only where readReceipts is on")
    unread_count: int | None = Field(description="The member's own only")
    notification_settings: NotificationSettings | None = Field(description="The member's own only")
    joined_at: Timestamp
    user: UserOut | None = None


class ParticipantEvent(ApiModel):
    conversation_id: uuid.UUID
    participant: ParticipantOut


class ConversationEvent(ApiModel):
    conversation: ConversationOut
