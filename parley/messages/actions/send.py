"""Sending and forwarding: both build a new message and pass the same acceptance step
(`_accept`: the gate's rate limits and screening, then the committer), which answers at once;
the committer makes it durable and announces it.

The same sender + clientMessageId always yields the same message: a pending one from the
process's map, a committed one from the unique index.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.queries import owned_attachments
from parley.conversations import access
from parley.conversations.permissions import Membership, may_read_held
from parley.core import runtime
from parley.core.db import utcnow
from parley.core.errors import (
    Conflict,
    MessageDeleted,
    MessageNotFound,
    PermissionDenied,
    ValidationFailed,
)
from parley.messages import extract, idempotency
from parley.messages.backpressure import Room
from parley.messages.committer import MessageRow, PendingSend
from parley.messages.gate import admit, checked_content, require_envelope_policy, require_may_send
from parley.messages.models import Message
from parley.messages.pipeline import SendOutcome, answer, committer, room_to_send, submit
from parley.messages.queries import load_visible
from parley.messages.render import render
from parley.messages.schemas import (
    FILE_TYPES,
    SERVER_ONLY_TYPES,
    ForwardResult,
    MessageCreate,
    MessageOut,
    MessageStatus,
    MessageType,
)
from parley.screening.screen import Verdict


async def send_message(
    *, sender_id: uuid.UUID, data: MessageCreate, wait: bool
) -> tuple[MessageOut, SendOutcome]:
    """Validate, check access, answer at once; the committer makes it durable."""
    content = checked_content(data.content, has_attachments=bool(data.attachments))
    if data.scheduled_at is not None:
        # Scheduling is messages/scheduled/actions.py; its dispatcher sends without scheduledAt.
        raise ValidationFailed("A scheduled message is not sent directly", field="scheduledAt")
    if data.type in SERVER_ONLY_TYPES:
        raise ValidationFailed(f"Clients may not send {data.type} messages", field="type")
    if data.type in FILE_TYPES and not data.attachments:
        raise ValidationFailed(f"A {data.type} message carries attachments", field="attachments")
    client_id = data.client_message_id
    key = (str(sender_id), client_id) if client_id else None
    if key is not None and (pending := committer().by_key.get(key)) is not None:
        return await answer(pending, wait=wait)

    # A short session of its own: nothing is held while the commit is awaited.
    async with runtime.current().db.reads() as session:
        # The idempotency ledger's key is read with the membership: one cache round trip.
        ledger_key = idempotency.ledger_key(sender_id, key[1]) if key is not None else None
        membership, ledger = await access.get_membership_and(
            session,
            conversation_id=data.conversation_id,
            user_id=sender_id,
            also=[ledger_key] if ledger_key is not None else [],
        )
        message_type = data.type or (MessageType.REPLY if data.reply_to_id else MessageType.TEXT)
        require_may_send(membership, message_type)
        require_envelope_policy(membership, encrypted=data.encrypted, content=content)
        if key is not None and idempotency.may_be_committed(
            ledger[0] if ledger else None, key=ledger_key
        ):
            stored = await session.scalar(
                select(Message).where(
                    Message.sender_id == sender_id, Message.client_message_id == client_id
                )
            )
            if stored is not None:
                _require_same_conversation(stored.conversation_id, data, client_id)
                return (await render(session, [stored]))[0], SendOutcome.STORED_BEFORE
        reply_to_id = thread_id = None
        if data.reply_to_id is not None:
            reply_to_id, _ = await _reference(
                session,
                conversation_id=data.conversation_id,
                message_id=data.reply_to_id,
                field="replyToId",
            )
        if data.thread_id is not None:
            root_id, root_thread = await _reference(
                session,
                conversation_id=data.conversation_id,
                message_id=data.thread_id,
                field="threadId",
            )
            thread_id = root_thread or root_id  # a reply inside a thread joins its root
        if data.attachments and not membership.flag("canUploadFiles"):
            raise PermissionDenied("You may not share files here", flag="canUploadFiles")
        attachments = await owned_attachments(
            session, uploader_id=sender_id, attachment_ids=data.attachments
        )

    # Backpressure: the ack waits here while the pipeline is behind (503 past the wait), before
    # the gate, so a refused send is neither counted by the rate limits nor screened.
    async with room_to_send() as room:
        verdict = await admit(
            sender_id=sender_id, membership=membership, content=content, encrypted=data.encrypted
        )
        # Re-check after the awaits above (no await from here to the submit): a concurrent
        # retry may have registered meanwhile, or committed between our lookup and now.
        pending = committer().by_key.get(key) if key is not None else None
        recent = committer().recent.get(key) if key is not None and pending is None else None
        if recent is not None:
            _require_same_conversation(recent.conversation_id, data, client_id)
            return recent, SendOutcome.STORED_BEFORE
        if pending is None:
            row = new_row(
                sender_id=sender_id,
                conversation_id=data.conversation_id,
                message_type=message_type,
                content=content,
                encrypted=data.encrypted,
                client_message_id=client_id,
                client_timestamp=data.client_timestamp,
                reply_to_id=reply_to_id,
                thread_id=thread_id,
                attachments=[dict(a) for a in attachments],
            )
            pending = _accept(row, verdict, room)
    return await answer(pending, wait=wait)


async def forward_message(
    *,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    conversation_ids: list[uuid.UUID],
    wait: bool,
    idempotency_key: str | None = None,
) -> ForwardResult:
    """Copy a message the caller can read (flag canForwardMessages) into other conversations
    they may write to.

    With an `idempotency_key`, each copy's id and clientMessageId derive from the key, the
    source and the target, so a retry (on any instance, before or after the commit) gets the
    same copies: pending ones from the committer's map, stored ones from the unique index on
    (sender, clientMessageId), which also keeps racing instances from storing one twice.
    """
    targets = list(dict.fromkeys(conversation_ids))
    memberships: list[Membership] = []
    async with runtime.current().db.reads() as session:
        source, source_membership = await load_visible(
            session, user_id=user_id, message_id=message_id
        )
        if source.deleted_at is not None:
            raise MessageDeleted()
        if source.status == MessageStatus.MODERATED and not may_read_held(
            source_membership.role, source_membership.user_id, source.sender_id
        ):
            raise PermissionDenied("The message is held for review", reason="HELD_FOR_REVIEW")
        if not source_membership.flag("canForwardMessages"):
            raise PermissionDenied(
                "You may not forward messages from here", flag="canForwardMessages"
            )
        for conversation_id in targets:
            membership = await access.get_membership(
                session, conversation_id=conversation_id, user_id=user_id
            )
            require_may_send(membership, MessageType.FORWARD)
            require_envelope_policy(membership, encrypted=source.encrypted, content=source.content)
            if source.attachments and not membership.flag("canUploadFiles"):
                raise PermissionDenied("You may not share files there", flag="canUploadFiles")
            memberships.append(membership)
        metadata = dict(source.extra or {})
        metadata.pop("mentionedUserIds", None)
        metadata["forwardedFrom"] = {
            "messageId": str(source.id),
            "conversationId": str(source.conversation_id),
            "senderId": str(source.sender_id) if source.sender_id else None,
        }
        copies = {
            uuid.UUID(m.conversation_id): _forward_copy(
                idempotency_key, user_id=user_id, source_id=source.id, target=m.conversation_id
            )
            for m in memberships
        }
        stored = await _stored_copies(session, user_id=user_id, copies=copies)
    submitted: list[PendingSend | MessageOut] = []
    for membership in memberships:
        target = uuid.UUID(membership.conversation_id)
        copy_id, client_id = copies[target]
        if (known := _known_copy(user_id, client_id, stored)) is not None:
            submitted.append(known)  # a retry: neither counted nor screened again
            continue
        async with room_to_send() as room:  # backpressure, as for a send
            verdict = await admit(
                sender_id=user_id,
                membership=membership,
                content=source.content,
                encrypted=source.encrypted,
            )
            if (known := _known_copy(user_id, client_id, stored)) is not None:
                submitted.append(known)  # a concurrent retry got through the awaits first
                continue
            row = new_row(
                sender_id=user_id,
                conversation_id=target,
                message_type=MessageType.FORWARD,
                content=source.content,
                encrypted=source.encrypted,
                client_message_id=client_id,
                forwarded_from_id=source.id,
                attachments=list(source.attachments or []),
                metadata=dict(metadata),
            )
            if copy_id is not None:
                row["id"] = copy_id
            submitted.append(_accept(row, verdict, room))
    items = [
        item if isinstance(item, MessageOut) else (await answer(item, wait=wait))[0]
        for item in submitted
    ]
    return ForwardResult(items=items)


def _forward_copy(
    key: str | None, *, user_id: uuid.UUID, source_id: uuid.UUID, target: str
) -> tuple[uuid.UUID | None, str | None]:
    """(id, clientMessageId) of a keyed forward's copy into `target`; (None, None) unkeyed."""
    if key is None:
        return None, None
    name = f"{user_id}\n{key}\n{source_id}\n{target}"
    return uuid.uuid5(_FORWARD_NAMESPACE, name), "fwd:" + hashlib.sha256(name.encode()).hexdigest()


_FORWARD_NAMESPACE = uuid.UUID("6f2b8a52-0c1e-4b8e-9a57-2f5d0d7c1e43")


async def _stored_copies(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    copies: dict[uuid.UUID, tuple[uuid.UUID | None, str | None]],
) -> dict[str, MessageOut]:
    """The keyed copies already committed, by clientMessageId (one query, keyed forwards only)."""
    client_ids = [client_id for _, client_id in copies.values() if client_id is not None]
    if not client_ids:
        return {}
    rows = (
        await session.scalars(
            select(Message).where(
                Message.sender_id == user_id, Message.client_message_id.in_(client_ids)
            )
        )
    ).all()
    rendered = await render(session, list(rows))
    return {str(out.client_message_id): out for out in rendered}


def _known_copy(
    user_id: uuid.UUID, client_id: str | None, stored: dict[str, MessageOut]
) -> PendingSend | MessageOut | None:
    """A keyed copy accepted before: pending in this process, or committed."""
    if client_id is None:
        return None
    key = (str(user_id), client_id)
    return committer().by_key.get(key) or committer().recent.get(key) or stored.get(client_id)


def _accept(row: MessageRow, verdict: Verdict | None, room: Room) -> PendingSend:
    """The step send and forward share once `room_to_send` has given room and the gate has
    passed: a held text is stored as MODERATED, and the row goes to the committer."""
    if verdict is not None and verdict.held:
        row["status"] = str(MessageStatus.MODERATED)
    return submit(row, verdict, room)


def new_row(
    *,
    sender_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_type: MessageType,
    content: str | None,
    encrypted: bool,
    client_message_id: str | None = None,
    client_timestamp: datetime | None = None,
    reply_to_id: uuid.UUID | None = None,
    thread_id: uuid.UUID | None = None,
    forwarded_from_id: uuid.UUID | None = None,
    attachments: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> MessageRow:
    return MessageRow(
        id=uuid.uuid4(),
        conversation_id=conversation_id,
        sender_id=sender_id,
        type=str(message_type),
        content=content,
        status=str(MessageStatus.SENT),
        reply_to_id=reply_to_id,
        thread_id=thread_id,
        forwarded_from_id=forwarded_from_id,
        attachments=attachments or [],
        # Encrypted content is opaque: nothing is extracted from it.
        metadata=metadata
        if metadata is not None
        else extract.metadata_for(None if encrypted else content),
        client_message_id=client_message_id,
        client_timestamp=client_timestamp,
        server_timestamp=utcnow(),
        edited_at=None,
        deleted_at=None,
        deleted_by=None,
        encrypted=encrypted,
        version=1,
    )


def _require_same_conversation(
    stored_in: uuid.UUID, data: MessageCreate, client_id: str | None
) -> None:
    if stored_in != data.conversation_id:
        raise Conflict(
            "This clientMessageId was used for another conversation", clientMessageId=client_id
        )


async def _reference(
    session: AsyncSession, *, conversation_id: uuid.UUID, message_id: uuid.UUID, field: str
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """(id, thread_id) of a message a new one replies to: committed or still pending."""
    row = (
        await session.execute(
            select(Message.conversation_id, Message.thread_id, Message.deleted_at).where(
                Message.id == message_id
            )
        )
    ).first()
    if row is None:
        pending = committer().by_id.get(message_id)
        if pending is None or pending.row["conversation_id"] != conversation_id:
            raise MessageNotFound(
                f"{field} does not name a message of this conversation", field=field
            )
        return message_id, pending.row["thread_id"]
    if row[0] != conversation_id:
        raise MessageNotFound(f"{field} does not name a message of this conversation", field=field)
    if row[2] is not None:
        raise MessageDeleted(f"{field} names a deleted message", field=field)
    return message_id, row[1]
