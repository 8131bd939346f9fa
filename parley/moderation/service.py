"""The review queue: what reviewers see, and their decisions.

Reviewers are a conversation's active moderators, admins and owner. A decision applies to the
message, so every pending item of it closes with the same outcome: approval releases a held
message; rejection removes the message (soft delete, `message_deleted`). A reviewer decides
only on messages of lower roles (the owner may decide on anyone's, their own included), and
every decision is in the audit trail.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.audit import service as audit
from parley.conversations import service as conversations
from parley.conversations.permissions import Action, Role, outranks
from parley.core.db import utcnow
from parley.core.errors import (
    AlreadyDecided,
    ConversationNotFound,
    ModerationItemNotFound,
    PermissionDenied,
)
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.core.schemas import Page
from parley.messages import service as messages
from parley.moderation.models import ModerationItem
from parley.moderation.schemas import (
    DecisionAction,
    DecisionRequest,
    ItemStatus,
    ModerationItemOut,
)


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
    statement = select(ModerationItem).order_by(
        ModerationItem.created_at.desc(), ModerationItem.id.desc()
    )
    if conversation_id is not None:
        membership = await conversations.get_membership(
            session, conversation_id=conversation_id, user_id=user_id
        )
        if not membership.may(Action.REVIEW_FLAGGED_CONTENT):
            raise PermissionDenied(
                "Only moderators, admins and the owner review flagged messages",
                action=str(Action.REVIEW_FLAGGED_CONTENT),
            )
        statement = statement.where(ModerationItem.conversation_id == conversation_id)
    else:
        statement = statement.where(
            ModerationItem.conversation_id.in_(conversations.reviewed_conversations(user_id))
        )
    if status is not None:
        statement = statement.where(ModerationItem.status == status)
    if before is not None:
        statement = statement.where(
            after_time_cursor(before, ModerationItem.created_at, ModerationItem.id, descending=True)
        )
    items = list((await session.scalars(statement.limit(limit + 1))).all())
    more = len(items) > limit
    items = items[:limit]
    return Page[ModerationItemOut](
        items=[ModerationItemOut.model_validate(item) for item in items],
        next_cursor=encode_time_cursor(items[-1].created_at, items[-1].id) if more else None,
    )


async def decide(
    session: AsyncSession, *, user_id: uuid.UUID, item_id: uuid.UUID, decision: DecisionRequest
) -> ModerationItemOut:
    item = await session.scalar(
        select(ModerationItem).where(ModerationItem.id == item_id).with_for_update()
    )
    if item is None:
        raise ModerationItemNotFound(itemId=str(item_id))
    try:
        membership = await conversations.get_membership(
            session, conversation_id=item.conversation_id, user_id=user_id
        )
    except ConversationNotFound:
        raise ModerationItemNotFound(itemId=str(item_id)) from None
    if not membership.may(Action.REVIEW_FLAGGED_CONTENT):
        raise PermissionDenied(
            "Only moderators, admins and the owner review flagged messages",
            action=str(Action.REVIEW_FLAGGED_CONTENT),
        )
    if membership.role != Role.OWNER:
        sender_role = await conversations.get_active_role(
            session, conversation_id=item.conversation_id, user_id=item.sender_id
        )
        if item.sender_id == user_id or (
            sender_role is not None and not outranks(membership.role, sender_role)
        ):
            raise PermissionDenied(
                "Only a reviewer above the sender's role may decide",
                senderRole=str(sender_role) if sender_role else None,
            )
    if item.status != ItemStatus.PENDING:
        raise AlreadyDecided(status=item.status, decidedBy=str(item.decided_by))
    approve = decision.action == DecisionAction.APPROVE
    outcome = ItemStatus.APPROVED if approve else ItemStatus.REJECTED
    now = utcnow()
    item.status = outcome
    item.decided_by = user_id
    item.decided_at = now
    item.note = decision.note
    await session.execute(
        update(ModerationItem)
        .where(
            ModerationItem.message_id == item.message_id,
            ModerationItem.status == ItemStatus.PENDING,
            ModerationItem.id != item.id,
        )
        .values(status=outcome, decided_by=user_id, decided_at=now, note=decision.note)
    )
    await messages.apply_review(
        session, message_id=item.message_id, reviewer_id=user_id, approve=approve
    )
    audit.record(
        session,
        actor_id=user_id,
        action="moderation.approved" if approve else "moderation.rejected",
        conversation_id=item.conversation_id,
        message_id=item.message_id,
        target_user_id=item.sender_id,
        details={"itemId": str(item.id), "score": item.score, "reasons": list(item.reasons)},
    )
    await session.flush()
    return ModerationItemOut.model_validate(item)
