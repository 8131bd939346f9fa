"""Files of messages that retention deletes (messages/actions/expire.py calls this in its
batch transaction, before it deletes the message rows).

A file outlives an expired message while another message still carries it (a forward into a
conversation that keeps its messages longer): it then passes to that message. Otherwise its
row goes in the batch's transaction and its bytes right after the commit."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.models import Attachment, AttachmentLink
from parley.attachments.storage import Storage
from parley.core.db import after_commit

log = logging.getLogger(__name__)


async def release_expired(
    session: AsyncSession, *, message_ids: list[uuid.UUID], storage: Storage
) -> int:
    """Unlink the files of these messages; delete the ones no other message carries (bytes
    after commit); the number of files deleted."""
    if not message_ids:
        return 0
    linked = select(AttachmentLink.attachment_id).where(AttachmentLink.message_id.in_(message_ids))
    attachments = list(
        (
            await session.scalars(
                select(Attachment).where(
                    or_(Attachment.message_id.in_(message_ids), Attachment.id.in_(linked))
                )
            )
        ).all()
    )
    if not attachments:
        return 0
    await session.execute(
        delete(AttachmentLink)
        .where(AttachmentLink.message_id.in_(message_ids))
        .execution_options(synchronize_session=False)
    )
    expiring = set(message_ids)
    remaining = {
        attachment_id: (message_id, conversation_id)
        for attachment_id, message_id, conversation_id in (
            await session.execute(
                select(
                    AttachmentLink.attachment_id,
                    AttachmentLink.message_id,
                    AttachmentLink.conversation_id,
                ).where(AttachmentLink.attachment_id.in_([a.id for a in attachments]))
            )
        ).all()
    }
    gone: list[Attachment] = []
    for attachment in attachments:
        carried_by_expiring = attachment.message_id is None or attachment.message_id in expiring
        if attachment.id in remaining:
            if carried_by_expiring:
                # Its first message expires, a forward stays: the forward now holds it, so
                # the orphan sweep (unsent uploads) never takes it.
                message_id, conversation_id = remaining[attachment.id]
                await session.execute(
                    update(Attachment)
                    .where(Attachment.id == attachment.id)
                    .values(message_id=message_id, conversation_id=conversation_id)
                    .execution_options(synchronize_session=False)
                )
        elif carried_by_expiring:
            gone.append(attachment)
    if not gone:
        return 0
    await session.execute(
        delete(Attachment)
        .where(Attachment.id.in_([a.id for a in gone]))
        .execution_options(synchronize_session=False)
    )
    keys = [attachment.storage_path for attachment in gone]

    async def remove_bytes() -> None:
        for key in keys:
            try:
                await storage.delete(key)
            except Exception:
                # The row is gone: nothing refers to these bytes any more.
                log.exception("expired attachment bytes not removed")

    after_commit(session, remove_bytes)
    return len(gone)
