"""Reads where presence is shown: to oneself and to people who share a conversation."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.conversations import queries as conversations
from parley.core.schemas import Page
from parley.presence.schemas import FoundUser


async def find_people(
    session: AsyncSession, *, user_id: uuid.UUID, query: str, limit: int, cursor: str | None
) -> Page[FoundUser]:
    """People by username or display-name prefix; presence only of the caller and of those
    who share a conversation with them (whom `user_status_changed` reaches)."""
    found = await accounts.search_users(session, query=query, limit=limit, cursor=cursor)
    contacts = await conversations.contacts_among(
        session, user_id=user_id, others=[user.id for user in found.items if user.id != user_id]
    )
    shown = contacts | {user_id}
    return Page[FoundUser](
        items=[
            FoundUser.model_validate(
                user.model_dump()
                if user.id in shown
                else user.model_dump(exclude={"status", "last_seen_at"})
            )
            for user in found.items
        ],
        next_cursor=found.next_cursor,
    )
