"""Keeping unsent uploads from the orphan sweep while a scheduled message waits to carry
them (the sweep removes uploads no message carries once they are ORPHAN_UPLOAD_HOURS old)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.models import Attachment

# Past its time, a scheduled message has been sent (its uploads are then carried) or has
# failed; the margin covers retries after Retry-After before the sweep may take them.
KEEP_AFTER_DUE = timedelta(hours=1)


async def keep_for_scheduled(
    session: AsyncSession, *, attachment_ids: list[uuid.UUID], due: datetime
) -> None:
    """Keep these uploads until a little after `due`, the time of the message carrying them."""
    if not attachment_ids:
        return
    await session.execute(
        update(Attachment)
        .where(Attachment.id.in_(attachment_ids))
        .values(kept_until=due + KEEP_AFTER_DUE)
    )
