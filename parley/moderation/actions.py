"""A reviewer's decision on a flagged message.

A decision applies to the message, so every pending item of it closes with the same outcome:
approval releases a held message; rejection removes the message (soft delete,
`message_deleted`). Who may decide on whose message is the permission table's
`may_decide_on`; every decision is in the audit trail.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import access
from parley.conversations.permissions import Action, may_decide_on, require_role
from parley.core.audit import AuditAction, record
from parley.core.db import utcnow
from parley.core.errors import (
    AlreadyDecided,
    ConversationNotFound,
    ModerationItemNotFound,
    PermissionDenied,
)
from parley.messages.actions.review import apply_review
from parley.moderation.queries import NOT_A_REVIEWER
from parley.moderation.schemas import DecisionAction, DecisionRequest, ModerationItemOut
from parley.screening import queue
from parley.screening.schemas import ItemStatus


async def decide(
    session: AsyncSession, *, user_id: uuid.UUID, item_id: uuid.UUID, decision: DecisionRequest
) -> ModerationItemOut:
    """APPROVE or REJECT a flagged message (REVIEW_FLAGGED_CONTENT, over the sender)."""
    item = await queue.lock_item(session, item_id=item_id)
    if item is None:
        raise ModerationItemNotFound(itemId=str(item_id))
    try:
        membership = await access.get_membership(
            session, conversation_id=item.conversation_id, user_id=user_id
        )
    except ConversationNotFound:
        raise ModerationItemNotFound(itemId=str(item_id)) from None
    require_role(membership.role, Action.REVIEW_FLAGGED_CONTENT, NOT_A_REVIEWER)
    sender_role = await access.get_active_role(
        session, conversation_id=item.conversation_id, user_id=item.sender_id
    )
    if not may_decide_on(
        membership.role, own_message=item.sender_id == user_id, sender_role=sender_role
    ):
        raise PermissionDenied(
            "Only a reviewer above the sender's role may decide",
            senderRole=str(sender_role) if sender_role else None,
        )
    if item.status != ItemStatus.PENDING:
        raise AlreadyDecided(status=item.status, decidedBy=str(item.decided_by))
    approve = decision.action == DecisionAction.APPROVE
    await queue.close_items(
        session,
        item,
        outcome=ItemStatus.APPROVED if approve else ItemStatus.REJECTED,
        decided_by=user_id,
        at=utcnow(),
        note=decision.note,
    )
    await apply_review(session, message_id=item.message_id, reviewer_id=user_id, approve=approve)
    record(
        session,
        actor_id=user_id,
        action=AuditAction.MODERATION_APPROVED if approve else AuditAction.MODERATION_REJECTED,
        conversation_id=item.conversation_id,
        message_id=item.message_id,
        target_user_id=item.sender_id,
        details={"itemId": str(item.id), "score": item.score, "reasons": list(item.reasons)},
    )
    await session.flush()
    return ModerationItemOut.model_validate(item)
