"""What a reviewer's decision does to the message (moderation/actions.py decides)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.actions.link import link_released, unlink_message
from parley.core import runtime
from parley.core.db import utcnow
from parley.core.events import conversation_room, emit_after_commit
from parley.messages.changes import EditedMessage, EditListeners
from parley.messages.events import MESSAGE_DELETED, MESSAGE_UPDATED
from parley.messages.models import Message
from parley.messages.render import message_out, render
from parley.messages.schemas import MessageEvent, MessageStatus


async def apply_review(
    session: AsyncSession, *, message_id: uuid.UUID, reviewer_id: uuid.UUID, approve: bool
) -> None:
    """Approval releases a held message to everyone; rejection removes the message (soft
    delete)."""
    message = await session.scalar(
        select(Message).where(Message.id == message_id).with_for_update()
    )
    if message is None or message.deleted_at is not None:
        return
    room = [conversation_room(message.conversation_id)]
    if approve:
        if message.status != MessageStatus.MODERATED:
            return
        message.status = MessageStatus.EDITED if message.version > 1 else MessageStatus.SENT
        if message.attachments:
            await link_released(
                session,
                message_id=message.id,
                conversation_id=message.conversation_id,
                attachment_ids=[uuid.UUID(str(ref["id"])) for ref in message.attachments],
            )
        await session.flush()
        out = (await render(session, [message]))[0]
        emit_after_commit(session, MESSAGE_UPDATED, MessageEvent(message=out), rooms=room)
        _tell_released(session, message)
        return
    message.deleted_at = utcnow()
    message.deleted_by = reviewer_id
    message.status = MessageStatus.DELETED
    if message.attachments:
        await unlink_message(session, message_id=message.id)
    await session.flush()
    out = message_out(message.column_values())
    emit_after_commit(session, MESSAGE_DELETED, MessageEvent(message=out), rooms=room)


def _tell_released(session: AsyncSession, message: Message) -> None:
    """A released message's links are new to everyone: the edit listeners (link previews,
    which skipped it while it was held) hear of them once the approval commits."""
    urls = tuple((message.extra or {}).get("urls", []))
    listeners = runtime.current().find(EditListeners)
    if listeners is None or not urls:
        return
    listeners.after_commit(
        session,
        EditedMessage(
            message_id=message.id,
            conversation_id=message.conversation_id,
            urls=urls,
            urls_changed=True,
            encrypted=message.encrypted,
            held=False,
        ),
    )
