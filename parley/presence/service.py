"""Presence: a user is ONLINE while any of their sockets is alive on any instance.

Each instance counts its own sockets per user. With Redis it also keeps, per user, a hash
`presence:{userId}` of instance id -> expiry time, renewed every few seconds while the instance
has sockets of that user; a crashed instance stops renewing, so its entries lapse and a sweeper
(every instance runs one) takes those users offline. Without Redis the local count is the whole
truth. The users table holds the announced status; a guarded UPDATE decides which instance
announces a change, so it is announced once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from parley.accounts import service as accounts
from parley.conversations import access
from parley.core import runtime
from parley.core.events import conversation_room, emit_after_commit, user_room
from parley.presence.events import USER_STATUS_CHANGED
from parley.presence.schemas import UserStatusEvent

log = logging.getLogger(__name__)

RETRY_FIRST_DELAY = 0.5  # seconds; doubles while failing, up to a third of the TTL


class Presence:
    def __init__(self, redis: Redis | None, prefix: str, ttl_seconds: float = 30.0) -> None:
        """`ttl_seconds`: an instance's entry lapses this long after its last renewal; entries
        are renewed, and lapsed ones swept, every third of it."""
        self._ttl = ttl_seconds
        self._redis = redis
        self._prefix = prefix + "presence:"
        self._instance = uuid.uuid4().hex
        self._sockets: Counter[uuid.UUID] = Counter()
        # Users with sockets here whose going online this instance has announced (or found
        # announced): their next sockets change nothing.
        self._announced: set[uuid.UUID] = set()
        self._going_online: dict[uuid.UUID, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        # Users whose going offline failed (Redis or the database busy or down, as when
        # thousands of sockets drop at once): retried until it succeeds.
        self._leaving: set[uuid.UUID] = set()
        self._retrying: asyncio.Task[None] | None = None

    @property
    def local_sockets(self) -> int:
        """Sockets of this instance (read once a minute by the garbage-collector policy)."""
        return sum(self._sockets.values())

    def _key(self, user_id: uuid.UUID | str) -> str:
        return f"{self._prefix}{user_id}"

    async def start(self) -> None:
        if self._redis is None:
            async with runtime.current().db.unit_of_work() as session:
                await accounts.mark_everyone_offline(session)
        else:
            self._task = asyncio.create_task(self._renew_and_sweep(), name="parley-presence")

    async def stop(self) -> None:
        for task in (self._task, self._retrying):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        users = [*self._sockets, *self._leaving]
        self._sockets.clear()
        self._announced.clear()
        self._leaving.clear()
        for user_id in users:  # an orderly stop takes its users offline at once
            await self._left_everywhere(user_id)

    async def socket_connected(self, user_id: uuid.UUID) -> None:
        self._leaving.discard(user_id)
        self._sockets[user_id] += 1
        if user_id in self._announced:
            # Online here already, announced by an earlier socket: nothing changes, so no
            # Redis write, transaction or broadcast (a reconnect storm is mostly these).
            return
        pending = self._going_online.get(user_id)
        if pending is not None:
            # Another socket of the user is announcing: wait for it rather than repeat it
            # (in a storm a user's sockets arrive together). If it fails, the next one retries.
            await asyncio.shield(pending)
            return
        done = asyncio.get_running_loop().create_future()
        self._going_online[user_id] = done
        try:
            if self._redis is not None:
                pipeline = self._redis.pipeline(transaction=False)
                pipeline.hset(self._key(user_id), self._instance, time.time() + self._ttl)
                pipeline.sadd(self._prefix + "online", str(user_id))
                await pipeline.execute()
            await self._announce(user_id, online=True)
            if user_id in self._sockets:  # not all gone meanwhile
                self._announced.add(user_id)
        finally:
            del self._going_online[user_id]
            done.set_result(None)

    async def socket_disconnected(self, user_id: uuid.UUID) -> None:
        self._sockets[user_id] -= 1
        if self._sockets[user_id] > 0:
            return
        del self._sockets[user_id]
        self._announced.discard(user_id)
        try:
            await self._left_everywhere(user_id)
        except Exception as error:
            log.warning("going offline deferred", extra={"error": repr(error)})
            self._leaving.add(user_id)
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.create_task(
                    self._retry_leaving(), name="parley-presence-retry"
                )

    async def _retry_leaving(self) -> None:
        delay = RETRY_FIRST_DELAY
        while self._leaving:
            await asyncio.sleep(delay)
            for user_id in list(self._leaving):
                if user_id in self._sockets:  # back meanwhile: nothing to announce
                    self._leaving.discard(user_id)
                    continue
                try:
                    await self._left_everywhere(user_id)
                except Exception as error:
                    log.warning("going offline deferred again", extra={"error": repr(error)})
                    delay = min(delay * 2, self._ttl / 3)
                    break
                self._leaving.discard(user_id)

    async def online_among(self, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Those of `user_ids` with a live socket on any instance, in one Redis round trip
        for all of them (entries whose instance stopped renewing count as gone)."""
        wanted = list(dict.fromkeys(user_ids))
        online = {user_id for user_id in wanted if user_id in self._sockets}
        if self._redis is None:
            return online
        elsewhere = [user_id for user_id in wanted if user_id not in online]
        if not elsewhere:
            return online
        pipeline = self._redis.pipeline(transaction=False)
        for user_id in elsewhere:
            pipeline.hvals(self._key(user_id))
        now = time.time()
        for user_id, expiries in zip(elsewhere, await pipeline.execute(), strict=True):
            if any(float(expiry) >= now for expiry in expiries):
                online.add(user_id)
        return online

    async def _left_everywhere(self, user_id: uuid.UUID) -> None:
        if self._redis is not None:
            await self._redis.hdel(self._key(user_id), self._instance)
            if await self._live_elsewhere(user_id):
                return
        await self._announce(user_id, online=False)

    async def _live_elsewhere(self, user_id: uuid.UUID | str) -> bool:
        assert self._redis is not None
        entries = await self._redis.hgetall(self._key(user_id))
        now = time.time()
        stale = [field for field, expiry in entries.items() if float(expiry) < now]
        if stale:
            await self._redis.hdel(self._key(user_id), *stale)
        return len(entries) > len(stale)

    async def _announce(self, user_id: uuid.UUID, *, online: bool) -> None:
        rt = runtime.current()
        async with rt.db.unit_of_work() as session:
            changed = await accounts.set_presence(session, user_id=user_id, online=online)
            if changed is None:
                return
            conversation_ids = await access.active_conversation_ids(session, user_id=user_id)
            emit_after_commit(
                session,
                USER_STATUS_CHANGED,
                UserStatusEvent(
                    user_id=user_id, status=changed.status, last_seen_at=changed.last_seen_at
                ),
                rooms=[user_room(user_id), *(conversation_room(c) for c in conversation_ids)],
            )

    async def _renew_and_sweep(self) -> None:
        assert self._redis is not None
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                if self._sockets:
                    expiry = time.time() + self._ttl
                    pipeline = self._redis.pipeline(transaction=False)
                    for user_id in self._sockets:
                        pipeline.hset(self._key(user_id), self._instance, expiry)
                    await pipeline.execute()
                await self._sweep()
            except (RedisError, OSError) as error:
                log.warning("presence renewal failed", extra={"error": str(error)})
            except Exception:
                log.exception("presence sweep failed")

    async def _sweep(self) -> None:
        """Take offline the users whose every entry lapsed (their instances died)."""
        assert self._redis is not None
        async for member in self._redis.sscan_iter(self._prefix + "online", count=500):
            user_id = uuid.UUID(member.decode() if isinstance(member, bytes) else str(member))
            if user_id in self._sockets or await self._live_elsewhere(user_id):
                continue
            await self._redis.srem(self._prefix + "online", str(user_id))
            await self._announce(user_id, online=False)
