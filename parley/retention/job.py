"""The background retention job, started and stopped by the app's lifespan like the orphan
sweep: every instance runs the loop, the lease lets one of them work at a time."""

from __future__ import annotations

import logging

from parley.attachments.storage import Storage
from parley.core.config import Settings
from parley.core.db import Database, utcnow
from parley.core.periodic import Periodic
from parley.retention.lease import Lease
from parley.retention.run import LEASE_NAME, LeaseLost, run_once

log = logging.getLogger(__name__)

# A holder that dies frees the job after this long; a live one renews before every batch.
LEASE_TTL_SECONDS = 300.0


class RetentionJob(Periodic):
    def __init__(self, db: Database, storage: Storage, settings: Settings) -> None:
        async def apply() -> None:
            lease = Lease(db, LEASE_NAME, ttl_seconds=LEASE_TTL_SECONDS)
            try:
                summary = await run_once(
                    db, storage, now=utcnow(), global_days=settings.retention_days, lease=lease
                )
            except LeaseLost:
                log.warning("retention lease lost; another instance goes on")
                return
            if summary.messages:
                log.info(
                    "retention applied",
                    extra={"conversations": summary.conversations, "messages": summary.messages},
                )

        interval = settings.retention_interval_seconds
        # First one interval after start: a rolling restart does not run it N times.
        super().__init__(
            "parley-retention",
            apply,
            interval=interval,
            first_delay=interval,
            log=log,
            failure="retention run failed",
        )
