"""Reads of uploaded files: the send path's check of a message's attachments, and the
download's access check."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.models import Attachment, AttachmentLink
from parley.attachments.schemas import AttachmentRef
from parley.conversations.access import readable_conversations
from parley.core.errors import AttachmentAlreadySent, AttachmentNotFound, ValidationFailed


async def owned_attachments(
    session: AsyncSession, *, uploader_id: uuid.UUID, attachment_ids: list[uuid.UUID]
) -> list[AttachmentRef]:
    """The caller's own unsent uploads, in the order asked: VALIDATION_ERROR names any other
    id (or one given twice), ATTACHMENT_ALREADY_SENT one that a message carries already."""
    if not attachment_ids:
        return []
    if len(set(attachment_ids)) != len(attachment_ids):
        raise ValidationFailed("An attachment is listed twice", field="attachments")
    found = {
        a.id: a
        for a in (
            await session.scalars(
                select(Attachment).where(
                    Attachment.id.in_(attachment_ids), Attachment.uploader_id == uploader_id
                )
            )
        ).all()
    }
    missing = [str(aid) for aid in attachment_ids if aid not in found]
    if missing:
        raise ValidationFailed(
            "Unknown attachments", field="attachments", unknownAttachmentIds=missing
        )
    sent = [str(a.id) for a in found.values() if a.message_id is not None]
    if sent:
        raise AttachmentAlreadySent(attachmentIds=sent)
    return [_ref(found[aid]) for aid in attachment_ids]


def _ref(attachment: Attachment) -> AttachmentRef:
    ref = AttachmentRef(
        id=str(attachment.id),
        name=attachment.name,
        mimeType=attachment.mime_type,
        size=attachment.size,
        sha256=attachment.sha256,
    )
    if attachment.width is not None and attachment.height is not None:
        ref["width"] = attachment.width
        ref["height"] = attachment.height
    return ref


async def downloadable(
    session: AsyncSession, *, attachment_id: uuid.UUID, user_id: uuid.UUID
) -> Attachment:
    """The attachment if the caller uploaded it or reads a conversation where a
    non-deleted message carries it (one indexed query); ATTACHMENT_NOT_FOUND otherwise, the
    same answer as for an id that does not exist."""
    readable = readable_conversations(user_id).subquery()
    carried_to_caller = exists(
        select(AttachmentLink.message_id).where(
            AttachmentLink.attachment_id == Attachment.id,
            AttachmentLink.conversation_id.in_(select(readable.c.conversation_id)),
        )
    )
    attachment = await session.scalar(
        select(Attachment).where(
            Attachment.id == attachment_id,
            or_(Attachment.uploader_id == user_id, carried_to_caller),
        )
    )
    if attachment is None:
        raise AttachmentNotFound(attachmentId=str(attachment_id))
    return attachment
