"""The gate every message write that others can see passes: the member's state and flags,
the conversation's state, the rate limits and screening. Written once; send, forward, edit,
react and typing call it.

Deleting is the one write that does not pass it: a member may always withdraw their own
message, and moderators clean up whatever the conversation's state; it happens once per
message, so it needs no rate limit."""

from __future__ import annotations

import uuid
from typing import NoReturn

from parley.conversations.permissions import (
    Action,
    ConversationStatus,
    Membership,
    ParticipantStatus,
)
from parley.core import runtime
from parley.core.errors import (
    ConversationReadOnly,
    EditLimitReached,
    EncryptionNotEnabled,
    EncryptionRequired,
    MessageTooLong,
    PermissionDenied,
    ReactionLimitReached,
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
    if not membership.may_send:
        _refuse(membership, "canSendMessages", "You may not send messages here")
    if message_type == MessageType.ANNOUNCEMENT and not membership.may(Action.POST_ANNOUNCEMENT):
        raise PermissionDenied("Only moderators and above may post announcements")


def require_may_edit(membership: Membership, message_type: MessageType) -> None:
    """An edit needs what a send of the message's type needs now: it is new text others see."""
    require_may_send(membership, message_type)


def require_may_react(membership: Membership) -> None:
    """Adding or taking back a reaction: the flag canReact, and the member's status and the
    conversation's state that a send needs (none in ARCHIVED, none in MUTED below the roles
    that may send there)."""
    if not membership.may_react:
        _refuse(membership, "canReact", "You may not react here")


def require_may_type(membership: Membership) -> None:
    """A member is announced typing only where they may send."""
    require_may_send(membership, MessageType.TEXT)


def require_version_room(version: int) -> None:
    """EDIT_LIMIT_REACHED once a message has MAX_MESSAGE_VERSIONS versions (the current one
    included): refused rather than pruned, so the history stays whole."""
    limit = runtime.current().settings.max_message_versions
    if version >= limit:
        raise EditLimitReached(maxVersions=limit)


def require_reaction_room(*, users_reactions: int, emoji_on_message: int, emoji_new: bool) -> None:
    """REACTION_LIMIT_REACHED for a new reaction past MAX_REACTIONS_PER_USER_PER_MESSAGE (the
    caller's reactions on the message), or for an emoji new to the message past
    MAX_REACTION_EMOJI_PER_MESSAGE (an emoji already there may still be added to)."""
    settings = runtime.current().settings
    if users_reactions >= settings.max_reactions_per_user_per_message:
        raise ReactionLimitReached(
            "You have reacted to this message as often as one may",
            scope="USER",
            limit=settings.max_reactions_per_user_per_message,
        )
    if emoji_new and emoji_on_message >= settings.max_reaction_emoji_per_message:
        raise ReactionLimitReached(
            "This message has as many different reactions as it may: add to one of them",
            scope="MESSAGE",
            limit=settings.max_reaction_emoji_per_message,
        )


def _refuse(membership: Membership, flag: str, refused: str) -> NoReturn:
    """Why a write is refused, in the order the member could do something about it."""
    if membership.conversation_status == ConversationStatus.ARCHIVED:
        raise ConversationReadOnly("The conversation is archived")
    if membership.status == ParticipantStatus.MUTED:
        raise PermissionDenied("You are muted in this conversation", reason="MUTED")
    if not membership.flag(flag):
        raise PermissionDenied(refused, flag=flag)
    raise PermissionDenied(
        "Only moderators and above may write while the conversation is muted",
        reason="CONVERSATION_MUTED",
    )


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


async def admit_edit(
    *, user_id: uuid.UUID, membership: Membership, content: str | None, encrypted: bool
) -> Verdict | None:
    """Count an edit against its own limit (RATE_LIMITED, scope EDITS), then screen the new
    text. Only for an edit about to be stored: one refused for another reason is not counted."""
    await rate_limits().check_edit(
        user_id=user_id, conversation_id=uuid.UUID(membership.conversation_id)
    )
    return await screen(content, membership=membership, encrypted=encrypted)


async def admit_reaction(*, user_id: uuid.UUID, membership: Membership) -> None:
    """Count a reaction added or taken back (RATE_LIMITED, scope REACTIONS)."""
    await rate_limits().check_reaction(
        user_id=user_id, conversation_id=uuid.UUID(membership.conversation_id)
    )
