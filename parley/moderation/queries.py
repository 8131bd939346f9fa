"""The review queue as a reviewer sees it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import access
from parley.conversations.permissions import Action, require_role
from parley.core.pagination import encode_time_cursor
from parley.core.schemas import Page
from parley.moderation.schemas import ModerationItemOut
from parley.screening import queue
from parley.screening.schemas import ItemStatus

NOT_A_REVIEWER = "Only moderators, admins and the owner review flagged messages"


async def list_queue(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    status: ItemStatus | None,
    conversation_id: uuid.UUID | None,
    limit: int,
    before: str | None,
) -> Page[ModerationItemOut]:
    """Newest first, from every conversation the caller reviews (or the one asked for)."""
    if conversation_id is not None:
        membership = await access.get_membership(
            session, conversation_id=conversation_id, user_id=user_id
        )
        require_role(membership.role, Action.REVIEW_FLAGGED_CONTENT, NOT_A_REVIEWER)
    statement = queue.items_newest_first(
        conversation_ids=[conversation_id]
        if conversation_id is not None
        else access.reviewed_conversations(user_id),
        status=status,
        before=before,
        limit=limit + 1,
    )
    items = list((await session.scalars(statement)).all())
    more = len(items) > limit
    items = items[:limit]
    return Page[ModerationItemOut](
        items=[ModerationItemOut.model_validate(item) for item in items],
        next_cursor=encode_time_cursor(items[-1].created_at, items[-1].id) if more else None,
    )
