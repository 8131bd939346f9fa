"""A member's own notification settings (private: nothing is announced)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.actions._shared import load_actor_and_target
from parley.conversations.render import participant_out
from parley.conversations.schemas import ParticipantOut
from parley.core.db import utcnow
from parley.core.errors import PermissionDenied

NotificationSettings = dict[str, bool | str | int | None]


async def set_notification_settings(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
    settings: NotificationSettings,
) -> ParticipantOut:
    """Merge into the caller's own settings; nobody sets them for someone else."""
    conversation, actor, target = await load_actor_and_target(
        session,
        conversation_id=conversation_id,
        actor_id=actor_id,
        target_user_id=target_user_id,
    )
    if target is not actor:
        raise PermissionDenied("Notification settings are each member's own")
    actor.notification_settings = {**(actor.notification_settings or {}), **settings}
    actor.updated_at = utcnow()
    await session.flush()
    return participant_out(actor, conversation.last_seq)
