"""Reads of uploaded files that other domains use."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.models import Attachment
from parley.attachments.schemas import AttachmentRef
from parley.core.errors import ValidationFailed


async def owned_attachments(
    session: AsyncSession, *, uploader_id: uuid.UUID, attachment_ids: list[uuid.UUID]
) -> list[AttachmentRef]:
    """The caller's own uploads, in the order asked; VALIDATION_ERROR names any other id."""
    if not attachment_ids:
        return []
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
    return [
        AttachmentRef(id=str(a.id), name=a.name, mimeType=a.mime_type, size=a.size, sha256=a.sha256)
        for a in (found[aid] for aid in attachment_ids)
    ]
