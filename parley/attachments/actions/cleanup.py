"""The orphan sweep: uploads that no message carries, older than ORPHAN_UPLOAD_HOURS.

Every instance sweeps; each claims its rows with `DELETE ... RETURNING` before it touches
storage, so two instances never both own a row, and a storage delete that races another is
harmless. `parley attachments cleanup` runs one sweep from the command line."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, or_, select

from parley.attachments.models import Attachment
from parley.attachments.storage import Storage
from parley.core.db import Database, utcnow
from parley.core.periodic import Periodic

log = logging.getLogger(__name__)

BATCH = 500
# How often the sweep runs: often enough that an orphan outlives its limit by little.
SWEEP_EVERY_SECONDS = 600.0


async def remove_orphans(db: Database, storage: Storage, *, older_than_seconds: float) -> int:
    """Delete unsent uploads older than the limit, rows first (claimed with RETURNING, so
    concurrent sweeps split them), then their bytes; the number removed."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    removed = 0
    while True:
        async with db.unit_of_work() as session:
            claimed = select(Attachment.id).where(
                Attachment.message_id.is_(None),
                Attachment.created_at < cutoff,
                or_(Attachment.kept_until.is_(None), Attachment.kept_until < utcnow()),
            )
            keys = list(
                (
                    await session.scalars(
                        delete(Attachment)
                        .where(Attachment.id.in_(claimed.limit(BATCH).scalar_subquery()))
                        .returning(Attachment.storage_path)
                    )
                ).all()
            )
        for key in keys:
            try:
                await storage.delete(key)
            except Exception:
                log.exception("orphan upload bytes not removed")
        removed += len(keys)
        if len(keys) < BATCH:
            return removed


class OrphanSweeper(Periodic):
    """The background sweep, started and stopped by the app's lifespan."""

    def __init__(self, db: Database, storage: Storage, *, older_than_seconds: float) -> None:
        async def sweep() -> None:
            await remove_orphans(db, storage, older_than_seconds=older_than_seconds)

        super().__init__(
            "parley-orphan-sweep",
            sweep,
            interval=min(SWEEP_EVERY_SECONDS, older_than_seconds / 4),
            log=log,
            failure="orphan upload sweep failed",
        )
