"""Reads of conversations' members and watermarks (no side effects)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from parley.accounts import service as accounts
from parley.accounts.schemas import UserOut
from parley.conversations.access import load_participant, load_visible
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import (
    Action,
    ConversationStatus,
    ParticipantStatus,
    Role,
    has_role,
    sees_conversation,
    visible_statuses,
)
from parley.conversations.render import participant_out, stored_notification_settings
from parley.conversations.schemas import DeliveryStatus, NotificationSettings, ParticipantOut
from parley.core.errors import PermissionDenied
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.core.schemas import Page, iso_z


async def get_participant(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
) -> ParticipantOut:
    """One member's row (former members too) as the caller may see it."""
    conversation, caller = await load_visible(
        session, conversation_id=conversation_id, user_id=user_id
    )
    target = (
        caller
        if target_user_id == user_id
        else await load_participant(
            session, conversation_id=conversation_id, user_id=target_user_id
        )
    )
    return participant_out(target, conversation, viewer=caller)


async def list_participants(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    status: ParticipantStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[ParticipantOut]:
    """Members in joining order, as the caller may see each; LIST_FORMER_MEMBERS also lists
    the banned and removed."""
    conversation, caller = await load_visible(
        session, conversation_id=conversation_id, user_id=user_id
    )
    statement = (
        select(Participant)
        .where(Participant.conversation_id == conversation_id)
        .order_by(Participant.joined_at, Participant.id)
        .limit(limit + 1)
    )
    if status is None:
        statement = statement.where(Participant.status.in_(visible_statuses()))
    else:
        if not sees_conversation(status) and not has_role(
            Role(caller.role), Action.LIST_FORMER_MEMBERS
        ):
            raise PermissionDenied("Only moderators and above may list former members")
        statement = statement.where(Participant.status == status)
    if cursor is not None:
        statement = statement.where(
            after_time_cursor(cursor, Participant.joined_at, Participant.id, descending=False)
        )
    rows = list((await session.scalars(statement)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    users = {
        user.id: UserOut.model_validate(user)
        for user in await accounts.get_users_by_ids(session, user_ids=[p.user_id for p in rows])
    }
    return Page[ParticipantOut](
        items=[
            participant_out(p, conversation, viewer=caller, user=users.get(p.user_id)) for p in rows
        ],
        next_cursor=encode_time_cursor(rows[-1].joined_at, rows[-1].id) if more else None,
    )


async def contacts_among(
    session: AsyncSession, *, user_id: uuid.UUID, others: list[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of `others` who share a conversation with `user_id` (both members who see it):
    the people a user's presence is told to (`user_status_changed`), and whose they see."""
    if not others:
        return set()
    mine, theirs = aliased(Participant), aliased(Participant)
    rows = await session.scalars(
        select(theirs.user_id)
        .distinct()
        .join(mine, mine.conversation_id == theirs.conversation_id)
        .join(Conversation, Conversation.id == theirs.conversation_id)
        .where(
            mine.user_id == user_id,
            mine.status.in_(visible_statuses()),
            theirs.user_id.in_(others),
            theirs.status.in_(visible_statuses()),
            Conversation.status != ConversationStatus.DELETED,
        )
    )
    return set(rows.all())


TRACKER_RECIPIENTS_SHOWN = 100


async def delivery_tracker(
    session: AsyncSession, *, conversation_id: uuid.UUID, seq: int, sender_id: uuid.UUID | None
) -> dict[str, Any]:
    """Per-recipient state of one message, derived from the members' watermarks: READ when
    their read pointer reached its seq, DELIVERED when their delivered pointer did, else SENT.
    Counts cover every member; the per-recipient list shows the first 100."""
    recipients = and_(
        Participant.conversation_id == conversation_id,
        Participant.status.in_(visible_statuses()),
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
                "status": DeliveryStatus.READ,
                "readAt": iso_z(last_read_at) if last_read_at else None,
            }
        elif delivered_seq >= seq:
            shown[str(user_id)] = {"status": DeliveryStatus.DELIVERED}
        else:
            shown[str(user_id)] = {"status": DeliveryStatus.SENT}
    return {
        "recipients": shown,
        "summary": {"recipients": int(total), "delivered": int(delivered), "read": int(read)},
        "truncated": int(total) > len(shown),
    }


class NotificationCandidate(NamedTuple):
    """An active member of an active conversation, with their own notification settings."""

    conversation_id: uuid.UUID
    conversation_name: str | None
    user_id: uuid.UUID
    settings: NotificationSettings


async def notification_candidates(
    session: AsyncSession, *, conversation_ids: Iterable[uuid.UUID]
) -> list[NotificationCandidate]:
    """Who may be notified of new messages in these conversations, in one query for the
    whole batch: `ACTIVE` members (not muted, banned, gone) of `ACTIVE` conversations (a
    `MUTED`, archived or deleted conversation notifies nobody)."""
    wanted = list(set(conversation_ids))
    if not wanted:
        return []
    rows = await session.execute(
        select(
            Participant.conversation_id,
            Conversation.name,
            Participant.user_id,
            Participant.notification_settings,
        )
        .join(Conversation, Conversation.id == Participant.conversation_id)
        .where(
            Participant.conversation_id.in_(wanted),
            Participant.status == ParticipantStatus.ACTIVE,
            Conversation.status == ConversationStatus.ACTIVE,
        )
    )
    return [
        NotificationCandidate(
            conversation_id=conversation_id,
            conversation_name=name,
            user_id=user_id,
            settings=stored_notification_settings(stored),
        )
        for conversation_id, name, user_id, stored in rows
    ]


class RetentionPolicy(NamedTuple):
    conversation_id: uuid.UUID
    retention_days: int | None  # the conversation's own settings.retentionDays


async def retention_policies(
    session: AsyncSession, *, after: uuid.UUID | None, limit: int
) -> list[RetentionPolicy]:
    """A page of conversations (by id, after `after`) with their own retention setting, for
    the retention job; read in pages so the job never holds every conversation at once."""
    statement = select(Conversation.id, Conversation.settings).order_by(Conversation.id)
    if after is not None:
        statement = statement.where(Conversation.id > after)
    rows = (await session.execute(statement.limit(limit))).all()
    policies = []
    for conversation_id, settings in rows:
        days = (settings or {}).get("retentionDays")
        valid = isinstance(days, int) and not isinstance(days, bool) and days > 0
        policies.append(RetentionPolicy(conversation_id, days if valid else None))
    return policies
