"""`Idempotency-Key`: a retried request gets the answer of the first one, never a second change.

A client that got a 503 or a timeout cannot know whether its change was made; it sends the
same request again with the same key. The first answer that succeeded (status and body) is kept
in `idempotency_keys` under (user, key), and every later request of that user with that key
is answered from it (with `Idempotent-Replayed: true`) without running again. The same key with
another request (another endpoint, path or body) is refused: 422 `IDEMPOTENCY_KEY_REUSED`.

Two ways to use it, both through the `IdempotencyKey` dependency:
- `once(session, ...)` for a change made in the request's transaction (creating a
  conversation, adding people; uploads and scheduled messages to come): the key row is
  claimed *before* the change, in the same transaction, and filled with the answer after it,
  so the change and its recorded answer commit together or not at all. A concurrent request
  with the same key waits on the unique index (PostgreSQL) or for the one connection
  (SQLite), then finds the committed answer. A request that fails (any error) rolls back and
  records nothing: retrying it runs it again.
- `once_accepted(...)` for a change another component commits later (a forward goes to the
  message committer): the action itself must be idempotent per key (forwards derive their
  message ids and clientMessageIds from it, so the messages' unique index keeps them once);
  the answer is recorded after the action, in a short transaction of its own.

Keys live `IDEMPOTENCY_KEY_TTL` (24 h): an older row is ignored and replaced by the next claim
of its key, and a sweep deletes expired rows at most every few minutes per process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import pydantic_core
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import Integer, String, Uuid, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from parley.core import runtime
from parley.core.db import Base, UTCDateTime, utcnow
from parley.core.encrypted import EncryptedText
from parley.core.errors import IdempotencyKeyReused, ServiceUnavailable

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x20-\x7e]+$"  # printable ASCII
SWEEP_INTERVAL_SECONDS = 300.0


class IdempotencyRecord(Base):
    """The first successful answer to a (user, key)."""

    __tablename__ = "idempotency_keys"

    # The primary key is the unique index that decides between concurrent duplicates.
    # No foreign key: core knows no domain's table, and rows expire within a day anyway.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))  # "POST /conversations", for diagnosis
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path and body
    status: Mapped[int] = mapped_column(Integer)  # 0 only inside the claiming transaction
    # The JSON body as answered (a sent message's text among it): encrypted at rest.
    response: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class Answer:
    """A success to record and send: status and the JSON body."""

    status: int
    body: str

    @classmethod
    def of(cls, status: int, value: Any) -> Answer:
        """Serialize pydantic models (or lists of them) as FastAPI would: camelCase aliases."""
        return cls(status, pydantic_core.to_json(value, by_alias=True).decode())

    def response(self, *, replayed: bool = False) -> Response:
        headers = {REPLAYED_HEADER: "true"} if replayed else None
        return Response(
            self.body, status_code=self.status, media_type="application/json", headers=headers
        )


@dataclass(frozen=True)
class IdempotentRequest:
    """The request's key (None: no header, no idempotency) and what identifies the request."""

    key: str | None
    method: str
    path: str
    endpoint: str

    def fingerprint(self, body: BaseModel | None) -> str:
        document = {
            "method": self.method,
            "path": self.path,
            "body": None if body is None else body.model_dump(mode="json", by_alias=True),
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    async def once(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        body: BaseModel | None,
        run: Callable[[], Awaitable[Answer]],
    ) -> Response:
        """Run a change made in `session`'s transaction once per key: the answer is recorded in
        the same transaction, so it commits with the change or not at all."""
        if self.key is None:
            return (await run()).response()
        fingerprint = self.fingerprint(body)
        stored = await _claim(session, user_id=user_id, request=self, fingerprint=fingerprint)
        if stored is not None:
            return stored.response(replayed=True)
        answer = await run()
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == self.key)
            .values(status=answer.status, response=answer.body)
        )
        return answer.response()

    async def once_accepted(
        self,
        *,
        user_id: uuid.UUID,
        body: BaseModel | None,
        run: Callable[[], Awaitable[Answer]],
    ) -> Response:
        """For a change committed elsewhere (the message committer) by an action that is itself
        idempotent per key: answer a known key from its record, else run and record after."""
        if self.key is None:
            return (await run()).response()
        fingerprint = self.fingerprint(body)
        db = runtime.current().db
        async with db.sessions() as session:
            known = await _find(session, user_id=user_id, key=self.key)
        if known is not None:
            return _replay(known, fingerprint).response(replayed=True)
        answer = await run()
        try:
            async with db.unit_of_work() as session:
                stored = await _claim(
                    session, user_id=user_id, request=self, fingerprint=fingerprint, answer=answer
                )
        except IdempotencyKeyReused:
            # A concurrent request with this key but another body recorded first. This one
            # did make its change, so it is answered, not refused.
            return answer.response()
        if stored is not None:
            # A concurrent duplicate recorded first; the action being idempotent, this one
            # made nothing new, and both answer the same.
            return stored.response(replayed=True)
        return answer.response()


async def _idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=KEY_PATTERN,
            description="Retry safely: the same key gives the first answer again (24 h)",
        ),
    ] = None,
) -> IdempotentRequest:
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    return IdempotentRequest(
        key=key,
        method=request.method,
        path=request.url.path,
        endpoint=f"{request.method} {template}"[:200],
    )


IdempotencyKey = Annotated[IdempotentRequest, Depends(_idempotency)]


def _replay(record: IdempotencyRecord, fingerprint: str) -> Answer:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return Answer(record.status, record.response)


async def _find(
    session: AsyncSession, *, user_id: uuid.UUID, key: str, live: bool = True
) -> IdempotencyRecord | None:
    """The record of (user, key), if any (only a live one unless `live` is False)."""
    statement = select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
    )
    if live:
        statement = statement.where(IdempotencyRecord.created_at >= _cutoff())
    return await session.scalar(statement)


async def _claim(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    request: IdempotentRequest,
    fingerprint: str,
    answer: Answer | None = None,
) -> Answer | None:
    """Insert the key's row (or replace an expired one); None when this request holds it now,
    else the recorded answer (422 if recorded for another request)."""
    assert request.key is not None
    _sweep_now_and_then()
    values = {
        "user_id": user_id,
        "key": request.key,
        "endpoint": request.endpoint,
        "fingerprint": fingerprint,
        "status": answer.status if answer else 0,
        "response": answer.body if answer else "",
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(IdempotencyRecord).values(**values)
    # One statement decides: a new key is inserted, an expired row is taken over, a live one
    # wins. On PostgreSQL a concurrent claim of the same key waits here until the first
    # transaction ends, then sees its row (or, if it rolled back, inserts).
    upsert = statement.on_conflict_do_update(
        index_elements=["user_id", "key"],
        set_={name: statement.excluded[name] for name in values if name not in ("user_id", "key")},
        where=IdempotencyRecord.created_at < _cutoff(),
    ).returning(IdempotencyRecord.key)
    claimed = (await session.execute(upsert)).first()
    if claimed is not None:
        return None
    # Live when the claim was refused; read it whatever the clock says since.
    record = await _find(session, user_id=user_id, key=request.key, live=False)
    if record is None:  # swept in between: the retry claims it
        raise ServiceUnavailable("The Idempotency-Key could not be checked: retry")
    return _replay(record, fingerprint)


def _cutoff() -> datetime:
    ttl = runtime.current().settings.idempotency_key_ttl_seconds
    return utcnow() - timedelta(seconds=ttl)


_last_sweep = 0.0
_sweeps: set[asyncio.Task[None]] = set()


def _sweep_now_and_then() -> None:
    """Start a deletion of expired rows, at most every SWEEP_INTERVAL_SECONDS per process, in a
    transaction of its own so that no request waits on it."""
    global _last_sweep
    now = time.monotonic()
    if now - _last_sweep < SWEEP_INTERVAL_SECONDS:
        return
    _last_sweep = now
    task = asyncio.create_task(_sweep(), name="parley-idempotency-sweep")
    _sweeps.add(task)
    task.add_done_callback(_sweeps.discard)


async def _sweep() -> None:
    try:
        async with runtime.current().db.unit_of_work() as session:
            await session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < _cutoff())
            )
    except Exception as error:  # best effort: the next sweep tries again
        log.warning("idempotency key sweep failed: %s", type(error).__name__)


async def forget_user(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Delete the user's recorded answers (erasure): they hold what the user sent."""
    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id))
