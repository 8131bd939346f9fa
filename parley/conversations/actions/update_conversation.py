"""Changing a conversation's name, description, settings, status or rate limit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.access import (
    DEFAULT_SETTINGS,
    conversation_key,
    load_visible,
    member_ids,
    user_conversations_key,
)
from parley.conversations.events import CONVERSATION_UPDATED
from parley.conversations.permissions import Action, ConversationType, Role, has_roles, require_role
from parley.conversations.render import conversation_out
from parley.conversations.schemas import ConversationEvent, ConversationOut, ConversationUpdate
from parley.core.audit import AuditAction, record
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow
from parley.core.errors import ValidationFailed
from parley.core.events import conversation_room, emit_after_commit


async def update_conversation(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    data: ConversationUpdate,
) -> ConversationOut:
    """Change name, description, settings, status or rate limit (EDIT_SETTINGS; in a DIRECT
    conversation either person)."""
    conversation, actor = await load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    if has_roles(conversation.type):
        require_role(
            Role(actor.role),
            Action.EDIT_SETTINGS,
            "Only admins and the owner may change the conversation",
        )
    changes: dict[str, Any] = {}
    fields = data.model_fields_set
    if "name" in fields:
        if data.name is None and conversation.type in (
            ConversationType.SPACE,
            ConversationType.COMMUNITY,
        ):
            raise ValidationFailed(f"A {conversation.type} needs a name", field="name")
        conversation.name = data.name
        changes["name"] = data.name
    if "description" in fields:
        conversation.description = data.description
        changes["description"] = data.description
    if "settings" in fields and data.settings is not None:
        # A null switch is ignored, as before; a null retentionDays removes the setting.
        patch = {
            key: value
            for key, value in data.settings.model_dump(by_alias=True, exclude_unset=True).items()
            if value is not None or key == "retentionDays"
        }
        conversation.settings = {**DEFAULT_SETTINGS, **(conversation.settings or {}), **patch}
        changes["settings"] = patch
    if "status" in fields:
        if data.status is None:
            raise ValidationFailed("status cannot be null", field="status")
        conversation.status = data.status
        changes["status"] = data.status
    if "rate_limit" in fields:
        conversation.rate_limit = data.rate_limit
        changes["rateLimit"] = data.rate_limit
    if changes:
        conversation.updated_at = utcnow()
        record(
            session,
            actor_id=actor_id,
            action=AuditAction.CONVERSATION_UPDATED,
            conversation_id=conversation.id,
            details=changes,
        )
        stale = [conversation_key(conversation.id)]
        if "status" in changes:  # a deleted conversation leaves its members' socket rooms
            members = await member_ids(session, conversation_id=conversation.id)
            stale += [user_conversations_key(user_id) for user_id in members]
        invalidate_after_commit(session, *stale)
        emit_after_commit(
            session,
            CONVERSATION_UPDATED,
            ConversationEvent(conversation=conversation_out(conversation)),
            rooms=[conversation_room(conversation.id)],
        )
    await session.flush()
    return conversation_out(conversation, actor)
