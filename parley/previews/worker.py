"""The link preview worker: after a message commits (or an edit changes its links), fetch
the previews of its first links and store them on the message (docs/api.md, Link previews).

Never on the send path: the committer's listener and the edit listener only put the message
id into a bounded queue and return (a full queue drops the job, counted); a few worker tasks
take jobs, look the message up again (deleted, held, encrypted or a conversation with
`linkPreviews: false` meanwhile: nothing is fetched), fetch through the per-URL cache, and
hand the previews to the messages domain, which writes them and pushes `message_updated`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from typing import Any

from parley.conversations import access
from parley.core import metrics
from parley.core.config import Settings
from parley.core.db import Database
from parley.core.runtime import Cache
from parley.messages.actions.previews import set_url_previews
from parley.messages.changes import EditedMessage, EditListeners
from parley.messages.committer import Committer, PendingSend
from parley.messages.queries import preview_target
from parley.messages.schemas import LinkPreview, MessageStatus
from parley.previews.fetch import Fetched, Fetcher, Outcome
from parley.previews.policy import AddressPolicy

log = logging.getLogger(__name__)

MAX_LINKS_PER_MESSAGE = 3
WORKERS = 4  # messages handled at once
CONCURRENT_FETCHES = 4  # requests in flight per process, whatever the number of messages
QUEUE_SIZE = 1000
HIT_TTL_SECONDS = 24 * 3600
# A page without a preview (refused, too large, not HTML, no tags) is asked again after this:
# long enough that a busy conversation repeating such a link does not refetch it per message.
MISS_TTL_SECONDS = 15 * 60
# A fetch that failed (timed out, connection or HTTP error) may pass on the next try: asked
# again sooner, still at most once a minute per link for every instance together.
FAILURE_TTL_SECONDS = 60
FAILURES = frozenset({Outcome.TIMEOUT, Outcome.ERROR})


def cache_key(url: str) -> str:
    """Per URL, hashed: keys stay short and carry no URL into Redis's key space."""
    return "preview:" + hashlib.sha256(url.encode()).hexdigest()


class PreviewWorker:
    """The process's preview queue and its worker tasks (started and stopped by main.py)."""

    def __init__(self, settings: Settings, db: Database, cache: Cache) -> None:
        self._db = db
        self._cache = cache
        self._fetcher = Fetcher(
            AddressPolicy.from_settings(
                settings.preview_allow_private, settings.preview_allow_networks
            ),
            settings.preview_timeout_seconds,
        )
        self._queue: asyncio.Queue[uuid.UUID] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._fetches = asyncio.Semaphore(CONCURRENT_FETCHES)
        # One request per URL at a time in this process: a link pasted into several messages
        # at once is fetched once, the others wait for it.
        self._in_flight: dict[str, asyncio.Future[LinkPreview | None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def attach(self, committer: Committer, edits: EditListeners) -> None:
        committer.on_committed(self.on_committed)
        edits.add(self.on_edited)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"parley-previews-{index}")
            for index in range(WORKERS)
        ]

    async def stop(self) -> None:
        """Previews are best effort: jobs still queued are dropped, fetches under way cut."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._fetcher.aclose()

    async def on_committed(self, pending: PendingSend) -> None:
        """Committer listener (awaited on the announcer task): enqueue and return."""
        if pending.result is None or pending.duplicate:
            return  # failed, or committed and announced by another instance
        held = pending.result.status == MessageStatus.MODERATED or (
            pending.screening is not None and pending.screening.held
        )
        self._offer(
            pending.id,
            has_links=bool(pending.row["metadata"].get("urls")),
            encrypted=pending.row["encrypted"],
            held=held,
        )

    def on_edited(self, edited: EditedMessage) -> None:
        """Edit listener: new links get their previews (kept ones stay on the message)."""
        if edited.urls_changed:
            self._offer(
                edited.message_id,
                has_links=bool(edited.urls),
                encrypted=edited.encrypted,
                held=edited.held,
            )

    def _offer(
        self, message_id: uuid.UUID, *, has_links: bool, encrypted: bool, held: bool
    ) -> None:
        if encrypted:
            # Opaque content: nothing is extracted from it, and nothing is ever fetched.
            metrics.PREVIEW_MESSAGE_RESULT["skipped_encrypted"].inc()
            return
        if not has_links:
            return
        if held:
            metrics.PREVIEW_MESSAGE_RESULT["skipped_held"].inc()
            return
        try:
            self._queue.put_nowait(message_id)
        except asyncio.QueueFull:
            metrics.PREVIEW_MESSAGE_RESULT["dropped"].inc()

    async def _run(self) -> None:
        while True:
            message_id = await self._queue.get()
            try:
                metrics.PREVIEW_MESSAGE_RESULT[await self._handle(message_id)].inc()
            except Exception as error:  # one message must not stop the worker
                log.error("link previews failed", extra={"error": type(error).__name__})
            finally:
                self._queue.task_done()

    async def _handle(self, message_id: uuid.UUID) -> str:
        """Look the message up again, fetch, store; returns the result counted."""
        async with self._db.reads() as session:
            target = await preview_target(session, message_id=message_id)
            if target is None or target.deleted:
                return "skipped_gone"
            if target.encrypted:
                return "skipped_encrypted"
            if target.held:
                return "skipped_held"
            enabled = await access.link_previews_enabled(
                session, conversation_id=target.conversation_id
            )
        if not enabled:
            return "skipped_disabled"
        urls = target.urls[:MAX_LINKS_PER_MESSAGE]
        found = await asyncio.gather(*(self.preview(url) for url in urls))
        previews = [preview for preview in found if preview is not None]
        async with self._db.unit_of_work() as session:
            written = await set_url_previews(session, message_id=message_id, previews=previews)
        return "previewed" if written else "none"

    async def preview(self, url: str) -> LinkPreview | None:
        """The preview of one link: from the cache (every instance's, with Redis), from a
        fetch under way in this process, or fetched now and cached."""
        key = cache_key(url)
        cached = await self._cache.get(key)
        if isinstance(cached, dict):
            metrics.PREVIEW_OUTCOME[Outcome.CACHED].inc()
            return _cached_preview(cached)
        waiting = self._in_flight.get(url)
        if waiting is not None:
            metrics.PREVIEW_OUTCOME[Outcome.CACHED].inc()
            return await asyncio.shield(waiting)
        future: asyncio.Future[LinkPreview | None] = asyncio.get_running_loop().create_future()
        self._in_flight[url] = future
        try:
            async with self._fetches:
                fetched = await self._fetcher.fetch(url)
            metrics.PREVIEW_OUTCOME[fetched.outcome].inc()
            await self._cache.set(key, _cache_entry(fetched), cache_ttl(fetched))
            future.set_result(fetched.preview)
            return fetched.preview
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # marked retrieved: nobody else may be waiting
            raise
        finally:
            del self._in_flight[url]


def cache_ttl(fetched: Fetched) -> int:
    """How long a lookup's result is served from the cache."""
    if fetched.preview is not None:
        return HIT_TTL_SECONDS
    return FAILURE_TTL_SECONDS if fetched.outcome in FAILURES else MISS_TTL_SECONDS


def _cache_entry(fetched: Fetched) -> dict[str, Any]:
    preview = fetched.preview
    return {
        "outcome": str(fetched.outcome),
        "preview": None if preview is None else preview.model_dump(mode="json", by_alias=True),
    }


def _cached_preview(entry: dict[str, Any]) -> LinkPreview | None:
    stored = entry.get("preview")
    return LinkPreview.model_validate(stored) if isinstance(stored, dict) else None
