"""Link previews on a message: stored in its metadata once found (previews/ fetches them)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.events import conversation_room, emit_after_commit
from parley.messages.events import MESSAGE_UPDATED
from parley.messages.models import Message
from parley.messages.render import render
from parley.messages.schemas import LinkPreview, MessageEvent, MessageStatus


async def set_url_previews(
    session: AsyncSession, *, message_id: uuid.UUID, previews: list[LinkPreview]
) -> bool:
    """Store the previews of a message's links as `metadata.urlPreviews` (in the order of its
    `urls`, only for links it still has) and push `message_updated` to its room. A preview
    is not an edit: `editedAt`, `status` and `version` stay. Nothing is written for a message
    deleted, held or encrypted meanwhile, or when nothing changes; returns whether written."""
    message = await session.scalar(
        select(Message).where(Message.id == message_id).with_for_update()
    )
    if (
        message is None
        or message.deleted_at is not None
        or message.encrypted
        or message.status == MessageStatus.MODERATED
    ):
        return False
    metadata = dict(message.extra or {})
    by_url = {preview.url: preview for preview in previews}
    stored = [
        by_url[url].model_dump(mode="json", by_alias=True)
        for url in metadata.get("urls", [])
        if url in by_url
    ]
    if stored == metadata.get("urlPreviews", []):
        return False
    message.extra = {**metadata, "urlPreviews": stored}
    await session.flush()
    out = (await render(session, [message]))[0]
    emit_after_commit(
        session,
        MESSAGE_UPDATED,
        MessageEvent(message=out),
        rooms=[conversation_room(message.conversation_id)],
    )
    return True
