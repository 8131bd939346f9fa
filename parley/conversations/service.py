"""Conversations and their participants: the only writer of both tables.

The message committer moves the counters and the sender's read pointer through
`advance_counters` and `move_read_pointers`, inside its own batch transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.accounts.models import User
from parley.accounts.schemas import UserOut
from parley.audit import service as audit
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import (
    PERMISSION_FLAGS,
    RANK,
    VISIBLE_STATUSES,
    Action,
    ConversationStatus,
    ConversationType,
    Membership,
    ParticipantStatus,
    Role,
    effective_permissions,
    may_read_held,
    outranks,
    roles_allowed,
)
from parley.conversations.schemas import (
    ConversationCreate,
    ConversationEvent,
    ConversationOut,
    ConversationSettings,
    ConversationUpdate,
    DeliveryStatusEvent,
    LastMessageOut,
    ParticipantEvent,
    ParticipantOut,
    ParticipantUpdate,
    ReadReceiptEvent,
)
from parley.core import runtime
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow
from parley.core.errors import (
    Conflict,
    ConversationNotFound,
    InvalidParticipants,
    MessageNotFound,
    OwnerMustTransfer,
    ParticipantBanned,
    ParticipantNotFound,
    PermissionDenied,
    ValidationFailed,
)
from parley.core.events import conversation_room, emit_after_commit, user_room
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.core.schemas import Page, iso_z

DEFAULT_SETTINGS: dict[str, bool] = ConversationSettings().model_dump(by_alias=True)


# ---------------------------------------------------------------- access (cached)


def _conversation_key(conversation_id: uuid.UUID | str) -> str:
    return f"conversation:{conversation_id}"


def _member_key(conversation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> str:
    return f"member:{conversation_id}:{user_id}"


async def get_membership(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> Membership:
    """The caller's membership; CONVERSATION_NOT_FOUND unless they are an active member.

    Served from the cache (two keys, one round trip); the session is used only on a miss.
    """
    rt = runtime.current()
    conversation_key, member_key = (
        _conversation_key(conversation_id),
        _member_key(conversation_id, user_id),
    )
    cached_conversation, cached_member = await rt.cache.get_many([conversation_key, member_key])
    if cached_conversation is None or cached_member is None:
        row = (
            await session.execute(
                select(
                    Conversation.type,
                    Conversation.status,
                    Conversation.rate_limit,
                    Participant.role,
                    Participant.status,
                    Participant.permissions,
                    Conversation.settings,
                )
                .select_from(Conversation)
                .outerjoin(
                    Participant,
                    and_(
                        Participant.conversation_id == Conversation.id,
                        Participant.user_id == user_id,
                    ),
                )
                .where(Conversation.id == conversation_id)
            )
        ).first()
        if row is None:
            raise ConversationNotFound(conversationId=str(conversation_id))
        cached_conversation = {
            "type": row[0],
            "status": row[1],
            "rateLimit": row[2],
            "settings": {**DEFAULT_SETTINGS, **(row[6] or {})},
        }
        cached_member = {"role": row[3], "status": row[4], "permissions": row[5] or {}}
        ttl = rt.settings.cache_ttl_seconds
        await rt.cache.set_many(
            {conversation_key: cached_conversation, member_key: cached_member}, ttl
        )
    if (
        cached_member["status"] not in VISIBLE_STATUSES
        or cached_conversation["status"] == ConversationStatus.DELETED
    ):
        raise ConversationNotFound(conversationId=str(conversation_id))
    settings = cached_conversation.get("settings") or DEFAULT_SETTINGS
    return Membership(
        conversation_id=str(conversation_id),
        user_id=str(user_id),
        conversation_type=ConversationType(cached_conversation["type"]),
        conversation_status=ConversationStatus(cached_conversation["status"]),
        rate_limit=cached_conversation["rateLimit"],
        role=Role(cached_member["role"]),
        status=ParticipantStatus(cached_member["status"]),
        permission_overrides=cached_member["permissions"],
        typing_indicators=bool(settings.get("typingIndicators", True)),
        read_receipts=bool(settings.get("readReceipts", True)),
        moderation=bool(settings.get("moderation", True)),
    )


async def active_conversation_ids(session: AsyncSession, *, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The conversations whose events a user's sockets hear (active or muted membership)."""
    rows = await session.scalars(
        select(Participant.conversation_id)
        .join(Conversation, Conversation.id == Participant.conversation_id)
        .where(
            Participant.user_id == user_id,
            Participant.status.in_(list(VISIBLE_STATUSES)),
            Conversation.status != ConversationStatus.DELETED,
        )
    )
    return list(rows.all())


def _is_reviewer() -> ColumnElement[bool]:
    """An active member who reviews flagged content (moderator and above)."""
    return and_(
        Participant.status == ParticipantStatus.ACTIVE,
        Participant.role.in_([str(r) for r in roles_allowed(Action.REVIEW_FLAGGED_CONTENT)]),
    )


async def reviewer_ids(session: AsyncSession, *, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    """The members who review flagged content here."""
    rows = await session.scalars(
        select(Participant.user_id).where(
            Participant.conversation_id == conversation_id, _is_reviewer()
        )
    )
    return list(rows.all())


def reviewed_conversations(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """The conversations a user reviews flagged content in, as a subquery for other domains."""
    return select(Participant.conversation_id).where(Participant.user_id == user_id, _is_reviewer())


async def get_active_role(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID | None
) -> Role | None:
    """The role of a current member, or None for someone who is no longer one."""
    if user_id is None:
        return None
    row = (
        await session.execute(
            select(Participant.role, Participant.status).where(
                Participant.conversation_id == conversation_id, Participant.user_id == user_id
            )
        )
    ).first()
    if row is None or row[1] not in VISIBLE_STATUSES:
        return None
    return Role(row[0])


# ---------------------------------------------------------------- rendering


def _effective_rate_limit(conversation: Conversation) -> int:
    return conversation.rate_limit or runtime.current().settings.rate_limit_messages


def _conversation_out(
    conversation: Conversation,
    participant: Participant | None = None,
    last_message: Any | None = None,
) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        type=ConversationType(conversation.type),
        name=conversation.name,
        description=conversation.description,
        status=ConversationStatus(conversation.status),
        message_count=conversation.message_count,
        last_seq=conversation.last_seq,
        last_message_id=conversation.last_message_id,
        last_activity_at=conversation.last_activity_at,
        settings={**DEFAULT_SETTINGS, **(conversation.settings or {})},
        rate_limit=_effective_rate_limit(conversation),
        created_by=conversation.created_by,
        created_at=conversation.created_at,
        my_role=Role(participant.role) if participant else None,
        unread_count=max(0, conversation.last_seq - participant.read_seq) if participant else 0,
        last_message=_preview(last_message, participant),
    )


def _preview(message: Any | None, participant: Participant | None) -> LastMessageOut | None:
    """The list's preview of the newest message: no text once deleted, nor while held for
    review, except for its sender and the reviewers."""
    if message is None:
        return None
    preview = LastMessageOut.model_validate(message)
    hidden = message.deleted_at is not None or (
        message.status == "MODERATED"
        and (
            participant is None
            or not may_read_held(Role(participant.role), participant.user_id, message.sender_id)
        )
    )
    return preview.model_copy(update={"content": None}) if hidden else preview


def _participant_out(
    participant: Participant, last_seq: int, user: User | None = None
) -> ParticipantOut:
    role = Role(participant.role)
    return ParticipantOut(
        id=participant.id,
        conversation_id=participant.conversation_id,
        user_id=participant.user_id,
        role=role,
        status=ParticipantStatus(participant.status),
        permissions=effective_permissions(role, participant.permissions or {}),
        last_read_at=participant.last_read_at,
        last_read_message_id=participant.last_read_message_id,
        read_seq=participant.read_seq,
        delivered_seq=participant.delivered_seq,
        unread_count=max(0, last_seq - participant.read_seq),
        notification_settings=participant.notification_settings or {},
        joined_at=participant.joined_at,
        user=UserOut.model_validate(user) if user else None,
    )


# ---------------------------------------------------------------- conversations


def _direct_key(first: uuid.UUID, second: uuid.UUID) -> str:
    low, high = sorted((str(first), str(second)))
    return f"{low}:{high}"


async def create_conversation(
    session: AsyncSession, *, creator_id: uuid.UUID, data: ConversationCreate
) -> tuple[ConversationOut, bool]:
    """Create a conversation with its creator as owner; a DIRECT pair is created only once.

    Returns the conversation and whether it was created (False: the existing DIRECT one).
    """
    others = list(dict.fromkeys(uid for uid in data.participant_ids if uid != creator_id))
    if data.type == ConversationType.DIRECT and len(others) != 1:
        raise InvalidParticipants("A DIRECT conversation has exactly one other participant")
    if data.type in (ConversationType.SPACE, ConversationType.COMMUNITY) and not data.name:
        raise ValidationFailed(f"A {data.type} needs a name", field="name")
    found = await accounts.get_users_by_ids(session, user_ids=others)
    missing = sorted(set(map(str, others)) - {str(user.id) for user in found})
    if missing:
        raise InvalidParticipants("Some participants do not exist", unknownUserIds=missing)

    if data.type == ConversationType.DIRECT:
        existing = await _existing_direct(session, creator_id=creator_id, other_id=others[0])
        if existing is not None:
            return existing, False

    now = utcnow()
    settings = (data.settings or ConversationSettings()).model_dump(by_alias=True)
    conversation = Conversation(
        id=uuid.uuid4(),
        type=data.type,
        name=data.name,
        description=data.description,
        status=ConversationStatus.ACTIVE,
        settings=settings,
        rate_limit=data.rate_limit,
        created_by=creator_id,
        direct_key=_direct_key(creator_id, others[0])
        if data.type == ConversationType.DIRECT
        else None,
        last_seq=0,
        message_count=0,
        last_activity_at=now,
        created_at=now,
        updated_at=now,
    )
    creator_role = Role.MEMBER if data.type == ConversationType.DIRECT else Role.OWNER
    members = [(creator_id, creator_role)] + [(uid, Role.MEMBER) for uid in others]
    participants = [
        Participant(
            id=uuid.uuid4(),
            conversation_id=conversation.id,
            user_id=uid,
            role=role,
            status=ParticipantStatus.ACTIVE,
            permissions={},
            notification_settings={},
            joined_at=now,
            updated_at=now,
        )
        for uid, role in members
    ]
    try:
        async with session.begin_nested():
            session.add(conversation)
            await session.flush()
            session.add_all(participants)
            await session.flush()
    except IntegrityError:
        # Another request created the same DIRECT pair first: answer with that one.
        if data.type != ConversationType.DIRECT:
            raise
        existing = await _existing_direct(session, creator_id=creator_id, other_id=others[0])
        if existing is None:
            raise Conflict("The conversation could not be created: try again") from None
        return existing, False

    audit.record(
        session,
        actor_id=creator_id,
        action="conversation.created",
        conversation_id=conversation.id,
        details={"type": str(data.type)},
    )
    for participant in participants:
        audit.record(
            session,
            actor_id=creator_id,
            action="participant.added",
            conversation_id=conversation.id,
            target_user_id=participant.user_id,
            details={"role": participant.role},
        )
    invalidate_after_commit(session, *(_member_key(conversation.id, uid) for uid, _ in members))
    by_user = {user.id: user for user in found}
    for participant in participants:
        emit_after_commit(
            session,
            "participant_added",
            ParticipantEvent(
                conversation_id=conversation.id,
                participant=_participant_out(participant, 0, by_user.get(participant.user_id)),
            ),
            rooms=[user_room(participant.user_id)],
        )
    creator = next(p for p in participants if p.user_id == creator_id)
    return _conversation_out(conversation, creator), True


async def _existing_direct(
    session: AsyncSession, *, creator_id: uuid.UUID, other_id: uuid.UUID
) -> ConversationOut | None:
    row = (
        await session.execute(
            select(Conversation, Participant)
            .join(
                Participant,
                and_(
                    Participant.conversation_id == Conversation.id,
                    Participant.user_id == creator_id,
                ),
            )
            .where(Conversation.direct_key == _direct_key(creator_id, other_id))
        )
    ).first()
    if row is None:
        return None
    conversation, participant = row
    if participant.status == ParticipantStatus.LEFT:
        # Starting the chat again brings back the one who left it.
        participant.status = ParticipantStatus.ACTIVE
        participant.updated_at = utcnow()
        audit.record(
            session,
            actor_id=creator_id,
            action="participant.rejoined",
            conversation_id=conversation.id,
            target_user_id=creator_id,
        )
        invalidate_after_commit(session, _member_key(conversation.id, creator_id))
    elif participant.status not in VISIBLE_STATUSES:
        raise PermissionDenied("You can no longer write to this person here")
    return _conversation_out(conversation, participant)


async def list_conversations(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[ConversationOut]:
    """The caller's conversations, most recently active first, with unread counts."""
    from parley.messages.models import Message  # read-only join for the preview

    statement = (
        select(Conversation, Participant, Message)
        .join(Participant, Participant.conversation_id == Conversation.id)
        .outerjoin(Message, Message.id == Conversation.last_message_id)
        .where(
            Participant.user_id == user_id,
            Participant.status.in_(list(VISIBLE_STATUSES)),
            Conversation.status != ConversationStatus.DELETED,
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        statement = statement.where(
            after_time_cursor(
                cursor, Conversation.last_activity_at, Conversation.id, descending=True
            )
        )
    rows = (await session.execute(statement)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_conversation_out(conv, part, msg) for conv, part, msg in rows]
    next_cursor = None
    if more:
        last = rows[-1][0]
        next_cursor = encode_time_cursor(last.last_activity_at, last.id)
    return Page[ConversationOut](items=items, next_cursor=next_cursor)


async def _load_visible(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID, lock: bool = False
) -> tuple[Conversation, Participant]:
    statement = (
        select(Conversation, Participant)
        .join(
            Participant,
            and_(Participant.conversation_id == Conversation.id, Participant.user_id == user_id),
        )
        .where(Conversation.id == conversation_id)
    )
    if lock:
        statement = statement.with_for_update(of=Conversation)
    row = (await session.execute(statement)).first()
    if (
        row is None
        or row[1].status not in VISIBLE_STATUSES
        or row[0].status == ConversationStatus.DELETED
    ):
        raise ConversationNotFound(conversationId=str(conversation_id))
    return row[0], row[1]


async def get_conversation(
    session: AsyncSession, *, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> ConversationOut:
    """One conversation the caller belongs to (404 otherwise)."""
    from parley.messages.models import Message

    conversation, participant = await _load_visible(
        session, conversation_id=conversation_id, user_id=user_id
    )
    last_message = (
        await session.get(Message, conversation.last_message_id)
        if conversation.last_message_id
        else None
    )
    return _conversation_out(conversation, participant, last_message)


async def update_conversation(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    data: ConversationUpdate,
) -> ConversationOut:
    """Change name, description, settings, status or rate limit (admins and owner)."""
    conversation, actor = await _load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    if conversation.type != ConversationType.DIRECT and RANK[Role(actor.role)] < RANK[Role.ADMIN]:
        raise PermissionDenied(
            "Only admins and the owner may change the conversation", action=Action.EDIT_SETTINGS
        )
    changes: dict[str, Any] = {}
    fields = data.model_fields_set
    if "name" in fields:
        if data.name is None and conversation.type in (
            ConversationType.SPACE,
            ConversationType.COMMUNITY,
        ):
            raise ValidationFailed(f"A {conversation.type} needs a name", field="name")
        conversation.name = data.name
        changes["name"] = data.name
    if "description" in fields:
        conversation.description = data.description
        changes["description"] = data.description
    if "settings" in fields and data.settings is not None:
        patch = data.settings.model_dump(by_alias=True, exclude_none=True)
        conversation.settings = {**DEFAULT_SETTINGS, **(conversation.settings or {}), **patch}
        changes["settings"] = patch
    if "status" in fields:
        if data.status is None:
            raise ValidationFailed("status cannot be null", field="status")
        conversation.status = data.status
        changes["status"] = data.status
    if "rate_limit" in fields:
        conversation.rate_limit = data.rate_limit
        changes["rateLimit"] = data.rate_limit
    if changes:
        conversation.updated_at = utcnow()
        audit.record(
            session,
            actor_id=actor_id,
            action="conversation.updated",
            conversation_id=conversation.id,
            details=changes,
        )
        invalidate_after_commit(session, _conversation_key(conversation.id))
        emit_after_commit(
            session,
            "conversation_updated",
            ConversationEvent(conversation=_conversation_out(conversation)),
            rooms=[conversation_room(conversation.id)],
        )
    await session.flush()
    return _conversation_out(conversation, actor)


# ---------------------------------------------------------------- participants


def _may_grant(actor_role: Role, granted: Role) -> bool:
    return granted == Role.MEMBER or RANK[actor_role] > RANK[granted]


async def add_participants(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    role: Role,
) -> list[ParticipantOut]:
    """Add people (or bring back those who left or were removed); banned people stay out."""
    conversation, actor = await _load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    actor_membership = Role(actor.role)
    if conversation.type == ConversationType.DIRECT:
        raise InvalidParticipants("A DIRECT conversation always has exactly two participants")
    if (
        actor.status != ParticipantStatus.ACTIVE
        or not effective_permissions(actor_membership, actor.permissions or {})[
            "canAddParticipants"
        ]
    ):
        raise PermissionDenied("You may not add participants here", flag="canAddParticipants")
    if not _may_grant(actor_membership, role):
        raise PermissionDenied(f"You may not grant the role {role}", role=str(role))
    if conversation.status == ConversationStatus.ARCHIVED:
        raise Conflict("The conversation is archived")

    wanted = list(dict.fromkeys(user_ids))
    users = {user.id: user for user in await accounts.get_users_by_ids(session, user_ids=wanted)}
    missing = [str(uid) for uid in wanted if uid not in users]
    if missing:
        raise InvalidParticipants("Some users do not exist", unknownUserIds=missing)
    existing = {
        p.user_id: p
        for p in (
            await session.scalars(
                select(Participant).where(
                    Participant.conversation_id == conversation_id,
                    Participant.user_id.in_(wanted),
                )
            )
        ).all()
    }
    banned = [str(uid) for uid, p in existing.items() if p.status == ParticipantStatus.BANNED]
    if banned:
        raise ParticipantBanned(bannedUserIds=banned)

    now = utcnow()
    result: list[ParticipantOut] = []
    for uid in wanted:
        participant = existing.get(uid)
        if participant is not None and participant.status in VISIBLE_STATUSES:
            result.append(_participant_out(participant, conversation.last_seq, users[uid]))
            continue
        if participant is None:
            participant = Participant(
                id=uuid.uuid4(),
                conversation_id=conversation_id,
                user_id=uid,
                permissions={},
                notification_settings={},
                joined_at=now,
            )
            session.add(participant)
        participant.role = role
        participant.status = ParticipantStatus.ACTIVE
        # Joining is not an invitation to read the whole history as unread.
        participant.read_seq = conversation.last_seq
        participant.delivered_seq = conversation.last_seq
        participant.updated_at = now
        audit.record(
            session,
            actor_id=actor_id,
            action="participant.added",
            conversation_id=conversation_id,
            target_user_id=uid,
            details={"role": str(role)},
        )
        out = _participant_out(participant, conversation.last_seq, users[uid])
        result.append(out)
        invalidate_after_commit(session, _member_key(conversation_id, uid))
        emit_after_commit(
            session,
            "participant_added",
            ParticipantEvent(conversation_id=conversation_id, participant=out),
            rooms=[conversation_room(conversation_id), user_room(uid)],
        )
    await session.flush()
    return result


async def list_participants(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    status: ParticipantStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[ParticipantOut]:
    """Members in joining order; moderators and above may also list the banned and removed."""
    conversation, caller = await _load_visible(
        session, conversation_id=conversation_id, user_id=user_id
    )
    statement = (
        select(Participant, User)
        .join(User, User.id == Participant.user_id)
        .where(Participant.conversation_id == conversation_id)
        .order_by(Participant.joined_at, Participant.id)
        .limit(limit + 1)
    )
    if status is None:
        statement = statement.where(Participant.status.in_(list(VISIBLE_STATUSES)))
    else:
        if status not in VISIBLE_STATUSES and RANK[Role(caller.role)] < RANK[Role.MODERATOR]:
            raise PermissionDenied("Only moderators and above may list former members")
        statement = statement.where(Participant.status == status)
    if cursor is not None:
        statement = statement.where(
            after_time_cursor(cursor, Participant.joined_at, Participant.id, descending=False)
        )
    rows = (await session.execute(statement)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1][0]
        next_cursor = encode_time_cursor(last.joined_at, last.id)
    return Page[ParticipantOut](
        items=[_participant_out(p, conversation.last_seq, u) for p, u in rows],
        next_cursor=next_cursor,
    )


async def _load_target(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> Participant:
    target = await session.scalar(
        select(Participant).where(
            Participant.conversation_id == conversation_id, Participant.user_id == user_id
        )
    )
    if target is None:
        raise ParticipantNotFound(userId=str(user_id))
    return target


def _require_over(actor: Participant, target: Participant, action: Action) -> None:
    actor_role, target_role = Role(actor.role), Role(target.role)
    if RANK[actor_role] < RANK[Role.MODERATOR if action != Action.CHANGE_ROLE else Role.ADMIN]:
        raise PermissionDenied(
            f"Your role may not {action.lower().replace('_', ' ')}", action=str(action)
        )
    if not outranks(actor_role, target_role):
        raise PermissionDenied(
            "You may only act on members of a lower role",
            action=str(action),
            targetRole=str(target_role),
        )


def _record_role_change(
    session: AsyncSession,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    participant: Participant,
    new_role: Role,
) -> None:
    audit.record(
        session,
        actor_id=actor_id,
        action="participant.role_changed",
        conversation_id=conversation_id,
        target_user_id=participant.user_id,
        details={"from": participant.role, "to": str(new_role)},
    )


_STATUS_ACTION = {
    ParticipantStatus.BANNED: Action.BAN_PARTICIPANT,
    ParticipantStatus.REMOVED: Action.REMOVE_PARTICIPANT,
    ParticipantStatus.MUTED: Action.MUTE_PARTICIPANT,
}


async def update_participant(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
    data: ParticipantUpdate,
) -> ParticipantOut:
    """Change a member's role, status or permission flags, or one's own notification settings."""
    conversation, actor = await _load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    target = (
        actor
        if target_user_id == actor_id
        else await _load_target(session, conversation_id=conversation_id, user_id=target_user_id)
    )
    fields = data.model_fields_set - {"notification_settings"}
    if fields and conversation.type == ConversationType.DIRECT:
        raise PermissionDenied("Roles and statuses do not change in a DIRECT conversation")
    if "notification_settings" in data.model_fields_set:
        if target is not actor:
            raise PermissionDenied("Notification settings are each member's own")
        target.notification_settings = {
            **(target.notification_settings or {}),
            **(data.notification_settings or {}),
        }
    now = utcnow()
    removed = False
    invalidate = {_member_key(conversation_id, target.user_id)}
    if "role" in fields and data.role is not None:
        # Checked even when the role would not change: a no-op is still an act of authority.
        _require_over(actor, target, Action.CHANGE_ROLE)
        if data.role == Role.OWNER and actor.role != Role.OWNER:
            raise PermissionDenied("Only the owner may hand over ownership")
        if data.role != Role.OWNER and not _may_grant(Role(actor.role), data.role):
            raise PermissionDenied(f"You may not grant the role {data.role}")
        if data.role != target.role:
            if data.role == Role.OWNER:
                _record_role_change(session, actor_id, conversation_id, actor, Role.ADMIN)
                actor.role = Role.ADMIN
                actor.updated_at = now
                invalidate.add(_member_key(conversation_id, actor.user_id))
            _record_role_change(session, actor_id, conversation_id, target, data.role)
            target.role = data.role
    if "status" in fields and data.status is not None:
        new_status = ParticipantStatus(data.status)
        old_status = ParticipantStatus(target.status)
        if new_status == ParticipantStatus.LEFT:
            raise ValidationFailed(
                "Leave with DELETE /conversations/{id}/participants/{you}", field="status"
            )
        if new_status == ParticipantStatus.ACTIVE and old_status in (
            ParticipantStatus.LEFT,
            ParticipantStatus.REMOVED,
        ):
            raise Conflict("Add the user again with POST /conversations/{id}/participants")
        action = _STATUS_ACTION.get(new_status) or _STATUS_ACTION.get(
            old_status, Action.MUTE_PARTICIPANT
        )
        _require_over(actor, target, action)
        if new_status != old_status:
            audit.record(
                session,
                actor_id=actor_id,
                action="participant.status_changed",
                conversation_id=conversation_id,
                target_user_id=target.user_id,
                details={"from": str(old_status), "to": str(new_status)},
            )
            target.status = new_status
        removed = new_status not in VISIBLE_STATUSES
    if "permissions" in fields and data.permissions is not None:
        unknown = sorted(set(data.permissions) - set(PERMISSION_FLAGS))
        if unknown:
            raise ValidationFailed(
                "Unknown permission flags",
                unknownFlags=unknown,
                knownFlags=sorted(PERMISSION_FLAGS),
            )
        if RANK[Role(actor.role)] < RANK[Role.ADMIN] or not outranks(
            Role(actor.role), Role(target.role)
        ):
            raise PermissionDenied(
                "Only admins may change the flags of lower roles",
                action=str(Action.EDIT_PERMISSIONS),
            )
        overrides = dict(target.permissions or {})
        for flag, value in data.permissions.items():
            if value is None:
                overrides.pop(flag, None)
            else:
                overrides[flag] = value
        audit.record(
            session,
            actor_id=actor_id,
            action="participant.permissions_changed",
            conversation_id=conversation_id,
            target_user_id=target.user_id,
            details={"permissions": data.permissions},
        )
        target.permissions = overrides
    target.updated_at = now
    await session.flush()
    invalidate_after_commit(session, *invalidate)
    out = _participant_out(target, conversation.last_seq)
    if fields:
        event = "participant_removed" if removed else "participant_updated"
        emit_after_commit(
            session,
            event,
            ParticipantEvent(conversation_id=conversation_id, participant=out),
            rooms=[conversation_room(conversation_id), user_room(target.user_id)],
        )
    return out


async def remove_participant(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
) -> ParticipantOut:
    """Remove a member (moderators over lower roles), or leave when the target is oneself."""
    conversation, actor = await _load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    if target_user_id == actor_id:
        if actor.role == Role.OWNER:
            others = await session.scalar(
                select(Participant.id)
                .where(
                    Participant.conversation_id == conversation_id,
                    Participant.user_id != actor_id,
                    Participant.status.in_(list(VISIBLE_STATUSES)),
                )
                .limit(1)
            )
            if others is not None:
                raise OwnerMustTransfer()
        target, new_status, action = actor, ParticipantStatus.LEFT, "participant.left"
    else:
        if conversation.type == ConversationType.DIRECT:
            raise PermissionDenied("Nobody can be removed from a DIRECT conversation")
        target = await _load_target(
            session, conversation_id=conversation_id, user_id=target_user_id
        )
        if target.status not in VISIBLE_STATUSES:
            raise ParticipantNotFound(userId=str(target_user_id))
        _require_over(actor, target, Action.REMOVE_PARTICIPANT)
        new_status, action = ParticipantStatus.REMOVED, "participant.removed"
    target.status = new_status
    target.updated_at = utcnow()
    audit.record(
        session,
        actor_id=actor_id,
        action=action,
        conversation_id=conversation_id,
        target_user_id=target.user_id,
    )
    await session.flush()
    invalidate_after_commit(session, _member_key(conversation_id, target.user_id))
    out = _participant_out(target, conversation.last_seq)
    emit_after_commit(
        session,
        "participant_removed",
        ParticipantEvent(conversation_id=conversation_id, participant=out),
        rooms=[conversation_room(conversation_id), user_room(target.user_id)],
    )
    return out


async def mark_read(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
) -> ParticipantOut:
    """Move the caller's read pointer up to a message (never backwards): one write."""
    from parley.messages.models import Message  # read-only: the message's seq

    conversation, participant = await _load_visible(
        session, conversation_id=conversation_id, user_id=user_id
    )
    row = (
        await session.execute(
            select(Message.seq, Message.sender_id).where(
                Message.id == message_id, Message.conversation_id == conversation_id
            )
        )
    ).first()
    if row is None:
        raise MessageNotFound(messageId=str(message_id))
    seq, sender_id = row
    if seq > participant.read_seq:
        now = utcnow()
        participant.read_seq = seq
        participant.delivered_seq = max(participant.delivered_seq, seq)
        participant.last_read_message_id = message_id
        participant.last_read_at = now
        participant.updated_at = now
        await session.flush()
        if (conversation.settings or {}).get("readReceipts", True):
            emit_after_commit(
                session,
                "message_read_receipt",
                ReadReceiptEvent(
                    conversation_id=conversation_id,
                    user_id=user_id,
                    message_id=message_id,
                    read_at=now,
                ),
                rooms=[conversation_room(conversation_id)],
            )
            _tell_sender(session, message_id, sender_id, reader_id=user_id, status="READ", at=now)
    return _participant_out(participant, conversation.last_seq)


def _tell_sender(
    session: AsyncSession,
    message_id: uuid.UUID,
    sender_id: uuid.UUID | None,
    *,
    reader_id: uuid.UUID,
    status: str,
    at: Any,
) -> None:
    """`message_delivery_status` to the sender's sockets (not for one's own messages)."""
    if sender_id is not None and sender_id != reader_id:
        emit_after_commit(
            session,
            "message_delivery_status",
            DeliveryStatusEvent(message_id=message_id, user_id=reader_id, status=status, at=at),
            rooms=[user_room(sender_id)],
        )


async def mark_delivered(
    session: AsyncSession, *, user_id: uuid.UUID, message_ids: list[uuid.UUID]
) -> int:
    """The caller's client has these messages: move their delivered-up-to watermark in each
    conversation (one write per conversation, never backwards) and tell each sender.

    Messages of conversations the caller does not belong to are ignored. Returns how many of
    the messages were newly delivered.
    """
    from parley.messages.models import Message  # read-only: seq and sender

    rows = (
        await session.execute(
            select(
                Message.id,
                Message.conversation_id,
                Message.seq,
                Message.sender_id,
                Participant.delivered_seq,
                Conversation.settings,
            )
            .join(
                Participant,
                and_(
                    Participant.conversation_id == Message.conversation_id,
                    Participant.user_id == user_id,
                    Participant.status.in_(list(VISIBLE_STATUSES)),
                ),
            )
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.id.in_(list(dict.fromkeys(message_ids))))
        )
    ).all()
    newest: dict[uuid.UUID, int] = {}
    now = utcnow()
    delivered = 0
    for message_id, conversation_id, seq, sender_id, delivered_seq, settings in rows:
        if seq <= delivered_seq:
            continue
        delivered += 1
        newest[conversation_id] = max(seq, newest.get(conversation_id, 0))
        if (settings or {}).get("readReceipts", True):
            _tell_sender(
                session, message_id, sender_id, reader_id=user_id, status="DELIVERED", at=now
            )
    for conversation_id, seq in newest.items():
        await session.execute(
            update(Participant)
            .where(
                Participant.conversation_id == conversation_id,
                Participant.user_id == user_id,
                Participant.delivered_seq < seq,
            )
            .values(delivered_seq=seq)
            .execution_options(synchronize_session=False)
        )
    return delivered


TRACKER_RECIPIENTS_SHOWN = 100


async def delivery_tracker(
    session: AsyncSession, *, conversation_id: uuid.UUID, seq: int, sender_id: uuid.UUID | None
) -> dict[str, Any]:
    """Per-recipient state of one message, derived from the members' watermarks: READ when
    their read pointer reached its seq, DELIVERED when their delivered pointer did, else SENT.
    Counts cover every member; the per-recipient list shows the first 100."""
    recipients = and_(
        Participant.conversation_id == conversation_id,
        Participant.status.in_(list(VISIBLE_STATUSES)),
        Participant.user_id != sender_id if sender_id is not None else true(),
    )
    total, delivered, read = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Participant.delivered_seq >= seq, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Participant.read_seq >= seq, 1), else_=0)), 0),
            ).where(recipients)
        )
    ).one()
    rows = (
        await session.execute(
            select(
                Participant.user_id,
                Participant.delivered_seq,
                Participant.read_seq,
                Participant.last_read_at,
            )
            .where(recipients)
            .order_by(Participant.joined_at, Participant.id)
            .limit(TRACKER_RECIPIENTS_SHOWN)
        )
    ).all()
    shown: dict[str, dict[str, Any]] = {}
    for user_id, delivered_seq, read_seq, last_read_at in rows:
        if read_seq >= seq:
            shown[str(user_id)] = {
                "status": "READ",
                "readAt": iso_z(last_read_at) if last_read_at else None,
            }
        elif delivered_seq >= seq:
            shown[str(user_id)] = {"status": "DELIVERED"}
        else:
            shown[str(user_id)] = {"status": "SENT"}
    return {
        "recipients": shown,
        "summary": {"recipients": int(total), "delivered": int(delivered), "read": int(read)},
        "truncated": int(total) > len(shown),
    }


# ---------------------------------------------------------------- used by the message committer


@dataclass(frozen=True)
class ReadPointer:
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    message_id: uuid.UUID
    at: datetime


async def advance_counters(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    count: int,
    last_message_id: uuid.UUID,
    at: datetime,
) -> int | None:
    """Reserve `count` seqs (row lock orders committers); returns the new last seq."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(
            last_seq=Conversation.last_seq + count,
            message_count=Conversation.message_count + count,
            last_message_id=last_message_id,
            last_activity_at=at,
        )
        .returning(Conversation.last_seq)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


_MOVE_READ_POINTER = (
    update(Participant.__table__)  # type: ignore[arg-type]
    .where(
        Participant.__table__.c.conversation_id == bindparam("p_conversation_id"),
        Participant.__table__.c.user_id == bindparam("p_user_id"),
        Participant.__table__.c.read_seq < bindparam("p_seq"),
    )
    .values(
        read_seq=bindparam("p_seq"),
        last_read_message_id=bindparam("p_message_id"),
        last_read_at=bindparam("p_at"),
    )
)


async def move_read_pointers(session: AsyncSession, *, pointers: list[ReadPointer]) -> None:
    """Senders have read what they sent: one executemany for the whole batch."""
    if not pointers:
        return
    connection = await session.connection()
    await connection.execute(
        _MOVE_READ_POINTER,
        [
            {
                "p_conversation_id": pointer.conversation_id,
                "p_user_id": pointer.user_id,
                "p_seq": pointer.seq,
                "p_message_id": pointer.message_id,
                "p_at": pointer.at,
            }
            for pointer in pointers
        ],
    )
