"""Deleting a user's uploads (GDPR erasure): rows in the caller's transaction, bytes after
its commit (a rolled-back erasure must not have lost the files)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.models import Attachment, AttachmentLink
from parley.attachments.storage import Storage

log = logging.getLogger(__name__)


async def carriers_of_uploads(
    session: AsyncSession, *, uploader_id: uuid.UUID
) -> dict[uuid.UUID, set[str]]:
    """Message id -> ids of the user's uploads it carries (sends and forwards, anyone's): the
    messages whose `attachments` lose those references when the uploads go."""
    rows = await session.execute(
        select(AttachmentLink.message_id, AttachmentLink.attachment_id)
        .join(Attachment, Attachment.id == AttachmentLink.attachment_id)
        .where(Attachment.uploader_id == uploader_id)
    )
    carriers: dict[uuid.UUID, set[str]] = {}
    for message_id, attachment_id in rows:
        carriers.setdefault(message_id, set()).add(str(attachment_id))
    return carriers


async def delete_uploads_of(session: AsyncSession, *, uploader_id: uuid.UUID) -> list[str]:
    """Delete every attachment row the user uploaded (their links go with them); the storage
    keys whose bytes `remove_bytes` deletes once the transaction has committed."""
    keys = await session.scalars(
        delete(Attachment)
        .where(Attachment.uploader_id == uploader_id)
        .returning(Attachment.storage_path)
    )
    return list(keys.all())


async def remove_bytes(storage: Storage, keys: list[str]) -> None:
    """Delete stored bytes by key; a failure is logged (the orphan check cannot find bytes
    without a row, so it is worth an operator's look) and the rest go on."""
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.exception("erased upload bytes not removed")
