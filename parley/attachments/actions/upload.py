"""Uploading a file: streamed from the request to storage, measured and hashed on the way,
typed from its bytes. Nothing is kept of an upload that fails (too large, malformed, a
refused conversation)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.form import FormReader
from parley.attachments.models import Attachment
from parley.attachments.schemas import AttachmentOut
from parley.attachments.sniff import HEAD_BYTES, clean_filename, image_size, sniff_type
from parley.attachments.store import store
from parley.conversations import access
from parley.core import runtime
from parley.core.db import after_rollback, new_id, utcnow
from parley.core.errors import FileTooLarge, PermissionDenied, ValidationFailed
from parley.ratelimit.service import limiter as rate_limits


class _Meter:
    """Size, digest and the first HEAD_BYTES of the bytes that pass; FILE_TOO_LARGE past the
    limit, raised inside the stream so storage drops what it has."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()
        self.head = bytearray()

    async def measure(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                raise FileTooLarge(
                    f"The file is larger than {self.limit} bytes", maxBytes=self.limit
                )
            self.digest.update(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            yield chunk


def storage_key(attachment_id: uuid.UUID) -> str:
    """Fanned out by the id's first byte: no folder grows past a few thousand files."""
    return f"{attachment_id.hex[:2]}/{attachment_id.hex}"


async def upload_attachment(
    session: AsyncSession,
    *,
    uploader_id: uuid.UUID,
    content_type: str | None,
    body: AsyncIterator[bytes],
) -> AttachmentOut:
    """Count the upload (UPLOADS per hour), stream the `file` part to storage, then record
    it; with a `conversationId` field, the uploader must hold canUploadFiles there."""
    await rate_limits().check_upload(user_id=uploader_id)
    form = FormReader(content_type, body)
    settings = runtime.current().settings
    storage = store().storage
    attachment_id = new_id()
    key = storage_key(attachment_id)
    meter = _Meter(settings.max_file_size_bytes)
    await storage.put(key, meter.measure(form.file_chunks()))
    try:
        await form.finish()
        await _require_may_upload(session, uploader_id, form.fields.get("conversationId"))
        mime_type = sniff_type(bytes(meter.head))
        dimensions = image_size(bytes(meter.head), mime_type)
        attachment = Attachment(
            id=attachment_id,
            uploader_id=uploader_id,
            name=clean_filename(form.filename),
            mime_type=mime_type,
            size=meter.size,
            sha256=meter.digest.hexdigest(),
            storage_path=key,
            created_at=utcnow(),
            width=dimensions[0] if dimensions else None,
            height=dimensions[1] if dimensions else None,
        )
        session.add(attachment)
        await session.flush()
    except BaseException:
        await storage.delete(key)
        raise
    # The row commits with the request; if that commit fails, the bytes go too (the orphan
    # sweep works from rows and would never find them).
    after_rollback(session, lambda: storage.delete(key))
    return AttachmentOut.model_validate(attachment)


async def _require_may_upload(
    session: AsyncSession, uploader_id: uuid.UUID, conversation_id: str | None
) -> None:
    """An upload named for a conversation: a member there with canUploadFiles (404 for
    others: the conversation's existence is not revealed)."""
    if conversation_id is None:
        return
    try:
        target = uuid.UUID(conversation_id.strip())
    except ValueError:
        raise ValidationFailed("conversationId is not an id", field="conversationId") from None
    membership = await access.get_membership(session, conversation_id=target, user_id=uploader_id)
    if not membership.flag("canUploadFiles"):
        raise PermissionDenied("You may not share files here", flag="canUploadFiles")
