"""Reading the audit trail (every action writes it through `core/audit.py`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.audit.schemas import AuditEntryOut
from parley.conversations import access
from parley.conversations.permissions import Action, require_role
from parley.core.audit import AuditAction, AuditEntry
from parley.core.db import Database
from parley.core.errors import ValidationFailed
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.core.schemas import Page

KNOWN_ACTIONS = frozenset(str(action) for action in AuditAction)
MAX_ACTIONS = 20


@dataclass(frozen=True)
class AuditFilters:
    """What `GET /audit` narrows to; each given filter must hold (AND)."""

    conversation_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    actions: list[str] = field(default_factory=list)
    start: datetime | None = None  # created_at at or after
    end: datetime | None = None  # created_at before


def parse_actions(raw: list[str]) -> list[str]:
    """`action=a&action=b` or `action=a,b`; VALIDATION_ERROR names an unknown one."""
    actions = sorted({part.strip() for value in raw for part in value.split(",") if part.strip()})
    unknown = [action for action in actions if action not in KNOWN_ACTIONS]
    if unknown:
        raise ValidationFailed(
            "Unknown audit action", field="action", unknownActions=unknown[:MAX_ACTIONS]
        )
    if len(actions) > MAX_ACTIONS:
        raise ValidationFailed(f"At most {MAX_ACTIONS} actions", field="action")
    return actions


def _filtered(statement: Select[AuditEntry], filters: AuditFilters) -> Select[AuditEntry]:
    if filters.start is not None and filters.end is not None and filters.start >= filters.end:
        raise ValidationFailed("from must be before to", field="from")
    if filters.conversation_id is not None:
        statement = statement.where(AuditEntry.conversation_id == filters.conversation_id)
    if filters.actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == filters.actor_id)
    if filters.actions:
        statement = statement.where(AuditEntry.action.in_(filters.actions))
    if filters.start is not None:
        statement = statement.where(AuditEntry.created_at >= filters.start)
    if filters.end is not None:
        statement = statement.where(AuditEntry.created_at < filters.end)
    return statement


async def list_entries(
    session: AsyncSession,
    *,
    caller_id: uuid.UUID,
    filters: AuditFilters,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntryOut]:
    """Newest first. A conversation's trail is for VIEW_AUDIT (owner and admins; 404 for a
    non-member); without one, callers see the entries about themselves (actor or target)."""
    statement = _filtered(
        select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()), filters
    )
    if filters.conversation_id is not None:
        membership = await access.get_membership(
            session, conversation_id=filters.conversation_id, user_id=caller_id
        )
        require_role(
            membership.role,
            Action.VIEW_AUDIT,
            "Only the owner and admins may read the audit trail",
        )
    else:
        statement = statement.where(
            or_(AuditEntry.actor_id == caller_id, AuditEntry.target_user_id == caller_id)
        )
    if cursor is not None:
        statement = statement.where(
            after_time_cursor(cursor, AuditEntry.created_at, AuditEntry.id, descending=True)
        )
    entries = list((await session.scalars(statement.limit(limit + 1))).all())
    more = len(entries) > limit
    entries = entries[:limit]
    next_cursor = encode_time_cursor(entries[-1].created_at, entries[-1].id) if more else None
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(entry) for entry in entries], next_cursor=next_cursor
    )


async def stream_entries(
    db: Database, *, since: datetime, until: datetime | None, page_size: int = 1000
) -> AsyncIterator[AuditEntryOut]:
    """Every entry in [since, until), oldest first, read page by page (each page on a
    session of its own, so neither the rows nor a transaction grow with the export)."""
    after: tuple[datetime, uuid.UUID] | None = None
    while True:
        statement = _filtered(
            select(AuditEntry).order_by(AuditEntry.created_at, AuditEntry.id),
            AuditFilters(start=since, end=until),
        )
        if after is not None:
            statement = statement.where(
                or_(
                    AuditEntry.created_at > after[0],
                    (AuditEntry.created_at == after[0]) & (AuditEntry.id > after[1]),
                )
            )
        async with db.reads() as session:
            entries = list((await session.scalars(statement.limit(page_size))).all())
        for entry in entries:
            yield AuditEntryOut.model_validate(entry)
        if len(entries) < page_size:
            return
        after = (entries[-1].created_at, entries[-1].id)
