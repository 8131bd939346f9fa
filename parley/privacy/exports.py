"""Large exports: started by POST /users/me/export, written in the background into the
attachments storage under a private key (`exports/<id>.zip`), followed by progress, then
downloaded by their owner until they expire (EXPORT_TTL_HOURS). The only writer of `exports`.

The writing task runs on the instance that accepted the request; an instance that stops
mid-way marks its exports FAILED on the way out (a crash leaves RUNNING, which expires like
any other)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.actions.erase import remove_bytes
from parley.attachments.store import store
from parley.core import runtime
from parley.core.audit import AuditAction, record
from parley.core.db import Database, after_commit, utcnow
from parley.core.errors import ExportNotFound, ExportNotReady
from parley.privacy.archive import count_items, export_archive
from parley.privacy.models import Export, ExportStatus
from parley.privacy.schemas import ExportOut
from parley.ratelimit.service import limiter

log = logging.getLogger(__name__)

# Progress is written at most this often: a row update per page would be most of the work.
PROGRESS_EVERY_SECONDS = 0.5
SWEEP_EVERY_SECONDS = 600.0


def export_out(export: Export) -> ExportOut:
    done = export.status == ExportStatus.DONE
    return ExportOut(
        id=export.id,
        status=ExportStatus(export.status),
        progress=export.progress,
        done_items=export.done_items,
        total_items=export.total_items,
        size=export.size,
        download_url=f"/users/me/export/{export.id}/download" if done else None,
        error_code=export.error_code,
        created_at=export.created_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
    )


async def stream_export(session: AsyncSession, *, user_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The caller's export, streamed now (EXPORTS per hour; audited)."""
    await limiter().check_export(user_id=user_id)
    record(session, actor_id=user_id, action=AuditAction.EXPORT_STREAMED, target_user_id=user_id)
    return aiter(export_archive(user_id))


async def start_export(session: AsyncSession, *, user_id: uuid.UUID) -> ExportOut:
    """Record a background export and start writing it once the row commits (EXPORTS per
    hour; audited)."""
    await limiter().check_export(user_id=user_id)
    export_id = uuid.uuid4()
    now = utcnow()
    export = Export(
        id=export_id,
        user_id=user_id,
        status=ExportStatus.PENDING,
        done_items=0,
        total_items=0,
        progress=0.0,
        storage_key=f"exports/{export_id}.zip",
        created_at=now,
        expires_at=now + timedelta(seconds=runtime.current().settings.export_ttl_seconds),
    )
    session.add(export)
    record(
        session,
        actor_id=user_id,
        action=AuditAction.EXPORT_STARTED,
        target_user_id=user_id,
        details={"exportId": str(export_id)},
    )
    await session.flush()
    runner = runtime.current().component(ExportRunner)

    async def launch() -> None:
        runner.launch(export_id, user_id)

    after_commit(session, launch)
    return export_out(export)


async def get_export(
    session: AsyncSession, *, user_id: uuid.UUID, export_id: uuid.UUID
) -> ExportOut:
    """One of the caller's exports; EXPORT_NOT_FOUND for anyone else's or an expired one."""
    return export_out(await _owned(session, user_id=user_id, export_id=export_id))


async def open_download(
    session: AsyncSession, *, user_id: uuid.UUID, export_id: uuid.UUID
) -> tuple[int, AsyncIterator[bytes]]:
    """The size and the bytes of a finished export of the caller (audited);
    EXPORT_NOT_READY before it is DONE."""
    export = await _owned(session, user_id=user_id, export_id=export_id)
    if export.status != ExportStatus.DONE or export.size is None:
        raise ExportNotReady(status=export.status)
    record(
        session,
        actor_id=user_id,
        action=AuditAction.EXPORT_DOWNLOADED,
        target_user_id=user_id,
        details={"exportId": str(export_id)},
    )
    return export.size, store().storage.get(export.storage_key)


async def _owned(session: AsyncSession, *, user_id: uuid.UUID, export_id: uuid.UUID) -> Export:
    export = await session.scalar(
        select(Export).where(
            Export.id == export_id, Export.user_id == user_id, Export.expires_at > utcnow()
        )
    )
    if export is None:
        raise ExportNotFound(exportId=str(export_id))
    return export


async def forget_exports_of(session: AsyncSession, *, user_id: uuid.UUID) -> list[str]:
    """Delete the user's exports (erasure); the storage keys to delete after commit."""
    keys = await session.scalars(
        delete(Export).where(Export.user_id == user_id).returning(Export.storage_key)
    )
    return list(keys.all())


class ExportRunner:
    """Writes started exports in background tasks and sweeps expired ones; started and
    stopped by the app's lifespan."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="parley-export-sweep")

    async def stop(self) -> None:
        tasks = [*self._tasks.values(), *([self._sweeper] if self._sweeper else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def launch(self, export_id: uuid.UUID, user_id: uuid.UUID) -> None:
        task = asyncio.create_task(self._write(export_id, user_id), name="parley-export")
        self._tasks[export_id] = task
        task.add_done_callback(lambda _task: self._tasks.pop(export_id, None))

    async def _write(self, export_id: uuid.UUID, user_id: uuid.UUID) -> None:
        try:
            total = await count_items(user_id)
            await self._set(export_id, status=ExportStatus.RUNNING, total_items=total)
            key = f"exports/{export_id}.zip"
            size = 0
            done = 0
            last_written = time.monotonic()

            async def on_items(count: int) -> None:
                nonlocal done, last_written
                done += count
                if time.monotonic() - last_written >= PROGRESS_EVERY_SECONDS:
                    last_written = time.monotonic()
                    await self._set(export_id, done_items=done, progress=_fraction(done, total))

            async def counted() -> AsyncIterator[bytes]:
                nonlocal size
                async for chunk in export_archive(user_id, on_items=on_items):
                    size += len(chunk)
                    yield chunk

            await store().storage.put(key, counted())
            recorded = await self._set(
                export_id,
                status=ExportStatus.DONE,
                done_items=done,
                total_items=max(total, done),
                progress=1.0,
                size=size,
                finished_at=utcnow(),
            )
            if not recorded:
                # The row went while the archive was written (its user was erased, or it
                # expired): nothing may keep the archive.
                await remove_bytes(store().storage, [key])
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._set(export_id, status=ExportStatus.FAILED, error_code="INTERRUPTED")
            raise
        except Exception:
            log.exception("export failed")
            with contextlib.suppress(Exception):
                await self._set(
                    export_id,
                    status=ExportStatus.FAILED,
                    error_code="INTERNAL_ERROR",
                    finished_at=utcnow(),
                )

    async def _set(self, export_id: uuid.UUID, **values: object) -> bool:
        """Update the export's row; False when it is gone."""
        async with self._db.unit_of_work() as session:
            changed = await session.execute(
                update(Export).where(Export.id == export_id).values(**values)
            )
        return bool(getattr(changed, "rowcount", 0))

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await remove_expired(self._db)
            except Exception:
                log.exception("expired export sweep failed")
            await asyncio.sleep(SWEEP_EVERY_SECONDS)


async def remove_expired(db: Database) -> int:
    """Delete expired exports, rows first (claimed with RETURNING, so instances sweeping at
    once split them), then their bytes; the number removed."""
    async with db.unit_of_work() as session:
        keys = list(
            (
                await session.scalars(
                    delete(Export)
                    .where(Export.expires_at <= utcnow())
                    .returning(Export.storage_key)
                )
            ).all()
        )
    await remove_bytes(store().storage, keys)
    return len(keys)


def _fraction(done: int, total: int) -> float:
    return 1.0 if total <= 0 else min(1.0, done / total)
