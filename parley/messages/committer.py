"""Group commit: the one place that writes new messages.

Sends are acknowledged before they are durable; the committer drains whatever is queued and
writes it in one transaction (seq per conversation from the conversation row's counter, the
messages, counters, senders' read pointers, per-day counters, mention and hashtag rows and the
per-day hashtag counters). A lone
message commits at once; under load batches grow by themselves. A failed batch is retried
message by message, so one bad row fails alone. Events leave only after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.attachments.actions.link import AttachmentTaken, Carried, link_messages
from parley.conversations import counters
from parley.core import metrics
from parley.core.db import Database, statement_counter, utcnow
from parley.core.errors import (
    AppError,
    AttachmentAlreadySent,
    CommitFailed,
    ConversationNotFound,
    ServiceUnavailable,
)
from parley.messages import idempotency, search_vector
from parley.messages.backpressure import Backpressure
from parley.messages.models import Hashtag, Mention, Message
from parley.messages.schemas import MessageOut, MessageStatus
from parley.screening import queue
from parley.screening.screen import Verdict

log = logging.getLogger(__name__)

MAX_BATCH = 512
# Built once: every batch runs them (a statement built per batch is keyed for the compiled
# cache again each time).
_INSERT_MESSAGES = insert(Message.__table__)  # type: ignore[arg-type]
_INSERT_MENTIONS = insert(Mention.__table__)  # type: ignore[arg-type]
_INSERT_HASHTAGS = insert(Hashtag.__table__)  # type: ignore[arg-type]
FAILED_KEPT = 10_000
RECENT_KEPT = 10_000

OnCommitted = Callable[["PendingSend"], Awaitable[None]]


class MessageRow(TypedDict):
    """The column values of a new `messages` row, but its `seq` (given at commit)."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    type: str
    content: str | None
    status: str
    reply_to_id: uuid.UUID | None
    thread_id: uuid.UUID | None
    forwarded_from_id: uuid.UUID | None
    attachments: list[dict[str, Any]]
    metadata: dict[str, Any]
    client_message_id: str | None
    client_timestamp: datetime | None
    server_timestamp: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    deleted_by: uuid.UUID | None
    encrypted: bool
    version: int


def could_not_store() -> AppError:
    return CommitFailed("The message could not be stored")


@dataclass
class PendingSend:
    """One accepted send waiting for its durable commit."""

    row: MessageRow
    mention_usernames: list[str]
    hashtags: list[str]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    counter: list[int] | None = None  # the request's SQL statement counter, if counting
    seq: int | None = None  # reserved in the batch transaction; final once `result` is set
    result: MessageOut | None = None
    failure: AppError | None = None  # why it was not stored (sent as `message_failed`)
    duplicate: bool = False  # another instance committed this clientMessageId first
    screening: Verdict | None = None  # flagged by moderation: queued in the same transaction
    accepted_at: float = field(default_factory=time.perf_counter)  # for the latency metrics

    @property
    def id(self) -> uuid.UUID:
        return self.row["id"]

    def values(self) -> dict[str, Any]:
        """The row with its seq, for the insert and for rendering."""
        return {**self.row, "seq": self.seq}

    @property
    def idempotency_key(self) -> tuple[str, str] | None:
        client_id = self.row.get("client_message_id")
        return (str(self.row["sender_id"]), client_id) if client_id else None


class Committer:
    """Per-process queue and writer task for new messages."""

    def __init__(
        self,
        db: Database,
        to_out: Callable[[Mapping[str, Any]], MessageOut],
        backpressure: Backpressure,
    ) -> None:
        self._db = db
        # Told of each send accepted and of each batch announced: it bounds what is accepted
        # but not yet announced by time (`backpressure.py`).
        self.backpressure = backpressure
        self._to_out = to_out
        self._queue: asyncio.Queue[PendingSend] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._announcer: asyncio.Task[None] | None = None
        # Each batch with the seconds its commit took (the backpressure's drain measure).
        self._announcements: asyncio.Queue[tuple[list[PendingSend], float]] = asyncio.Queue()
        self._listeners: list[OnCommitted] = []
        self.by_key: dict[tuple[str, str], PendingSend] = {}
        self.by_id: dict[uuid.UUID, PendingSend] = {}
        self.failed: OrderedDict[uuid.UUID, PendingSend] = OrderedDict()
        # Recently committed sends by idempotency key: a retry that raced past the pending map
        # and the database lookup while the first send committed still finds its message here.
        self.recent: OrderedDict[tuple[str, str], MessageOut] = OrderedDict()
        self.batches = 0
        self.committed = 0

    def on_committed(self, listener: OnCommitted) -> None:
        """Called after commit (or failure) for each send: events go out from here."""
        self._listeners.append(listener)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="parley-committer")
        self._announcer = asyncio.create_task(self._announce(), name="parley-announcer")

    async def stop(self) -> None:
        """Write what is queued and announce it, then stop: an orderly shutdown loses no
        accepted message."""
        await self._queue.join()
        await self._announcements.join()
        for task in (self._task, self._announcer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @property
    def backlog(self) -> int:
        """Accepted sends not yet written."""
        return self._queue.qsize()

    def sample_metrics(self) -> None:
        """The pipeline's lag for /metrics: sends accepted and not yet committed, and the
        age of the oldest (`by_id` keeps acceptance order)."""
        metrics.PIPELINE_BACKLOG.set(len(self.by_id))
        oldest = next(iter(self.by_id.values()), None)
        metrics.PIPELINE_OLDEST_SECONDS.set(
            0.0 if oldest is None else time.perf_counter() - oldest.accepted_at
        )

    def submit(self, pending: PendingSend) -> None:
        key = pending.idempotency_key
        if key is not None:
            self.by_key[key] = pending
        self.by_id[pending.id] = pending
        self.backpressure.accepted(pending.id)
        self._queue.put_nowait(pending)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            started = time.monotonic()
            try:
                await self._commit(batch)
            except Exception:  # never let the writer die
                log.exception("committer batch crashed")
                for pending in batch:
                    if pending.result is None and pending.failure is None:
                        pending.failure = could_not_store()
            finally:
                await self._finish(batch, time.monotonic() - started)
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[PendingSend]) -> None:
        cell = [0]
        token = statement_counter.set(cell)
        try:
            try:
                await self._write(batch)
            except SQLAlchemyError as error:
                if len(batch) == 1:
                    await self._resolve_single_failure(batch[0], error)
                else:
                    log.warning(
                        "batch of %d failed, retrying one by one: %s",
                        len(batch),
                        describe_error(error),
                    )
                    for pending in batch:
                        try:
                            await self._write([pending])
                        except SQLAlchemyError as single_error:
                            await self._resolve_single_failure(pending, single_error)
        finally:
            statement_counter.reset(token)
        for pending in batch:
            if pending.counter is not None:
                pending.counter[0] += cell[0]
        self.batches += 1

    async def _write(self, batch: list[PendingSend]) -> None:
        now = utcnow()
        # The ledger must hold the batch's keys before the batch commits (idempotency.py). It
        # is written beside the transaction's statements rather than before them: a round
        # trip less on the way from the ack to the delivery.
        ledger = {key: str(pending.id) for pending in batch if (key := pending.idempotency_key)}
        async with self._db.sessions() as session, session.begin():
            await asyncio.gather(
                self._write_rows(session, batch, now), idempotency.remember(ledger)
            )
        for pending in batch:
            pending.result = self._to_out(pending.values())
        self.committed += len(batch)

    async def _write_rows(self, session: AsyncSession, batch: list[PendingSend], now: Any) -> None:
        """The batch's statements, in the caller's transaction."""
        by_conversation: dict[uuid.UUID, list[PendingSend]] = {}
        for pending in batch:
            by_conversation.setdefault(pending.row["conversation_id"], []).append(pending)
        rows: list[dict[str, Any]] = []
        pointers: dict[tuple[uuid.UUID, uuid.UUID], counters.ReadPointer] = {}
        # Sorted: committers on other instances lock conversation rows in the same order.
        for conversation_id in sorted(by_conversation, key=str):
            items = by_conversation[conversation_id]
            last_seq = await counters.advance_counters(
                session,
                conversation_id=conversation_id,
                count=len(items),
                last_message_id=items[-1].id,
                at=now,
            )
            if last_seq is None:
                raise _ConversationGone(conversation_id)
            for offset, pending in enumerate(items):
                seq = last_seq - len(items) + 1 + offset
                pending.seq = seq
                rows.append(pending.values())
                sender = pending.row["sender_id"]
                pointers[(conversation_id, sender)] = counters.ReadPointer(
                    conversation_id=conversation_id,
                    user_id=sender,
                    seq=seq,
                    message_id=pending.id,
                    at=now,
                )
        mention_rows, hashtag_rows = await self._index_rows(session, batch)
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            # The search vector from the plaintext, in the same statement (search_vector.py).
            for row in rows:
                search_vector.with_search_text(
                    row, content=row["content"], encrypted=row["encrypted"]
                )
            await connection.execute(
                search_vector.insert_messages(search_vector.current_language()), rows
            )
        else:
            await connection.execute(_INSERT_MESSAGES, rows)
        if mention_rows:
            await connection.execute(_INSERT_MENTIONS, mention_rows)
        if hashtag_rows:
            await connection.execute(_INSERT_HASHTAGS, hashtag_rows)
            # The per-day hashtag counters: one more statement, only for batches with tags.
            await counters.count_hashtags(
                connection,
                tags=[
                    counters.DailyTag(
                        conversation_id=row["conversation_id"],
                        day=row["created_at"].astimezone(UTC).date(),
                        tag=row["tag"],
                    )
                    for row in hashtag_rows
                ],
            )
        carried = [
            Carried(
                message_id=pending.id,
                conversation_id=pending.row["conversation_id"],
                attachment_ids=[uuid.UUID(str(ref["id"])) for ref in pending.row["attachments"]],
                original=pending.row["forwarded_from_id"] is None,
                held=pending.row["status"] == MessageStatus.MODERATED,
            )
            for pending in batch
            if pending.row["attachments"]
        ]
        if carried:  # no statement for the batches (nearly all) that carry no files
            await link_messages(connection, carried)
        await queue.add_to_queue(
            connection,
            [
                queue.queue_row(
                    pending.screening,
                    message_id=pending.id,
                    conversation_id=pending.row["conversation_id"],
                    sender_id=pending.row["sender_id"],
                    message_version=1,
                    content=pending.row["content"],
                    at=now,
                )
                for pending in batch
                if pending.screening is not None
            ],
        )
        await counters.move_read_pointers(session, pointers=list(pointers.values()))
        await counters.count_daily(
            connection,
            sends=[
                counters.DailySend(
                    conversation_id=pending.row["conversation_id"],
                    day=pending.row["server_timestamp"].astimezone(UTC).date(),
                    seq=pending.seq or 0,
                    sender_id=pending.row["sender_id"],
                )
                for pending in batch
            ],
        )

    async def _index_rows(
        self, session: AsyncSession, batch: list[PendingSend]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Mention rows (usernames resolved in one query for the batch) and hashtag rows."""
        usernames = {name for pending in batch for name in pending.mention_usernames}
        user_ids = await accounts.find_user_ids_by_usernames(session, usernames=usernames)
        mention_rows = []
        hashtag_rows = []
        for pending in batch:
            resolved = [user_ids[name] for name in pending.mention_usernames if name in user_ids]
            if resolved:
                pending.row["metadata"]["mentionedUserIds"] = [str(uid) for uid in resolved]
            for user_id in resolved:
                mention_rows.append(
                    {
                        "id": uuid.uuid4(),
                        "message_id": pending.id,
                        "conversation_id": pending.row["conversation_id"],
                        "user_id": user_id,
                        # The message's time: the lists read from these rows (mentions,
                        # hashtags) are newest first by it, batch or not.
                        "created_at": pending.row["server_timestamp"],
                    }
                )
            for tag in pending.hashtags:
                hashtag_rows.append(
                    {
                        "id": uuid.uuid4(),
                        "message_id": pending.id,
                        "conversation_id": pending.row["conversation_id"],
                        "tag": tag,
                        "created_at": pending.row["server_timestamp"],
                    }
                )
        return mention_rows, hashtag_rows

    async def _resolve_single_failure(self, pending: PendingSend, error: Exception) -> None:
        """A send that cannot be written: a duplicate from another instance, or a failure."""
        key = pending.idempotency_key
        if isinstance(error, IntegrityError) and key is not None:
            async with self._db.sessions() as session:
                existing = await session.scalar(
                    select(Message).where(
                        Message.sender_id == pending.row["sender_id"],
                        Message.client_message_id == key[1],
                    )
                )
            if existing is not None:
                pending.result = self._to_out(existing.column_values())
                pending.duplicate = True
                return
        if isinstance(error, _ConversationGone):
            pending.failure = ConversationNotFound("The conversation no longer exists")
        elif isinstance(error, AttachmentTaken):
            pending.failure = AttachmentAlreadySent()
        elif isinstance(error, DBAPIError) and error.connection_invalidated:
            pending.failure = ServiceUnavailable("The database connection was lost")
        else:
            pending.failure = CommitFailed(
                f"The message could not be stored: {type(error).__name__}"
            )
        log.warning("send %s failed: %s", pending.id, describe_error(error))

    async def _finish(self, batch: list[PendingSend], commit_seconds: float) -> None:
        replica = self._db.replica
        if replica is not None:
            # Before any waiter (`?wait=true`) or event learns of the commit: from then on
            # the senders read their messages from the primary until the replica has them.
            await replica.wrote({p.row["sender_id"] for p in batch if p.result is not None})
        finished_at = time.perf_counter()
        for pending in batch:
            if pending.result is not None:
                metrics.SENDS_COMMITTED.inc()
                metrics.SEND_COMMIT_SECONDS.observe(finished_at - pending.accepted_at)
            else:
                metrics.SENDS_FAILED.inc()
            key = pending.idempotency_key
            if key is not None and self.by_key.get(key) is pending:
                del self.by_key[key]
            self.by_id.pop(pending.id, None)
            if key is not None and pending.result is not None:
                self.recent[key] = pending.result
                while len(self.recent) > RECENT_KEPT:
                    self.recent.popitem(last=False)
            if pending.result is None:
                if pending.failure is None:
                    pending.failure = could_not_store()
                self.failed[pending.id] = pending
                while len(self.failed) > FAILED_KEPT:
                    self.failed.popitem(last=False)
            pending.done.set()
        # Events go out from their own task, in commit order, so the next batch does not wait
        # for this one's fan-out.
        self._announcements.put_nowait((batch, commit_seconds))

    async def _announce(self) -> None:
        while True:
            batch, commit_seconds = await self._announcements.get()
            started = time.monotonic()
            try:
                for pending in batch:
                    for listener in self._listeners:
                        try:
                            await listener(pending)
                        except Exception:
                            log.exception("after-commit listener failed")
            finally:
                # The two stages run side by side: the slower one sets the pace.
                self.backpressure.drained(
                    [pending.id for pending in batch],
                    service_seconds=max(commit_seconds, time.monotonic() - started),
                )
                self._announcements.task_done()


def describe_error(error: BaseException) -> str:
    """An error for the log: its class and the driver's code, never its message, which for
    SQL errors holds the statement's parameters (message content, ids)."""
    names = [type(error).__name__]
    original = getattr(error, "orig", None)
    if original is not None:
        names.append(type(original).__name__)
        code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None)
        if isinstance(code, str):
            names.append(code)
    return " / ".join(names)


class _ConversationGone(SQLAlchemyError):
    def __init__(self, conversation_id: uuid.UUID) -> None:
        super().__init__(f"conversation {conversation_id} no longer exists")
