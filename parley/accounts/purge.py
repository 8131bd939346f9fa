"""The hourly purge of the deny-list's expired database rows (each token refresh adds one),
started and stopped by the app's lifespan like the retention job. Every instance runs it:
the DELETE is idempotent and cheap on its index."""

from __future__ import annotations

import logging

from parley.accounts.deny_list import purge_expired_revocations
from parley.core.db import Database, utcnow
from parley.core.periodic import Periodic

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


class RevocationPurge(Periodic):
    def __init__(self, db: Database) -> None:
        async def purge() -> None:
            async with db.unit_of_work() as session:
                await purge_expired_revocations(session, now=utcnow())

        # At start too: a process that was down for a day finds a day's rows.
        super().__init__(
            "parley-revocation-purge",
            purge,
            interval=PURGE_INTERVAL_SECONDS,
            log=log,
            failure="revoked token purge failed",
        )
