"""Conversations and participants as clients see them."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from parley.accounts.schemas import UserOut
from parley.conversations.access import DEFAULT_SETTINGS
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import (
    ConversationStatus,
    ConversationType,
    ParticipantStatus,
    Role,
    effective_permissions,
    sees_member_flags,
)
from parley.conversations.schemas import (
    ConversationOut,
    LastMessageOut,
    NotificationSettings,
    ParticipantOut,
)
from parley.core import runtime


def effective_rate_limit(conversation: Conversation) -> int:
    return conversation.rate_limit or runtime.current().settings.rate_limit_messages


def conversation_out(
    conversation: Conversation,
    participant: Participant | None = None,
    last_message: LastMessageOut | None = None,
) -> ConversationOut:
    """`participant` is the viewer's row (their role and unread count); `last_message` the
    preview as that viewer may see it (the inbox renders it)."""
    return ConversationOut(
        id=conversation.id,
        type=ConversationType(conversation.type),
        name=conversation.name,
        description=conversation.description,
        status=ConversationStatus(conversation.status),
        message_count=conversation.message_count,
        last_seq=conversation.last_seq,
        last_message_id=conversation.last_message_id,
        last_activity_at=conversation.last_activity_at,
        settings={**DEFAULT_SETTINGS, **(conversation.settings or {})},
        rate_limit=effective_rate_limit(conversation),
        created_by=conversation.created_by,
        created_at=conversation.created_at,
        my_role=Role(participant.role) if participant else None,
        unread_count=max(0, conversation.last_seq - participant.read_seq) if participant else 0,
        last_message=last_message,
    )


def read_receipts_on(conversation: Conversation) -> bool:
    return bool({**DEFAULT_SETTINGS, **(conversation.settings or {})}["readReceipts"])


def stored_notification_settings(stored: dict[str, Any] | None) -> NotificationSettings:
    """The stored settings (written validated, older rows mapped by migration 0003), read
    defensively: anything outside the schema reads as the defaults."""
    known = {key: value for key, value in (stored or {}).items() if key in _SETTING_KEYS}
    try:
        return NotificationSettings.model_validate(known)
    except ValidationError:
        return NotificationSettings()


_SETTING_KEYS = frozenset({"level", "mutedUntil", "keywords"})


def participant_out(
    participant: Participant,
    conversation: Conversation,
    *,
    viewer: Participant | None,
    user: UserOut | None = None,
) -> ParticipantOut:
    """`participant` as `viewer` may see them; `viewer=None` is anyone in the conversation
    (the room's copy of an event). One's own record is whole; of others: role, status, join
    time and user, the read position only where read receipts are on, and the permission
    flags only to those who may act on them (`sees_member_flags`)."""
    own = viewer is not None and viewer.user_id == participant.user_id
    role = Role(participant.role)
    flags = own or (viewer is not None and sees_member_flags(Role(viewer.role), role))
    read_state = own or read_receipts_on(conversation)
    return ParticipantOut(
        id=participant.id,
        conversation_id=participant.conversation_id,
        user_id=participant.user_id,
        role=role,
        status=ParticipantStatus(participant.status),
        permissions=effective_permissions(role, participant.permissions or {}) if flags else None,
        last_read_at=participant.last_read_at if read_state else None,
        last_read_message_id=participant.last_read_message_id if read_state else None,
        read_seq=participant.read_seq if read_state else None,
        delivered_seq=participant.delivered_seq if read_state else None,
        unread_count=max(0, conversation.last_seq - participant.read_seq) if own else None,
        notification_settings=(
            stored_notification_settings(participant.notification_settings) if own else None
        ),
        joined_at=participant.joined_at,
        user=user,
    )
