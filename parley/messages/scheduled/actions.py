"""The owner's changes to scheduled messages: schedule, change, cancel, list.

Scheduling passes the same gate as a send (the member's state and flags, the conversation's
state, the envelope policy, owned attachments) so nobody schedules into a conversation they
cannot write to; the send at its time passes the whole gate again (rate limits, screening).
Changes are guarded updates (`WHERE status = 'SCHEDULED'`) so they never race the
dispatcher's claim: once claimed, a scheduled message is SENDING and answers 409.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.actions.keep import keep_for_scheduled
from parley.attachments.queries import owned_attachments
from parley.conversations import access
from parley.core import runtime
from parley.core.db import utcnow
from parley.core.errors import (
    Conflict,
    PermissionDenied,
    ScheduledAtInvalid,
    ScheduledMessageNotFound,
    ScheduledMessageNotPending,
    ValidationFailed,
)
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.messages.gate import checked_content, require_envelope_policy, require_may_send
from parley.messages.models import ScheduledMessage
from parley.messages.scheduled.schemas import (
    ScheduledMessageEdit,
    ScheduledMessageOut,
    ScheduledMessagePage,
    ScheduledStatus,
    as_utc,
)
from parley.messages.schemas import FILE_TYPES, SERVER_ONLY_TYPES, MessageCreate, MessageType

# A scheduled message lies at least this far ahead (nearer: send it now) ...
MIN_LEAD = timedelta(seconds=1)
# ... and at most this far (a typo in the year is refused, not kept for a century).
MAX_AHEAD = timedelta(days=366)


def checked_time(at: datetime) -> datetime:
    """SCHEDULED_AT_INVALID unless `at` lies between MIN_LEAD and MAX_AHEAD from now."""
    at = as_utc(at)
    now = utcnow()
    if at < now + MIN_LEAD:
        raise ScheduledAtInvalid(
            "scheduledAt must be at least 1 second in the future",
            field="scheduledAt",
            reason="TOO_SOON",
        )
    if at > now + MAX_AHEAD:
        raise ScheduledAtInvalid(
            "scheduledAt may be at most 366 days ahead", field="scheduledAt", reason="TOO_FAR"
        )
    return at


async def schedule_message(*, sender_id: uuid.UUID, data: MessageCreate) -> ScheduledMessageOut:
    """Store a send with `scheduledAt` as SCHEDULED (one transaction of its own): nothing is
    visible to others until the dispatcher sends it. The same clientMessageId gives the same
    scheduled message back."""
    try:
        async with runtime.current().db.unit_of_work() as session:
            return await _schedule(session, sender_id=sender_id, data=data)
    except IntegrityError:
        if data.client_message_id is None:
            raise
    # A concurrent retry with the same clientMessageId stored it first: answer that one.
    async with runtime.current().db.unit_of_work() as session:
        return await _schedule(session, sender_id=sender_id, data=data)


async def _schedule(
    session: AsyncSession, *, sender_id: uuid.UUID, data: MessageCreate
) -> ScheduledMessageOut:
    assert data.scheduled_at is not None
    content = checked_content(data.content, has_attachments=bool(data.attachments))
    if data.type in SERVER_ONLY_TYPES:
        raise ValidationFailed(f"Clients may not send {data.type} messages", field="type")
    if data.type in FILE_TYPES and not data.attachments:
        raise ValidationFailed(f"A {data.type} message carries attachments", field="attachments")
    at = checked_time(data.scheduled_at)
    membership = await access.get_membership(
        session, conversation_id=data.conversation_id, user_id=sender_id
    )
    message_type = data.type or (MessageType.REPLY if data.reply_to_id else MessageType.TEXT)
    require_may_send(membership, message_type)
    require_envelope_policy(membership, encrypted=data.encrypted, content=content)
    if data.attachments and not membership.flag("canUploadFiles"):
        raise PermissionDenied("You may not share files here", flag="canUploadFiles")
    await owned_attachments(session, uploader_id=sender_id, attachment_ids=data.attachments)
    if data.client_message_id is not None:
        stored = await session.scalar(
            select(ScheduledMessage).where(
                ScheduledMessage.sender_id == sender_id,
                ScheduledMessage.client_message_id == data.client_message_id,
            )
        )
        if stored is not None:
            if stored.conversation_id != data.conversation_id:
                raise Conflict(
                    "This clientMessageId was used for another conversation",
                    clientMessageId=data.client_message_id,
                )
            return scheduled_out(stored)
    now = utcnow()
    row = ScheduledMessage(
        id=uuid.uuid4(),
        sender_id=sender_id,
        conversation_id=data.conversation_id,
        content=content,
        type=str(data.type) if data.type is not None else None,
        reply_to_id=data.reply_to_id,
        thread_id=data.thread_id,
        attachments=[str(a) for a in data.attachments],
        client_message_id=data.client_message_id,
        encrypted=data.encrypted,
        scheduled_at=at,
        status=str(ScheduledStatus.SCHEDULED),
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await keep_for_scheduled(session, attachment_ids=list(data.attachments), due=at)
    return scheduled_out(row)


async def list_scheduled(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    statuses: list[ScheduledStatus],
    limit: int,
    cursor: str | None,
) -> ScheduledMessagePage:
    """The caller's scheduled messages of `statuses`, soonest first."""
    query = select(ScheduledMessage).where(
        ScheduledMessage.sender_id == user_id,
        ScheduledMessage.status.in_([str(s) for s in statuses]),
    )
    if cursor is not None:
        query = query.where(
            after_time_cursor(
                cursor, ScheduledMessage.scheduled_at, ScheduledMessage.id, descending=False
            )
        )
    rows = list(
        (
            await session.scalars(
                query.order_by(ScheduledMessage.scheduled_at, ScheduledMessage.id).limit(limit + 1)
            )
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_time_cursor(as_utc(rows[-1].scheduled_at), rows[-1].id)
    return ScheduledMessagePage(items=[scheduled_out(r) for r in rows], next_cursor=next_cursor)


async def get_scheduled(
    session: AsyncSession, *, user_id: uuid.UUID, scheduled_id: uuid.UUID
) -> ScheduledMessageOut:
    """One of the caller's scheduled messages (another's is not found)."""
    return scheduled_out(await _own(session, user_id=user_id, scheduled_id=scheduled_id))


async def edit_scheduled(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    scheduled_id: uuid.UUID,
    data: ScheduledMessageEdit,
) -> ScheduledMessageOut:
    """Change the text and/or the time while still SCHEDULED (409 once claimed or done)."""
    row = await _own(session, user_id=user_id, scheduled_id=scheduled_id)
    changes: dict[str, Any] = {}
    if "content" in data.model_fields_set:
        changes["content"] = checked_content(data.content, has_attachments=bool(row.attachments))
    if data.scheduled_at is not None:
        changes["scheduled_at"] = checked_time(data.scheduled_at)
    if not changes:
        raise ValidationFailed("Give content and/or scheduledAt", field="content")
    membership = await access.get_membership(
        session, conversation_id=row.conversation_id, user_id=user_id
    )
    require_may_send(membership, MessageType(row.type) if row.type else MessageType.TEXT)
    require_envelope_policy(
        membership, encrypted=row.encrypted, content=changes.get("content", row.content)
    )
    await _guarded(session, scheduled_id, {**changes, "updated_at": utcnow()})
    if "scheduled_at" in changes:
        await keep_for_scheduled(
            session,
            attachment_ids=[uuid.UUID(str(a)) for a in row.attachments or []],
            due=changes["scheduled_at"],
        )
    await session.refresh(row)
    return scheduled_out(row)


async def cancel_scheduled(
    session: AsyncSession, *, user_id: uuid.UUID, scheduled_id: uuid.UUID
) -> None:
    """CANCELLED while still SCHEDULED; cancelling twice is fine, a sent one is 409."""
    row = await _own(session, user_id=user_id, scheduled_id=scheduled_id)
    if row.status == ScheduledStatus.CANCELLED:
        return
    await _guarded(
        session,
        scheduled_id,
        {"status": str(ScheduledStatus.CANCELLED), "updated_at": utcnow()},
    )


async def _own(
    session: AsyncSession, *, user_id: uuid.UUID, scheduled_id: uuid.UUID
) -> ScheduledMessage:
    row = await session.get(ScheduledMessage, scheduled_id)
    if row is None or row.sender_id != user_id:
        raise ScheduledMessageNotFound()
    return row


async def _guarded(session: AsyncSession, scheduled_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Apply `values` only while SCHEDULED: the dispatcher's claim may have come first."""
    changed = await session.scalar(
        update(ScheduledMessage)
        .where(
            ScheduledMessage.id == scheduled_id,
            ScheduledMessage.status == str(ScheduledStatus.SCHEDULED),
        )
        .values(**values)
        .returning(ScheduledMessage.id)
        .execution_options(synchronize_session=False)
    )
    if changed is None:
        status = await session.scalar(
            select(ScheduledMessage.status).where(ScheduledMessage.id == scheduled_id)
        )
        raise ScheduledMessageNotPending(status=status)


def scheduled_out(row: ScheduledMessage) -> ScheduledMessageOut:
    return ScheduledMessageOut(
        id=row.id,
        conversation_id=row.conversation_id,
        sender_id=row.sender_id,
        content=row.content,
        type=row.type,
        reply_to_id=row.reply_to_id,
        thread_id=row.thread_id,
        attachments=[uuid.UUID(str(a)) for a in row.attachments or []],
        client_message_id=row.client_message_id,
        encrypted=row.encrypted,
        scheduled_at=as_utc(row.scheduled_at),
        status=ScheduledStatus(row.status),
        attempts=row.attempts,
        sent_message_id=row.sent_message_id,
        error_code=row.error_code,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )
