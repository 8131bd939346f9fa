"""Deleting a message (soft: it keeps its place and seq, not its content)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.actions.link import unlink_message
from parley.conversations import access
from parley.conversations.permissions import Action, outranks_sender
from parley.core.audit import AuditAction, record
from parley.core.db import utcnow
from parley.core.errors import PermissionDenied
from parley.core.events import conversation_room, emit_after_commit
from parley.messages.events import MESSAGE_DELETED
from parley.messages.queries import load_visible
from parley.messages.render import message_out, render
from parley.messages.schemas import MessageEvent, MessageOut, MessageStatus


async def delete_message(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID
) -> MessageOut:
    """Soft delete by the sender, or DELETE_OTHERS_MESSAGES over a lower-ranked sender."""
    message, membership = await load_visible(
        session, user_id=user_id, message_id=message_id, for_update=True
    )
    if message.deleted_at is not None:
        return (await render(session, [message]))[0]
    by_sender = message.sender_id == user_id
    if not by_sender:
        if not membership.may(Action.DELETE_OTHERS_MESSAGES):
            raise PermissionDenied(
                "Only moderators and above may delete others' messages",
                action=str(Action.DELETE_OTHERS_MESSAGES),
            )
        sender_role = await access.get_active_role(
            session, conversation_id=message.conversation_id, user_id=message.sender_id
        )
        if not outranks_sender(membership.role, sender_role):
            raise PermissionDenied(
                "You may only delete messages of lower roles", senderRole=str(sender_role)
            )
    message.deleted_at = utcnow()
    message.deleted_by = user_id
    message.status = MessageStatus.DELETED
    if message.attachments:
        await unlink_message(session, message_id=message.id)
    record(
        session,
        actor_id=user_id,
        action=AuditAction.MESSAGE_DELETED,
        conversation_id=message.conversation_id,
        message_id=message.id,
        target_user_id=message.sender_id,
        details={"bySender": by_sender},
    )
    await session.flush()
    out = message_out(message.column_values())
    emit_after_commit(
        session,
        MESSAGE_DELETED,
        MessageEvent(message=out),
        rooms=[conversation_room(message.conversation_id)],
    )
    return out
