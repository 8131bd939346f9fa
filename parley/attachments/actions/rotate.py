"""Key rotation for attachment files: every stored file not sealed under the primary key of
ENCRYPTION_KEYS (sealed under an older key, or stored in clear before encryption existed) is
sealed again under it, one file at a time.

Each file's header names its key, so the run needs no bookkeeping of its own: a run stopped
anywhere (even by SIGKILL) is resumed by running it again, which skips the files already
under the primary key. A file is replaced only once its new object is whole and the plaintext
matched the row's size and sha256 (`SealedStorage.reseal`): a kill midway leaves the old
object, readable with the old key still in the ring. Old keys may leave ENCRYPTION_KEYS once a
run reports no `failed` file."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from parley.attachments.models import Attachment
from parley.attachments.sealed import ContentMismatch, SealedFileUnreadable, SealedStorage
from parley.attachments.storage import ObjectMissing
from parley.core.audit import AuditAction, record
from parley.core.db import Database

log = logging.getLogger(__name__)

BATCH = 200


@dataclass
class FileRotation:
    """A run's counts, given to the progress callback after each file and returned at the
    end. `checked` of `total` rows so far: `rotated` (re-sealed from an older key),
    `encrypted` (stored in clear before), `current` (already under the primary key),
    `missing` (no bytes in storage), `failed` (unreadable or not matching their row: left as
    they are, logged by id)."""

    primary_key_id: str
    total: int
    checked: int = 0
    rotated: int = 0
    encrypted: int = 0
    current: int = 0
    missing: int = 0
    failed: int = 0

    def as_details(self) -> dict[str, int | str]:
        return asdict(self)


async def rotate_file_keys(
    db: Database,
    storage: SealedStorage,
    *,
    progress: Callable[[FileRotation], None] | None = None,
) -> FileRotation:
    """Seal every attachment file under the ring's primary key (skipping those already
    under it), reporting after each file; audited once per run (attachments.keys_rotated)."""
    async with db.sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(Attachment)) or 0)
    run = FileRotation(primary_key_id=storage.ring.primary_id, total=total)
    after: uuid.UUID | None = None
    while True:
        async with db.sessions() as session:
            query = select(
                Attachment.id, Attachment.storage_path, Attachment.size, Attachment.sha256
            ).order_by(Attachment.id)
            if after is not None:
                query = query.where(Attachment.id > after)
            rows = (await session.execute(query.limit(BATCH))).all()
        for attachment_id, key, size, sha256 in rows:
            await _rotate_one(db, storage, run, attachment_id, key, size, sha256)
            run.checked += 1
            if progress is not None:
                progress(run)
        if len(rows) < BATCH:
            break
        after = rows[-1][0]
    async with db.unit_of_work() as session:
        record(
            session,
            actor_id=None,
            action=AuditAction.FILE_KEYS_ROTATED,
            details=run.as_details(),
        )
    return run


async def _rotate_one(
    db: Database,
    storage: SealedStorage,
    run: FileRotation,
    attachment_id: uuid.UUID,
    key: str,
    size: int,
    sha256: str,
) -> None:
    try:
        header = await storage.header(key)
    except ObjectMissing:
        run.missing += 1
        return
    except SealedFileUnreadable as error:
        log.error("attachment %s: not rotated: %s", attachment_id, error.reason)
        run.failed += 1
        return
    if header is not None and header.key_id == run.primary_key_id:
        run.current += 1
        return
    try:
        await storage.reseal(key, size=size, sha256=sha256)
    except ObjectMissing:
        run.missing += 1
        return
    except (SealedFileUnreadable, ContentMismatch) as error:
        reason = error.reason if isinstance(error, SealedFileUnreadable) else str(error)
        log.error("attachment %s: not rotated: %s", attachment_id, reason)
        run.failed += 1
        return
    if header is None:
        run.encrypted += 1
    else:
        run.rotated += 1
    # Removed (orphan sweep, retention) while it was being rewritten: the rewrite must not
    # bring its bytes back.
    async with db.sessions() as session:
        still = await session.scalar(select(Attachment.id).where(Attachment.id == attachment_id))
    if still is None:
        await storage.delete(key)
