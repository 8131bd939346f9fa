"""Which committed messages carry an attachment. Called by the message committer inside its
batch transaction, and only for batches that carry attachments; and by message deletion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parley.attachments.models import Attachment, AttachmentLink

_INSERT_LINKS = insert(AttachmentLink.__table__)  # type: ignore[arg-type]


class AttachmentTaken(SQLAlchemyError):
    """Another message took one of these uploads first (a race past the send's check):
    this message fails alone, as ATTACHMENT_ALREADY_SENT."""

    def __init__(self, message_id: uuid.UUID) -> None:
        super().__init__(f"an attachment of message {message_id} was sent before")


@dataclass(frozen=True)
class Carried:
    """A new message and the attachments it carries; `original`: a send, not a forward;
    `held`: held for review, so the members get the files only once it is approved."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    attachment_ids: list[uuid.UUID]
    original: bool
    held: bool = False


async def link_messages(connection: AsyncConnection, carried: list[Carried]) -> None:
    """Stamp each original send's uploads with their message (only if still unsent:
    AttachmentTaken otherwise) and link every message to what it carries."""
    for item in carried:
        if not item.original:
            continue
        stamped = await connection.execute(
            update(Attachment)
            .where(Attachment.id.in_(item.attachment_ids), Attachment.message_id.is_(None))
            .values(message_id=item.message_id, conversation_id=item.conversation_id)
        )
        if stamped.rowcount != len(item.attachment_ids):
            raise AttachmentTaken(item.message_id)
    links = [
        {
            "attachment_id": attachment_id,
            "message_id": item.message_id,
            "conversation_id": item.conversation_id,
        }
        for item in carried
        if not item.held
        for attachment_id in item.attachment_ids
    ]
    if links:
        await connection.execute(_INSERT_LINKS, links)


async def link_released(
    session: AsyncSession,
    *,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID,
    attachment_ids: list[uuid.UUID],
) -> None:
    """A held message approved: its files reach the conversation's members now."""
    if attachment_ids:
        await session.execute(
            _INSERT_LINKS,
            [
                {
                    "attachment_id": attachment_id,
                    "message_id": message_id,
                    "conversation_id": conversation_id,
                }
                for attachment_id in attachment_ids
            ],
        )


async def unlink_message(session: AsyncSession, *, message_id: uuid.UUID) -> None:
    """A deleted message no longer lends its attachments to the conversation's members."""
    await session.execute(delete(AttachmentLink).where(AttachmentLink.message_id == message_id))
