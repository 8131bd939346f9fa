"""Editing a message: the sender rewrites it, the earlier text is kept as a version."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.conversations import counters
from parley.core import runtime
from parley.core.db import utcnow
from parley.core.errors import MessageDeleted, PermissionDenied
from parley.core.events import conversation_room, emit_after_commit
from parley.messages import extract, search_vector
from parley.messages.changes import EditedMessage, EditListeners
from parley.messages.events import MESSAGE_UPDATED
from parley.messages.gate import (
    admit_edit,
    checked_content,
    require_envelope_policy,
    require_may_edit,
    require_version_room,
)
from parley.messages.models import Hashtag, Mention, Message, MessageVersion
from parley.messages.pipeline import announce_flagged_after_commit
from parley.messages.queries import load_visible
from parley.messages.render import render, withheld
from parley.messages.schemas import MessageEvent, MessageOut, MessageStatus, MessageType
from parley.screening import queue


async def edit_message(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, content: str
) -> MessageOut:
    """The sender rewrites a message where they may send one of its type now (the gate), up to
    MAX_MESSAGE_VERSIONS versions and RATE_LIMIT_EDITS a minute; the earlier text is kept as a
    version. The new text is screened again; a held message stays held whatever the new text."""
    message, membership = await load_visible(
        session, user_id=user_id, message_id=message_id, for_update=True
    )
    if message.sender_id != user_id:
        raise PermissionDenied("Only the sender may edit a message")
    if message.deleted_at is not None:
        raise MessageDeleted()
    require_may_edit(membership, MessageType(message.type))
    checked = checked_content(content, has_attachments=bool(message.attachments))
    require_version_room(message.version)
    require_envelope_policy(membership, encrypted=message.encrypted, content=checked)
    verdict = await admit_edit(
        user_id=user_id, membership=membership, content=checked, encrypted=message.encrypted
    )
    now = utcnow()
    session.add(
        MessageVersion(
            message_id=message.id,
            version=message.version,
            content=message.content,
            created_at=message.edited_at or message.server_timestamp,
            replaced_at=now,
        )
    )
    message.version += 1
    message.content = checked
    message.edited_at = now
    held = message.status == MessageStatus.MODERATED or (verdict is not None and verdict.held)
    message.status = MessageStatus.MODERATED if held else MessageStatus.EDITED
    previous: dict[str, Any] = dict(message.extra or {})
    metadata: dict[str, Any] = dict(extract.metadata_for(None if message.encrypted else checked))
    if "forwardedFrom" in previous:
        metadata["forwardedFrom"] = previous["forwardedFrom"]
    # Previews of links the new text still has stay; new links get theirs after the commit.
    metadata["urlPreviews"] = [
        preview
        for preview in previous.get("urlPreviews", [])
        if preview.get("url") in metadata["urls"]
    ]
    message.extra = metadata
    await _replace_index_rows(session, message)
    await session.flush()
    await search_vector.write_vector(
        session, message_id=message.id, content=checked, encrypted=message.encrypted
    )
    out = (await render(session, [message]))[0]
    if verdict is not None:
        await queue.add_to_queue(
            await session.connection(),
            [
                queue.queue_row(
                    verdict,
                    message_id=message.id,
                    conversation_id=message.conversation_id,
                    sender_id=user_id,
                    message_version=message.version,
                    content=checked,
                    at=now,
                )
            ],
        )
        await announce_flagged_after_commit(session, out, verdict)
    emit_after_commit(
        session,
        MESSAGE_UPDATED,
        MessageEvent(message=withheld(out) if held else out),
        rooms=[conversation_room(message.conversation_id)],
    )
    listeners = runtime.current().find(EditListeners)
    if listeners is not None:
        listeners.after_commit(
            session,
            EditedMessage(
                message_id=message.id,
                conversation_id=message.conversation_id,
                urls=tuple(metadata["urls"]),
                urls_changed=metadata["urls"] != previous.get("urls", []),
                encrypted=message.encrypted,
                held=held,
            ),
        )
    return out


async def _replace_index_rows(session: AsyncSession, message: Message) -> None:
    """Mentions and hashtags follow the new text; the rows keep the message's time, so an
    edit does not move it up the mention and hashtag lists (newest first). The per-day hashtag
    counters move by the difference (-1 a dropped tag, +1 an added one) on the message's day."""
    await session.execute(delete(Mention).where(Mention.message_id == message.id))
    old_tags = set(
        (
            await session.execute(
                delete(Hashtag)
                .where(Hashtag.message_id == message.id)
                .returning(Hashtag.tag)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    metadata = message.extra or {}
    new_tags = set(metadata.get("hashtags", []))
    day = message.server_timestamp.astimezone(UTC).date()
    connection = await session.connection()
    await counters.take_back_hashtags(
        connection,
        tags=[
            counters.DailyTag(conversation_id=message.conversation_id, day=day, tag=tag)
            for tag in sorted(old_tags - new_tags)
        ],
    )
    await counters.count_hashtags(
        connection,
        tags=[
            counters.DailyTag(conversation_id=message.conversation_id, day=day, tag=tag)
            for tag in sorted(new_tags - old_tags)
        ],
    )
    user_ids = await accounts.find_user_ids_by_usernames(
        session, usernames=metadata.get("mentions", [])
    )
    resolved = [user_ids[name] for name in metadata.get("mentions", []) if name in user_ids]
    if resolved:
        metadata["mentionedUserIds"] = [str(uid) for uid in resolved]
    session.add_all(
        Mention(
            message_id=message.id,
            conversation_id=message.conversation_id,
            user_id=uid,
            created_at=message.server_timestamp,
        )
        for uid in resolved
    )
    session.add_all(
        Hashtag(
            message_id=message.id,
            conversation_id=message.conversation_id,
            tag=tag,
            created_at=message.server_timestamp,
        )
        for tag in metadata.get("hashtags", [])
    )
