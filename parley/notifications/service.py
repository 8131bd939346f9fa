"""The notifier: after the commit, off the send path, it turns new messages into batched,
signed webhook pushes (`notification.send`) for recipients who are not online.

    committer's announcer --offer (put_nowait, bounded)--> queue
    worker: per batch of messages, one query for the conversations' active members and their
            settings, the rule (rule.py), one presence round trip for every candidate, one
            query for the names; then one script adds the batch to the recipients' windows
    flusher: at each window's end (the instance that opened it), one atomic take, one POST
    sweeper: windows overdue by a grace period (their opener died) are taken by any instance

When NOTIFY_WEBHOOK_URL is unset the notifier is not built: nothing is registered with the
committer, so the feature costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from parley.accounts import service as accounts
from parley.conversations import queries as conversations
from parley.core import metrics, runtime
from parley.core.config import ConfigError, Settings
from parley.core.db import utcnow
from parley.messages.committer import Committer, PendingSend
from parley.messages.schemas import MessageOut
from parley.notifications import rule
from parley.notifications.schemas import (
    ConversationCount,
    NotificationItem,
    NotificationPayload,
    Recipient,
    WindowEntry,
)
from parley.notifications.webhook import WebhookSender
from parley.notifications.windows import MemoryWindows, NewEntry, RedisWindows, Taken, Windows
from parley.presence.service import Presence

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000  # committed messages waiting for the worker; past it they are dropped
MAX_BATCH = 256
TAKE_CHUNK = 200  # windows closed per round trip
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class _Opened:
    recipient_id: uuid.UUID
    due: float


class Notifier:
    """The process's notifier (a runtime component)."""

    def __init__(self, settings: Settings, redis: Redis | None, presence: Presence) -> None:
        if not (settings.notify_webhook_url and settings.notify_webhook_secret):
            # load_settings refuses a URL without its secret; this guards other callers (an
            # assert would vanish under `python -O`).
            raise ConfigError("The notifier needs NOTIFY_WEBHOOK_URL and NOTIFY_WEBHOOK_SECRET")
        self._window_seconds = settings.notify_batch_seconds
        self._presence = presence
        self._windows: Windows = (
            RedisWindows(redis, settings.redis_key_prefix) if redis else MemoryWindows()
        )
        self._shared = redis is not None
        self._sender = WebhookSender(settings.notify_webhook_url, settings.notify_webhook_secret)
        self._queue: asyncio.Queue[MessageOut] = asyncio.Queue(maxsize=QUEUE_SIZE)
        # Windows this instance opened, in due order (every window lasts as long).
        self._opened: deque[_Opened] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._remove_sampler = metrics.add_sampler(self._sample)

    def _sample(self) -> None:
        metrics.NOTIFICATION_BACKLOG.set(self._queue.qsize())

    async def offer(self, pending: PendingSend) -> None:
        """The committer's listener: hand a committed message to the worker and return at
        once (the announcer awaits listeners one after another)."""
        message = pending.result
        # A duplicate was committed, and is notified, by the instance that stored it first.
        if message is None or pending.duplicate or not rule.notifiable(message):
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            metrics.NOTIFICATIONS_DROPPED.inc()
            return
        metrics.NOTIFICATIONS_QUEUED.inc()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name="parley-notifier"),
            asyncio.create_task(self._flush_due(), name="parley-notifier-flush"),
        ]
        if self._shared:
            self._tasks.append(asyncio.create_task(self._sweep(), name="parley-notifier-sweep"))

    async def stop(self) -> None:
        """Resolve what is queued (briefly), flush this instance's open windows now, give
        deliveries under way a few seconds, then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), STOP_GRACE_SECONDS)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        opened = [item.recipient_id for item in self._opened]
        self._opened.clear()
        try:
            await self._flush(opened)
        except Exception:
            log.exception("notification flush at stop failed")
        await self._sender.close(STOP_GRACE_SECONDS)
        self._remove_sampler()

    # ------------------------------------------------------------------ resolving recipients

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                entries = await self._resolve(batch)
                due = time.time() + self._window_seconds
                opened = await self._windows.add(entries, due=due)
                metrics.NOTIFICATION_ITEMS.inc(len(entries))
                if opened:
                    self._opened.extend(_Opened(recipient, due) for recipient in opened)
                    self._wake.set()
            except Exception:  # never let the worker die; these messages go unnotified
                log.exception("notification batch failed")
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _resolve(self, messages: list[MessageOut]) -> list[NewEntry]:
        """Who gets each message: one query for the members, one presence round trip, one
        query for the names (of recipients and senders) per batch."""
        now = utcnow()
        async with runtime.current().db.reads() as session:
            candidates = await conversations.notification_candidates(
                session, conversation_ids=[message.conversation_id for message in messages]
            )
            members: dict[uuid.UUID, list[conversations.NotificationCandidate]] = {}
            for candidate in candidates:
                members.setdefault(candidate.conversation_id, []).append(candidate)
            chosen: list[tuple[MessageOut, conversations.NotificationCandidate, bool]] = []
            for message in messages:
                mentions = rule.mentioned_user_ids(message)
                for candidate in members.get(message.conversation_id, []):
                    reason = rule.reason_to_notify(
                        message,
                        recipient_id=candidate.user_id,
                        settings=candidate.settings,
                        mentioned=mentions,
                        now=now,
                    )
                    if reason is not None:
                        chosen.append((message, candidate, reason.mentioned))
            if not chosen:
                return []
            online = await self._presence.online_among(
                candidate.user_id for _, candidate, _ in chosen
            )
            chosen = [choice for choice in chosen if choice[1].user_id not in online]
            if not chosen:
                return []
            wanted = {candidate.user_id for _, candidate, _ in chosen}
            wanted |= {message.sender_id for message, _, _ in chosen if message.sender_id}
            users = {
                user.id: user for user in await accounts.get_users_by_ids(session, user_ids=wanted)
            }
        entries = []
        for message, candidate, mentioned in chosen:
            user = users.get(candidate.user_id)
            if user is None:  # erased meanwhile
                continue
            sender = users.get(message.sender_id) if message.sender_id else None
            item = NotificationItem(
                message_id=message.id,
                conversation_id=message.conversation_id,
                conversation_name=candidate.conversation_name,
                sender_id=message.sender_id,
                sender_name=(sender.display_name or sender.username) if sender else None,
                preview=rule.preview(message),
                mentioned=mentioned,
                sent_at=message.server_timestamp,
            )
            entry = WindowEntry(
                recipient=Recipient(user_id=user.id, username=user.username), item=item
            )
            entries.append(
                NewEntry(
                    recipient_id=user.id,
                    message_id=message.id,
                    conversation_id=message.conversation_id,
                    conversation_name=candidate.conversation_name,
                    entry=orjson.dumps(entry.model_dump(mode="json", by_alias=True)),
                )
            )
        return entries

    # ------------------------------------------------------------------ windows

    async def _flush_due(self) -> None:
        while True:
            if not self._opened:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._opened[0].due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.time()
            due = []
            while self._opened and self._opened[0].due <= now:
                due.append(self._opened.popleft().recipient_id)
            try:
                await self._flush(due)
            except Exception:
                log.exception("notification flush failed")

    async def _sweep(self) -> None:
        """Windows whose opener stopped before their end (a crash) are flushed by whichever
        instance sees them first, a grace period late."""
        interval = max(1.0, self._window_seconds)
        grace = self._window_seconds + 2.0
        while True:
            await asyncio.sleep(interval)
            try:
                stranded = await self._windows.overdue(time.time() - grace, 500)
                await self._flush(stranded)
            except Exception:
                log.exception("notification sweep failed")

    async def _flush(self, recipients: list[uuid.UUID]) -> None:
        for start in range(0, len(recipients), TAKE_CHUNK):
            for window in await self._windows.take(recipients[start : start + TAKE_CHUNK]):
                if window.entries:
                    self._push(window)

    def _push(self, window: Taken) -> None:
        entries = [WindowEntry.model_validate(orjson.loads(raw)) for raw in window.entries]
        payload = NotificationPayload(
            id=uuid.uuid4().hex,
            recipient=entries[-1].recipient,
            count=sum(window.counts.values()) or len(entries),
            conversations=[
                ConversationCount(
                    conversation_id=uuid.UUID(conversation_id),
                    conversation_name=window.names.get(conversation_id),
                    count=count,
                )
                for conversation_id, count in sorted(
                    window.counts.items(), key=lambda item: -item[1]
                )
            ],
            items=[entry.item for entry in entries],
            created_at=utcnow(),
        )
        body = orjson.dumps(payload.model_dump(mode="json", by_alias=True))
        self._sender.deliver(payload.id, body)


async def start_notifier(
    settings: Settings, redis: Redis | None, committer: Committer, presence: Presence
) -> Notifier | None:
    """The notifier, listening to the committer, when NOTIFY_WEBHOOK_URL is set; else None
    (and nothing is registered: no cost on any path)."""
    if not settings.notify_webhook_url:
        return None
    notifier = Notifier(settings, redis, presence)
    committer.on_committed(notifier.offer)
    await notifier.start()
    return notifier
