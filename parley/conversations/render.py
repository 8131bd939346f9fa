"""Conversations and participants as clients see them."""

from __future__ import annotations

from parley.accounts.schemas import UserOut
from parley.conversations.access import DEFAULT_SETTINGS
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import (
    ConversationStatus,
    ConversationType,
    ParticipantStatus,
    Role,
    effective_permissions,
)
from parley.conversations.schemas import ConversationOut, LastMessageOut, ParticipantOut
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


def participant_out(
    participant: Participant, last_seq: int, user: UserOut | None = None
) -> ParticipantOut:
    role = Role(participant.role)
    return ParticipantOut(
        id=participant.id,
        conversation_id=participant.conversation_id,
        user_id=participant.user_id,
        role=role,
        status=ParticipantStatus(participant.status),
        permissions=effective_permissions(role, participant.permissions or {}),
        last_read_at=participant.last_read_at,
        last_read_message_id=participant.last_read_message_id,
        read_seq=participant.read_seq,
        delivered_seq=participant.delivered_seq,
        unread_count=max(0, last_seq - participant.read_seq),
        notification_settings=participant.notification_settings or {},
        joined_at=participant.joined_at,
        user=user,
    )
