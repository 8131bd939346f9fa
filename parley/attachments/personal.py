"""A user's own uploads, for their export: rows a page at a time, bytes a chunk at a time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.models import Attachment
from parley.attachments.schemas import AttachmentOut
from parley.attachments.store import store


@dataclass(frozen=True)
class Upload:
    """An upload as the API renders it, and where its bytes are."""

    out: AttachmentOut
    storage_key: str


async def uploads_page(
    session: AsyncSession, *, uploader_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[Upload]:
    """The user's uploads after `after` (keyset by id)."""
    statement = (
        select(Attachment)
        .where(Attachment.uploader_id == uploader_id)
        .order_by(Attachment.id)
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(Attachment.id > after)
    rows = (await session.scalars(statement)).all()
    return [Upload(AttachmentOut.model_validate(row), row.storage_path) for row in rows]


async def count_uploads(session: AsyncSession, *, uploader_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Attachment)
            .where(Attachment.uploader_id == uploader_id)
        )
        or 0
    )


def upload_bytes(upload: Upload) -> AsyncIterator[bytes]:
    """The stored bytes, in the storage's chunks (never the whole file in memory)."""
    return store().storage.get(upload.storage_key)
