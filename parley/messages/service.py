"""Messages: the send pipeline, reads, edits, deletes, reactions, threads and forwards.

Only this module and `committer.py` write the message tables. New messages go through the
committer (group commit); edits, deletes and reactions are ordinary request transactions.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.attachments.models import Attachment
from parley.audit import service as audit
from parley.conversations import service as conversations
from parley.conversations.permissions import (
    Action,
    ConversationStatus,
    Membership,
    ParticipantStatus,
    may_read_held,
    outranks,
)
from parley.core import runtime
from parley.core.db import statement_counter, utcnow
from parley.core.errors import (
    AppError,
    CommitFailed,
    Conflict,
    ConversationNotFound,
    ConversationReadOnly,
    MessageDeleted,
    MessageNotFound,
    MessagePending,
    MessageTooLong,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from parley.core.events import conversation_room, emit, emit_after_commit, user_room
from parley.core.pagination import decode_seq_cursor, encode_seq_cursor
from parley.messages import extract, idempotency
from parley.messages.committer import Committer, PendingSend
from parley.messages.models import Hashtag, Mention, Message, MessageVersion, Reaction
from parley.messages.schemas import (
    SERVER_ONLY_TYPES,
    ForwardResult,
    MessageConfirmedEvent,
    MessageCreate,
    MessageEvent,
    MessageFailedEvent,
    MessageHistory,
    MessageOut,
    MessagePage,
    MessageStatus,
    MessageType,
    MessageVersionOut,
    ReactionEvent,
    ReactionOut,
    ReactionSummary,
    ThreadPage,
)
from parley.moderation import screening
from parley.ratelimit.service import limiter as rate_limits


class SendOutcome(IntEnum):
    """How a send was answered; the value is the HTTP status."""

    STORED_BEFORE = 200  # the same clientMessageId was already committed
    COMMITTED = 201  # wait=true, committed now
    ACCEPTED = 202  # optimistic: queued for the durable commit


# ---------------------------------------------------------------- rendering


def message_out(
    values: Mapping[str, Any], reactions: dict[str, ReactionSummary] | None = None
) -> MessageOut:
    """A message as clients see it; a deleted one keeps its place but not its content."""
    deleted = values["deleted_at"] is not None
    return MessageOut(
        id=values["id"],
        conversation_id=values["conversation_id"],
        sender_id=values["sender_id"],
        seq=values.get("seq"),
        type=values["type"],
        content=None if deleted else values["content"],
        status=MessageStatus.DELETED if deleted else values["status"],
        reply_to_id=values["reply_to_id"],
        thread_id=values["thread_id"],
        forwarded_from_id=values["forwarded_from_id"],
        attachments=[] if deleted else list(values["attachments"] or []),
        metadata={} if deleted else dict(values["metadata"] or {}),
        reactions={} if deleted else (reactions or {}),
        client_message_id=values["client_message_id"],
        client_timestamp=values["client_timestamp"],
        server_timestamp=values["server_timestamp"],
        edited_at=values["edited_at"],
        deleted_at=values["deleted_at"],
        encrypted=values["encrypted"],
        version=values["version"],
    )


def _pending_out(pending: PendingSend) -> MessageOut:
    if pending.result is not None:
        return pending.result
    out = message_out(pending.row | {"seq": None})
    if pending.error is not None:
        code, text = pending.error
        return out.model_copy(
            update={"status": MessageStatus.FAILED, "failure": {"code": code, "message": text}}
        )
    return out.model_copy(update={"status": MessageStatus.PENDING})


async def _reactions_for(
    session: AsyncSession, message_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, ReactionSummary]]:
    if not message_ids:
        return {}
    rows = await session.execute(
        select(Reaction.message_id, Reaction.emoji, Reaction.user_id)
        .where(Reaction.message_id.in_(message_ids))
        .order_by(Reaction.created_at, Reaction.id)
    )
    grouped: dict[uuid.UUID, dict[str, list[uuid.UUID]]] = {}
    for message_id, emoji, user_id in rows:
        grouped.setdefault(message_id, {}).setdefault(emoji, []).append(user_id)
    return {
        message_id: {
            emoji: ReactionSummary(count=len(users), user_ids=users)
            for emoji, users in by_emoji.items()
        }
        for message_id, by_emoji in grouped.items()
    }


def withheld(out: MessageOut) -> MessageOut:
    """A held message as members other than its sender and the reviewers see it."""
    return out.model_copy(update={"content": None, "attachments": [], "metadata": {}})


def _as_seen_by(out: MessageOut, viewer: Membership | None) -> MessageOut:
    if out.status != MessageStatus.MODERATED or viewer is None:
        return out
    return out if may_read_held(viewer.role, viewer.user_id, out.sender_id) else withheld(out)


async def _render(
    session: AsyncSession, messages: list[Message], viewer: Membership | None = None
) -> list[MessageOut]:
    """Messages with their reactions; a held one without content unless `viewer` may read it."""
    reactions = await _reactions_for(session, [m.id for m in messages if m.deleted_at is None])
    return [
        _as_seen_by(message_out(m.column_values(), reactions.get(m.id)), viewer) for m in messages
    ]


# ---------------------------------------------------------------- committer wiring


def committer() -> Committer:
    instance = runtime.current().committer
    if instance is None:
        raise ServiceUnavailable("The message committer is not running")
    return instance


def make_committer() -> Committer:
    """The process's committer, with the after-commit events wired in."""
    instance = Committer(runtime.current().db, message_out)
    instance.on_committed(_publish_commit_result)
    return instance


async def _publish_commit_result(pending: PendingSend) -> None:
    sender_room = user_room(pending.row["sender_id"])
    client_id = pending.row.get("client_message_id")
    if pending.result is not None:
        # A duplicate was committed (and announced) by another instance: confirm it only.
        verdict = None if pending.duplicate else pending.screening
        if not pending.duplicate:
            held = verdict is not None and verdict.held
            await emit(
                "new_message",
                MessageEvent(message=withheld(pending.result) if held else pending.result),
                rooms=[conversation_room(pending.row["conversation_id"])],
            )
        await emit(
            "message_confirmed",
            MessageConfirmedEvent(client_message_id=client_id, message=pending.result),
            rooms=[sender_room],
        )
        if verdict is not None:
            await screening.announce(pending.result, verdict)
    elif pending.error is not None:
        code, text = pending.error
        await emit(
            "message_failed",
            MessageFailedEvent(
                client_message_id=client_id,
                message_id=pending.id,
                error={"code": code, "message": text},
            ),
            rooms=[sender_room],
        )


# ---------------------------------------------------------------- sending


def _checked_content(content: str | None, *, has_attachments: bool) -> str | None:
    limit = runtime.current().settings.max_message_length
    if content is not None and len(content) > limit:
        raise MessageTooLong(
            f"The message is longer than {limit} characters", maxLength=limit, length=len(content)
        )
    if (content is None or not content.strip()) and not has_attachments:
        raise ValidationFailed("A message needs content or attachments", field="content")
    return content


def _require_may_send(membership: Membership, message_type: MessageType) -> None:
    if membership.may_send:
        if message_type == MessageType.ANNOUNCEMENT and not membership.may(
            Action.DELETE_OTHERS_MESSAGES
        ):
            raise PermissionDenied("Only moderators and above may post announcements")
        return
    if membership.conversation_status == ConversationStatus.ARCHIVED:
        raise ConversationReadOnly("The conversation is archived")
    if membership.status == ParticipantStatus.MUTED:
        raise PermissionDenied("You are muted in this conversation", reason="MUTED")
    if not membership.flag("canSendMessages"):
        raise PermissionDenied("You may not send messages here", flag="canSendMessages")
    raise PermissionDenied(
        "Only moderators and above may write while the conversation is muted",
        reason="CONVERSATION_MUTED",
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


async def _attachment_records(
    session: AsyncSession, *, uploader_id: uuid.UUID, attachment_ids: list[uuid.UUID]
) -> list[dict[str, Any]]:
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
        {
            "id": str(a.id),
            "name": a.name,
            "mimeType": a.mime_type,
            "size": a.size,
            "sha256": a.sha256,
        }
        for a in (found[aid] for aid in attachment_ids)
    ]


def _new_row(
    *,
    sender_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_type: MessageType,
    content: str | None,
    encrypted: bool,
    client_message_id: str | None = None,
    client_timestamp: Any = None,
    reply_to_id: uuid.UUID | None = None,
    thread_id: uuid.UUID | None = None,
    forwarded_from_id: uuid.UUID | None = None,
    attachments: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    held: bool = False,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "conversation_id": conversation_id,
        "sender_id": sender_id,
        "type": str(message_type),
        "content": content,
        "status": str(MessageStatus.MODERATED if held else MessageStatus.SENT),
        "reply_to_id": reply_to_id,
        "thread_id": thread_id,
        "forwarded_from_id": forwarded_from_id,
        "attachments": attachments or [],
        # Encrypted content is opaque: nothing is extracted from it.
        "metadata": metadata
        if metadata is not None
        else extract.metadata_for(None if encrypted else content),
        "client_message_id": client_message_id,
        "client_timestamp": client_timestamp,
        "server_timestamp": utcnow(),
        "edited_at": None,
        "deleted_at": None,
        "deleted_by": None,
        "encrypted": encrypted,
        "version": 1,
    }


async def _answer(pending: PendingSend, *, wait: bool) -> tuple[MessageOut, SendOutcome]:
    if not wait:
        return _pending_out(pending), SendOutcome.ACCEPTED
    await pending.done.wait()
    if pending.result is not None:
        outcome = SendOutcome.STORED_BEFORE if pending.duplicate else SendOutcome.COMMITTED
        return pending.result, outcome
    code, text = pending.error or ("COMMIT_FAILED", "The message could not be stored")
    error: AppError
    if code == "CONVERSATION_NOT_FOUND":
        error = ConversationNotFound(text)
    elif code == "SERVICE_UNAVAILABLE":
        error = ServiceUnavailable(text)
    else:
        error = CommitFailed(text)
    error.details["messageId"] = str(pending.id)
    raise error


# Past this many accepted-but-unwritten sends, new ones are refused (503, Retry-After) rather
# than promised: a 202 is a promise to try, and the queue must stay a moment long, not minutes.
MAX_BACKLOG = 20_000


def _submit(row: dict[str, Any], verdict: screening.Verdict | None = None) -> PendingSend:
    if committer().backlog >= MAX_BACKLOG:
        raise ServiceUnavailable(
            "Too many messages are waiting to be stored: try again shortly",
            retryAfterSeconds=1,
        )
    metadata = row["metadata"]
    pending = PendingSend(
        row=row,
        mention_usernames=list(metadata.get("mentions", [])),
        hashtags=list(metadata.get("hashtags", [])),
        counter=statement_counter.get(),
        screening=verdict,
    )
    committer().submit(pending)
    return pending


async def send_message(
    *, sender_id: uuid.UUID, data: MessageCreate, wait: bool
) -> tuple[MessageOut, SendOutcome]:
    """Validate, check access, answer at once; the committer makes it durable.

    The same sender + clientMessageId always yields the same message: a pending one from the
    process's map, a committed one from the unique index.
    """
    content = _checked_content(data.content, has_attachments=bool(data.attachments))
    if data.scheduled_at is not None:
        raise ValidationFailed("Scheduled messages are not available yet", field="scheduledAt")
    if data.type in SERVER_ONLY_TYPES:
        raise ValidationFailed(f"Clients may not send {data.type} messages", field="type")
    client_id = data.client_message_id
    key = (str(sender_id), client_id) if client_id else None
    if key is not None and (pending := committer().by_key.get(key)) is not None:
        return await _answer(pending, wait=wait)

    # A short session of its own: nothing is held while the commit is awaited.
    async with runtime.current().db.sessions() as session:
        membership = await conversations.get_membership(
            session, conversation_id=data.conversation_id, user_id=sender_id
        )
        message_type = data.type or (MessageType.REPLY if data.reply_to_id else MessageType.TEXT)
        _require_may_send(membership, message_type)
        if key is not None and await idempotency.may_be_committed(sender_id, key[1]):
            stored = await session.scalar(
                select(Message).where(
                    Message.sender_id == sender_id, Message.client_message_id == client_id
                )
            )
            if stored is not None:
                if stored.conversation_id != data.conversation_id:
                    raise Conflict(
                        "This clientMessageId was used for another conversation",
                        clientMessageId=client_id,
                    )
                return (await _render(session, [stored]))[0], SendOutcome.STORED_BEFORE
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
        attachments = await _attachment_records(
            session, uploader_id=sender_id, attachment_ids=data.attachments
        )

    # Counted only for a new message: a retry of one already committed costs nothing.
    await rate_limits().check_send(
        user_id=sender_id, conversation_id=data.conversation_id, per_minute=membership.rate_limit
    )
    verdict = await screening.screen(content, membership=membership, encrypted=data.encrypted)

    # Re-check after the awaits above (no await from here to the submit): a concurrent retry
    # may have registered meanwhile, or committed between our lookup and now.
    if key is not None:
        if (pending := committer().by_key.get(key)) is not None:
            return await _answer(pending, wait=wait)
        if (recent := committer().recent.get(key)) is not None:
            if recent.conversation_id != data.conversation_id:
                raise Conflict(
                    "This clientMessageId was used for another conversation",
                    clientMessageId=client_id,
                )
            return recent, SendOutcome.STORED_BEFORE
    row = _new_row(
        sender_id=sender_id,
        conversation_id=data.conversation_id,
        message_type=message_type,
        content=content,
        encrypted=data.encrypted,
        client_message_id=client_id,
        client_timestamp=data.client_timestamp,
        reply_to_id=reply_to_id,
        thread_id=thread_id,
        attachments=attachments,
        held=verdict is not None and verdict.held,
    )
    return await _answer(_submit(row, verdict), wait=wait)


async def forward_message(
    *, user_id: uuid.UUID, message_id: uuid.UUID, conversation_ids: list[uuid.UUID], wait: bool
) -> ForwardResult:
    """Copy a message the caller can read into other conversations they may write to."""
    targets = list(dict.fromkeys(conversation_ids))
    memberships: list[Membership] = []
    async with runtime.current().db.sessions() as session:
        source, source_membership = await _load_visible(
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
            membership = await conversations.get_membership(
                session, conversation_id=conversation_id, user_id=user_id
            )
            _require_may_send(membership, MessageType.FORWARD)
            memberships.append(membership)
        metadata = dict(source.extra or {})
        metadata.pop("mentionedUserIds", None)
        metadata["forwardedFrom"] = {
            "messageId": str(source.id),
            "conversationId": str(source.conversation_id),
            "senderId": str(source.sender_id) if source.sender_id else None,
        }
    submitted = []
    for membership in memberships:
        conversation_id = uuid.UUID(membership.conversation_id)
        await rate_limits().check_send(
            user_id=user_id, conversation_id=conversation_id, per_minute=membership.rate_limit
        )
        verdict = await screening.screen(
            source.content, membership=membership, encrypted=source.encrypted
        )
        row = _new_row(
            sender_id=user_id,
            conversation_id=conversation_id,
            message_type=MessageType.FORWARD,
            content=source.content,
            encrypted=source.encrypted,
            forwarded_from_id=source.id,
            attachments=list(source.attachments or []),
            metadata=dict(metadata),
            held=verdict is not None and verdict.held,
        )
        submitted.append(_submit(row, verdict))
    return ForwardResult(items=[(await _answer(p, wait=wait))[0] for p in submitted])


# ---------------------------------------------------------------- reading


async def _load_visible(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, for_update: bool = False
) -> tuple[Message, Membership]:
    """A committed message the caller may read; pending ones answer MESSAGE_PENDING."""
    statement = select(Message).where(Message.id == message_id)
    if for_update:
        statement = statement.with_for_update()
    message = await session.scalar(statement)
    if message is None:
        pending = runtime.current().committer
        owner_pending = pending.by_id.get(message_id) if pending else None
        if owner_pending is not None and owner_pending.row["sender_id"] == user_id:
            raise MessagePending(messageId=str(message_id))
        raise MessageNotFound(messageId=str(message_id))
    try:
        membership = await conversations.get_membership(
            session, conversation_id=message.conversation_id, user_id=user_id
        )
    except ConversationNotFound:
        raise MessageNotFound(messageId=str(message_id)) from None
    return message, membership


async def get_message(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID
) -> MessageOut:
    """One message the caller may read; their own pending or failed sends too."""
    message = await session.get(Message, message_id)
    if message is None:
        instance = committer()
        pending = instance.by_id.get(message_id) or instance.failed.get(message_id)
        if pending is not None and pending.row["sender_id"] == user_id:
            return _pending_out(pending)
        raise MessageNotFound(messageId=str(message_id))
    try:
        membership = await conversations.get_membership(
            session, conversation_id=message.conversation_id, user_id=user_id
        )
    except ConversationNotFound:
        raise MessageNotFound(messageId=str(message_id)) from None
    out = (await _render(session, [message], membership))[0]
    if membership.read_receipts and message.deleted_at is None:
        out.delivery_tracker = await conversations.delivery_tracker(
            session,
            conversation_id=message.conversation_id,
            seq=message.seq,
            sender_id=message.sender_id,
        )
    return out


async def list_messages(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    limit: int,
    before: str | None,
    after: str | None,
    after_seq: int | None,
) -> MessagePage:
    """Newest first (`before` pages back); with `afterSeq`/`after`, ascending for catch-up."""
    membership = await conversations.get_membership(
        session, conversation_id=conversation_id, user_id=user_id
    )
    if after is not None:
        after_seq = decode_seq_cursor(after, "after")
    statement = select(Message).where(Message.conversation_id == conversation_id).limit(limit + 1)
    if after_seq is not None:
        statement = statement.where(Message.seq > after_seq).order_by(Message.seq)
    else:
        statement = statement.order_by(Message.seq.desc())
        if before is not None:
            statement = statement.where(Message.seq < decode_seq_cursor(before, "before"))
    messages = list((await session.scalars(statement)).all())
    more = len(messages) > limit
    messages = messages[:limit]
    return MessagePage(
        items=await _render(session, messages, membership),
        next_cursor=encode_seq_cursor(messages[-1].seq) if more else None,
        has_more=more,
    )


async def get_history(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID
) -> MessageHistory:
    """Every version of a message, oldest first; the current text is the last."""
    message, membership = await _load_visible(session, user_id=user_id, message_id=message_id)
    if message.deleted_at is not None or (
        message.status == MessageStatus.MODERATED
        and not may_read_held(membership.role, membership.user_id, message.sender_id)
    ):
        return MessageHistory(message_id=message.id, items=[])
    versions = (
        await session.scalars(
            select(MessageVersion)
            .where(MessageVersion.message_id == message_id)
            .order_by(MessageVersion.version)
        )
    ).all()
    items = [
        MessageVersionOut(version=v.version, content=v.content, created_at=v.created_at)
        for v in versions
    ]
    items.append(
        MessageVersionOut(
            version=message.version,
            content=message.content,
            created_at=message.edited_at or message.server_timestamp,
            current=True,
        )
    )
    return MessageHistory(message_id=message.id, items=items)


async def get_thread(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    limit: int,
    after: str | None,
) -> ThreadPage:
    """A thread's root and its replies in order (asking with a reply gives its thread)."""
    root, membership = await _load_visible(session, user_id=user_id, message_id=message_id)
    if root.thread_id is not None:
        root, _ = await _load_visible(session, user_id=user_id, message_id=root.thread_id)
    statement = (
        select(Message).where(Message.thread_id == root.id).order_by(Message.seq).limit(limit + 1)
    )
    if after is not None:
        statement = statement.where(Message.seq > decode_seq_cursor(after, "after"))
    replies = list((await session.scalars(statement)).all())
    more = len(replies) > limit
    replies = replies[:limit]
    rendered = await _render(session, [root, *replies], membership)
    return ThreadPage(
        root=rendered[0],
        items=rendered[1:],
        next_cursor=encode_seq_cursor(replies[-1].seq) if more else None,
        has_more=more,
    )


# ---------------------------------------------------------------- changing


async def _replace_index_rows(session: AsyncSession, message: Message) -> None:
    await session.execute(delete(Mention).where(Mention.message_id == message.id))
    await session.execute(delete(Hashtag).where(Hashtag.message_id == message.id))
    metadata = message.extra or {}
    user_ids = await accounts.find_user_ids_by_usernames(
        session, usernames=metadata.get("mentions", [])
    )
    resolved = [user_ids[name] for name in metadata.get("mentions", []) if name in user_ids]
    if resolved:
        metadata["mentionedUserIds"] = [str(uid) for uid in resolved]
    session.add_all(
        Mention(message_id=message.id, conversation_id=message.conversation_id, user_id=uid)
        for uid in resolved
    )
    session.add_all(
        Hashtag(message_id=message.id, conversation_id=message.conversation_id, tag=tag)
        for tag in metadata.get("hashtags", [])
    )


async def edit_message(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, content: str
) -> MessageOut:
    """The sender rewrites a message; the earlier text is kept as a version."""
    message, membership = await _load_visible(
        session, user_id=user_id, message_id=message_id, for_update=True
    )
    if message.sender_id != user_id:
        raise PermissionDenied("Only the sender may edit a message")
    if message.deleted_at is not None:
        raise MessageDeleted()
    if membership.status != ParticipantStatus.ACTIVE:
        raise PermissionDenied("You are muted in this conversation", reason="MUTED")
    checked = _checked_content(content, has_attachments=bool(message.attachments))
    verdict = await screening.screen(checked, membership=membership, encrypted=message.encrypted)
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
    # A held message stays held whatever the new text: a reviewer releases it.
    held = message.status == MessageStatus.MODERATED or (verdict is not None and verdict.held)
    message.status = MessageStatus.MODERATED if held else MessageStatus.EDITED
    metadata = extract.metadata_for(None if message.encrypted else checked)
    if "forwardedFrom" in (message.extra or {}):
        metadata["forwardedFrom"] = message.extra["forwardedFrom"]
    message.extra = metadata
    await _replace_index_rows(session, message)
    await session.flush()
    out = (await _render(session, [message]))[0]
    if verdict is not None:
        await screening.add_to_queue(
            await session.connection(),
            [
                screening.queue_row(
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
        await screening.announce_after_commit(session, out, verdict)
    emit_after_commit(
        session,
        "message_updated",
        MessageEvent(message=withheld(out) if held else out),
        rooms=[conversation_room(message.conversation_id)],
    )
    return out


async def apply_review(
    session: AsyncSession, *, message_id: uuid.UUID, reviewer_id: uuid.UUID, approve: bool
) -> None:
    """A reviewer's decision on a flagged message: approval releases a held one to everyone,
    rejection removes the message (soft delete). Called by moderation/service.py."""
    message = await session.scalar(
        select(Message).where(Message.id == message_id).with_for_update()
    )
    if message is None or message.deleted_at is not None:
        return
    room = [conversation_room(message.conversation_id)]
    if approve:
        if message.status != MessageStatus.MODERATED:
            return
        message.status = MessageStatus.EDITED if message.version > 1 else MessageStatus.SENT
        await session.flush()
        out = (await _render(session, [message]))[0]
        emit_after_commit(session, "message_updated", MessageEvent(message=out), rooms=room)
        return
    message.deleted_at = utcnow()
    message.deleted_by = reviewer_id
    message.status = MessageStatus.DELETED
    await session.flush()
    out = message_out(message.column_values())
    emit_after_commit(session, "message_deleted", MessageEvent(message=out), rooms=room)


async def delete_message(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID
) -> MessageOut:
    """Soft delete by the sender, or by a moderator or above over lower roles."""
    message, membership = await _load_visible(
        session, user_id=user_id, message_id=message_id, for_update=True
    )
    if message.deleted_at is not None:
        return (await _render(session, [message]))[0]
    by_sender = message.sender_id == user_id
    if not by_sender:
        if not membership.may(Action.DELETE_OTHERS_MESSAGES):
            raise PermissionDenied(
                "Only moderators and above may delete others' messages",
                action=str(Action.DELETE_OTHERS_MESSAGES),
            )
        sender_role = await conversations.get_active_role(
            session, conversation_id=message.conversation_id, user_id=message.sender_id
        )
        if sender_role is not None and not outranks(membership.role, sender_role):
            raise PermissionDenied(
                "You may only delete messages of lower roles", senderRole=str(sender_role)
            )
    now = utcnow()
    message.deleted_at = now
    message.deleted_by = user_id
    message.status = MessageStatus.DELETED
    audit.record(
        session,
        actor_id=user_id,
        action="message.deleted",
        conversation_id=message.conversation_id,
        message_id=message.id,
        target_user_id=message.sender_id,
        details={"bySender": by_sender},
    )
    await session.flush()
    out = message_out(message.column_values())
    emit_after_commit(
        session,
        "message_deleted",
        MessageEvent(message=out),
        rooms=[conversation_room(message.conversation_id)],
    )
    return out


def _checked_emoji(emoji: str) -> str:
    value = emoji.strip()
    if (
        not value
        or len(value) > 32
        or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value)
    ):
        raise ValidationFailed("emoji must be 1-32 characters without spaces", field="emoji")
    return value


async def _reaction_target(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    message, membership = await _load_visible(session, user_id=user_id, message_id=message_id)
    if message.deleted_at is not None:
        raise MessageDeleted()
    if membership.status != ParticipantStatus.ACTIVE or not membership.flag("canReact"):
        raise PermissionDenied("You may not react here", flag="canReact")
    if membership.conversation_status == ConversationStatus.ARCHIVED:
        raise ConversationReadOnly("The conversation is archived")
    return message


async def _reaction_out(
    session: AsyncSession, *, message: Message, emoji: str, user_id: uuid.UUID
) -> ReactionOut:
    reactions = (await _reactions_for(session, [message.id])).get(message.id, {})
    summary = reactions.get(emoji)
    return ReactionOut(
        message_id=message.id,
        emoji=emoji,
        user_id=user_id,
        count=summary.count if summary else 0,
        reactions=reactions,
    )


async def add_reaction(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, emoji: str
) -> ReactionOut:
    """React once per emoji; reacting again changes nothing."""
    value = _checked_emoji(emoji)
    message = await _reaction_target(session, user_id=user_id, message_id=message_id)
    exists = await session.scalar(
        select(func.count())
        .select_from(Reaction)
        .where(
            Reaction.message_id == message.id, Reaction.user_id == user_id, Reaction.emoji == value
        )
    )
    added = False
    if not exists:
        try:
            async with session.begin_nested():
                session.add(Reaction(message_id=message.id, user_id=user_id, emoji=value))
            added = True
        except IntegrityError:
            pass  # the same reaction raced in: the result is the same
    out = await _reaction_out(session, message=message, emoji=value, user_id=user_id)
    if added:
        emit_after_commit(
            session,
            "reaction_added",
            ReactionEvent(message_id=message.id, emoji=value, user_id=user_id, count=out.count),
            rooms=[conversation_room(message.conversation_id)],
        )
    return out


async def remove_reaction(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, emoji: str
) -> ReactionOut:
    """Take one's own reaction back; removing one that is not there changes nothing."""
    value = _checked_emoji(emoji)
    message, _ = await _load_visible(session, user_id=user_id, message_id=message_id)
    result = await session.execute(
        delete(Reaction).where(
            Reaction.message_id == message.id, Reaction.user_id == user_id, Reaction.emoji == value
        )
    )
    out = await _reaction_out(session, message=message, emoji=value, user_id=user_id)
    if getattr(result, "rowcount", 0):
        emit_after_commit(
            session,
            "reaction_removed",
            ReactionEvent(message_id=message.id, emoji=value, user_id=user_id, count=out.count),
            rooms=[conversation_room(message.conversation_id)],
        )
    return out
