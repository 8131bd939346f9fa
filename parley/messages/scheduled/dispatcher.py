"""The dispatcher: at its time each scheduled message goes through the ordinary send action
(`send_message`, so the gate, rate limits, screening, `seq` and events are the same as for a
send), exactly once across instances and restarts.

- Claim: one statement, `UPDATE ... SET status = 'SENDING', claimed_until = now + lease
  WHERE id IN (SELECT ... due ... FOR UPDATE SKIP LOCKED) RETURNING ...`. On PostgreSQL the
  row locks split due rows between instances (a row another instance holds is skipped, one it
  has claimed no longer matches); SQLite has one writer, so the guarded update is enough.
- Lease: a claim by an instance that dies is claimed again once `claimed_until` passes.
- Idempotency: the send's clientMessageId is fixed per scheduled message (its own, or
  `sched:<id>`), so a send that committed before its instance died is found by the unique
  index on (sender, clientMessageId) when claimed again, never stored twice.
- Cheap when idle: one indexed read of the next due time, then a sleep until it (capped, so a
  message scheduled on another instance is seen within the cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from parley.core.db import Database, utcnow
from parley.core.errors import AppError, RateLimited, ServiceUnavailable
from parley.core.events import emit, user_room
from parley.messages.actions.send import send_message
from parley.messages.events import MESSAGE_FAILED
from parley.messages.models import ScheduledMessage
from parley.messages.scheduled.schemas import ScheduledStatus, as_utc
from parley.messages.schemas import MessageCreate, MessageFailedEvent, MessageType

log = logging.getLogger(__name__)

# The longest sleep between looks at the table: bounds the delay for a message scheduled on
# another instance (or changed to an earlier time) to this, within the 1 s promise.
POLL_CAP_SECONDS = 0.25
# How long a claim holds: a send that outlives it may be claimed again (harmless: the
# clientMessageId makes the second attempt find the first).
LEASE_SECONDS = 30.0
# Due rows claimed per statement.
BATCH = 100
# Transient refusals (rate limit, backpressure) are retried this many times, then FAILED.
MAX_ATTEMPTS = 5


def send_client_id(row: ScheduledMessage) -> str:
    """The clientMessageId the send uses: fixed per scheduled message (the idempotency key)."""
    return row.client_message_id or f"sched:{row.id}"


class ScheduledDispatcher:
    """The background task, started and stopped by the app's lifespan (every instance)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.instance = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parley-scheduled-dispatcher")

    async def stop(self) -> None:
        """Stop polling; sends in flight are cancelled (their lease lets another try)."""
        tasks = [t for t in (self._task, *self._sends) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                wait = await self.dispatch_due()
            except Exception:
                log.exception("scheduled message dispatch failed")
                wait = 1.0
            await asyncio.sleep(wait)

    async def dispatch_due(self) -> float:
        """Claim and start sending what is due; the seconds to sleep before the next look."""
        now = utcnow()
        async with self._db.reads() as session:
            next_due, next_expiry = (
                await session.execute(
                    select(
                        select(func.min(ScheduledMessage.scheduled_at))
                        .where(ScheduledMessage.status == str(ScheduledStatus.SCHEDULED))
                        .scalar_subquery(),
                        select(func.min(ScheduledMessage.claimed_until))
                        .where(ScheduledMessage.status == str(ScheduledStatus.SENDING))
                        .scalar_subquery(),
                    )
                )
            ).one()
        upcoming = [as_utc(t) for t in (next_due, next_expiry) if t is not None]
        if not upcoming or min(upcoming) > now:
            return _until(min(upcoming), now) if upcoming else POLL_CAP_SECONDS
        rows = await self._claim(now)
        for row in rows:
            task = asyncio.create_task(self._send(row), name="parley-scheduled-send")
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return 0.0 if len(rows) == BATCH else POLL_CAP_SECONDS / 5

    async def _claim(self, now: datetime) -> list[ScheduledMessage]:
        due = (
            select(ScheduledMessage.id)
            .where(
                or_(
                    and_(
                        ScheduledMessage.status == str(ScheduledStatus.SCHEDULED),
                        ScheduledMessage.scheduled_at <= now,
                    ),
                    and_(
                        ScheduledMessage.status == str(ScheduledStatus.SENDING),
                        ScheduledMessage.claimed_until < now,
                    ),
                )
            )
            .order_by(ScheduledMessage.scheduled_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        async with self._db.unit_of_work() as session:
            rows = (
                await session.scalars(
                    update(ScheduledMessage)
                    .where(ScheduledMessage.id.in_(due.scalar_subquery()))
                    .values(
                        status=str(ScheduledStatus.SENDING),
                        claimed_by=self.instance,
                        claimed_until=now + timedelta(seconds=LEASE_SECONDS),
                        attempts=ScheduledMessage.attempts + 1,
                        updated_at=now,
                    )
                    .returning(ScheduledMessage)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            session.expunge_all()
        return list(rows)

    async def _send(self, row: ScheduledMessage) -> None:
        client_id = send_client_id(row)
        data = MessageCreate(
            conversation_id=row.conversation_id,
            content=row.content,
            type=MessageType(row.type) if row.type else None,
            client_message_id=client_id,
            reply_to_id=row.reply_to_id,
            thread_id=row.thread_id,
            attachments=[uuid.UUID(str(a)) for a in row.attachments or []],
            encrypted=row.encrypted,
        )
        try:
            message, _ = await send_message(sender_id=row.sender_id, data=data, wait=True)
        except (RateLimited, ServiceUnavailable) as error:
            if row.attempts < MAX_ATTEMPTS:
                retry = float(error.details.get("retryAfterSeconds") or 1)
                await self._finish(row, claimed_until=utcnow() + timedelta(seconds=retry))
                return
            await self._fail(row, client_id, error)
        except AppError as error:
            await self._fail(row, client_id, error)
        except Exception:
            # Unexpected: the lease runs out and another look retries it, up to MAX_ATTEMPTS.
            log.exception("scheduled message send failed", extra={"scheduledId": str(row.id)})
            if row.attempts >= MAX_ATTEMPTS:
                await self._fail(row, client_id, ServiceUnavailable("Could not send it"))
        else:
            await self._finish(
                row,
                status=str(ScheduledStatus.SENT),
                sent_message_id=message.id,
                claimed_until=None,
            )

    async def _fail(self, row: ScheduledMessage, client_id: str, error: AppError) -> None:
        """FAILED, and `message_failed` to the sender's sockets (after the row is marked)."""
        if await self._finish(
            row, status=str(ScheduledStatus.FAILED), error_code=str(error.code), claimed_until=None
        ):
            await emit(
                MESSAGE_FAILED,
                MessageFailedEvent(
                    client_message_id=client_id,
                    message_id=None,
                    error={"code": str(error.code), "message": error.message},
                    scheduled_message_id=row.id,
                ),
                rooms=[user_room(row.sender_id)],
            )

    async def _finish(self, row: ScheduledMessage, **values: object) -> bool:
        """Record the outcome while the claim is still ours (the lease may have passed to
        another instance, which then records it)."""
        async with self._db.unit_of_work() as session:
            changed = await session.scalar(
                update(ScheduledMessage)
                .where(
                    ScheduledMessage.id == row.id,
                    ScheduledMessage.status == str(ScheduledStatus.SENDING),
                    ScheduledMessage.claimed_by == self.instance,
                )
                .values(**values, updated_at=utcnow())
                .returning(ScheduledMessage.id)
                .execution_options(synchronize_session=False)
            )
        return changed is not None


def _until(at: datetime, now: datetime) -> float:
    return max(0.0, min(POLL_CAP_SECONDS, (at - now).total_seconds()))
