"""The background retention job, started and stopped by the app's lifespan like the orphan
sweep: every instance runs the loop, the lease lets one of them work at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from parley.attachments.storage import Storage
from parley.core.config import Settings
from parley.core.db import Database, utcnow
from parley.retention.lease import Lease
from parley.retention.run import LEASE_NAME, LeaseLost, run_once

log = logging.getLogger(__name__)

# A holder that dies frees the job after this long; a live one renews before every batch.
LEASE_TTL_SECONDS = 300.0


class RetentionJob:
    def __init__(self, db: Database, storage: Storage, settings: Settings) -> None:
        self._db = db
        self._storage = storage
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parley-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        interval = self._settings.retention_interval_seconds
        while True:
            # First one interval after start: a rolling restart does not run it N times.
            await asyncio.sleep(interval)
            lease = Lease(self._db, LEASE_NAME, ttl_seconds=LEASE_TTL_SECONDS)
            try:
                summary = await run_once(
                    self._db,
                    self._storage,
                    now=utcnow(),
                    global_days=self._settings.retention_days,
                    lease=lease,
                )
                if summary.messages:
                    log.info(
                        "retention applied",
                        extra={
                            "conversations": summary.conversations,
                            "messages": summary.messages,
                        },
                    )
            except LeaseLost:
                log.warning("retention lease lost; another instance goes on")
            except Exception:
                log.exception("retention run failed")
