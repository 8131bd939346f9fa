"""Erasing a user's words from the moderation queue (GDPR erasure)."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.screening.models import ModerationItem


async def erase_texts_of(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Clear the flagged text (and matched terms) of the user's messages and the notes of
    their reports; the items stay, so the decisions taken on them keep their record."""
    await session.execute(
        update(ModerationItem)
        .where(ModerationItem.sender_id == user_id)
        .values(content=None, terms=[], note=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(ModerationItem)
        .where(ModerationItem.reporter_id == user_id)
        .values(report_note=None)
        .execution_options(synchronize_session=False)
    )
