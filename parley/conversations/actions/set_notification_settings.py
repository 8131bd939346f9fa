"""A member's own notification settings (private: nothing is announced)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.actions._shared import load_actor_and_target
from parley.conversations.render import participant_out, stored_notification_settings
from parley.conversations.schemas import NotificationSettingsPatch, ParticipantOut
from parley.core.db import utcnow
from parley.core.errors import PermissionDenied


async def set_notification_settings(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
    settings: NotificationSettingsPatch,
) -> ParticipantOut:
    """The fields sent replace the caller's own (validated, so the stored object keeps its
    schema and size); nobody sets them for someone else."""
    conversation, actor, target = await load_actor_and_target(
        session,
        conversation_id=conversation_id,
        actor_id=actor_id,
        target_user_id=target_user_id,
    )
    if target is not actor:
        raise PermissionDenied("Notification settings are each member's own")
    current = stored_notification_settings(actor.notification_settings)
    changes = {
        name: getattr(settings, name)
        for name in settings.model_fields_set
        if name != "level" or settings.level is not None
    }
    if changes.get("keywords", []) is None:
        changes["keywords"] = []
    updated = current.model_copy(update=changes)
    actor.notification_settings = updated.model_dump(mode="json", by_alias=True)
    actor.updated_at = utcnow()
    await session.flush()
    return participant_out(actor, conversation, viewer=actor)
