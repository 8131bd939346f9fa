"""The gate every message write that others can see passes: the member's state and flags,
the conversation's state, the rate limits and screening. Written once; send, forward, edit
and react call it."""

from __future__ import annotations

import uuid

from parley.conversations.permissions import (
    Action,
    ConversationStatus,
    Membership,
    ParticipantStatus,
)
from parley.core import runtime
from parley.core.errors import (
    ConversationReadOnly,
    EncryptionNotEnabled,
    EncryptionRequired,
    MessageTooLong,
    PermissionDenied,
    ValidationFailed,
)
from parley.messages.envelope import check_envelope
from parley.messages.schemas import MessageType
from parley.ratelimit.service import limiter as rate_limits
from parley.screening.screen import Verdict, screen


def checked_content(content: str | None, *, has_attachments: bool) -> str | None:
    """MESSAGE_TOO_LONG past MAX_MESSAGE_LENGTH; a message needs text or attachments."""
    limit = runtime.current().settings.max_message_length
    if content is not None and len(content) > limit:
        raise MessageTooLong(
            f"The message is longer than {limit} characters", maxLength=limit, length=len(content)
        )
    if (content is None or not content.strip()) and not has_attachments:
        raise ValidationFailed("A message needs content or attachments", field="content")
    return content


def require_may_send(membership: Membership, message_type: MessageType) -> None:
    """The member may write here now (status, flag, conversation state, announcements)."""
    if membership.may_send:
        if message_type == MessageType.ANNOUNCEMENT and not membership.may(
            Action.POST_ANNOUNCEMENT
        ):
            raise PermissionDenied("Only moderators and above may post announcements")
        return
    if membership.conversation_status == ConversationStatus.ARCHIVED:
        raise ConversationReadOnly("The conversation is archived")
    if membership.status == ParticipantStatus.MUTED:
        raise PermissionDenied("You are muted in this conversation", reason="MUTED")
    if not membership.flag("canSendMessages"):
        raise PermissionDenied("You may not send messages here", flag="canSendMessages")
    raise PermissionDenied(
        "Only moderators and above may write while the conversation is muted",
        reason="CONVERSATION_MUTED",
    )


def require_may_edit(membership: Membership) -> None:
    if membership.status != ParticipantStatus.ACTIVE:
        raise PermissionDenied("You are muted in this conversation", reason="MUTED")


def require_may_react(membership: Membership) -> None:
    if not membership.may_react:
        raise PermissionDenied("You may not react here", flag="canReact")
    if membership.conversation_status == ConversationStatus.ARCHIVED:
        raise ConversationReadOnly("The conversation is archived")


def require_envelope_policy(
    membership: Membership, *, encrypted: bool, content: str | None
) -> None:
    """Encrypted content only where the conversation's `endToEndEncryption` is on, and only
    encrypted content there (ENCRYPTION_NOT_ENABLED / ENCRYPTION_REQUIRED); encrypted content
    is a well-formed envelope (VALIDATION_ERROR). Send, forward (per target) and edit."""
    if encrypted and not membership.end_to_end_encryption:
        raise EncryptionNotEnabled(conversationId=membership.conversation_id)
    if not encrypted and membership.end_to_end_encryption:
        raise EncryptionRequired(conversationId=membership.conversation_id)
    if encrypted:
        check_envelope(content)


async def admit(
    *, sender_id: uuid.UUID, membership: Membership, content: str | None, encrypted: bool
) -> Verdict | None:
    """Count a new message against the rate limits (RATE_LIMITED), then screen its text.
    Only for a message about to be stored: a retry of a committed one is not counted."""
    await rate_limits().check_send(
        user_id=sender_id,
        conversation_id=uuid.UUID(membership.conversation_id),
        per_minute=membership.rate_limit,
    )
    return await screen(content, membership=membership, encrypted=encrypted)
