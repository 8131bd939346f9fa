"""The export archive, streamed: stream-zip writes each member as its bytes arrive, and the
members read the database a page at a time on short sessions of their own, so neither the
archive nor a table is ever whole in memory (and no connection is held while the client
reads, which SQLite's one writer would feel).

Layout: `profile.json`, `conversations.jsonl`, `messages.jsonl`, `reactions.jsonl`,
`edit_history.jsonl` (one JSON object a line, as the API renders each), `files/manifest.jsonl`
(attachment id -> path in the archive) and `files/<id>/<name>`."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from stream_zip import ZIP_64, AsyncMemberFile, async_stream_zip

from parley.accounts import service as accounts
from parley.accounts.schemas import UserOut
from parley.attachments.personal import Upload, count_uploads, upload_bytes, uploads_page
from parley.conversations.personal import conversations_page
from parley.core import runtime
from parley.core.db import utcnow
from parley.core.replica import Read, ReadT
from parley.messages import personal as messages

PAGE = 500
_MODE = stat.S_IFREG | 0o600

# Told how many more items (messages, reactions, versions, files) went into the archive.
OnItems = Callable[[int], Awaitable[None]]


async def count_items(user_id: uuid.UUID) -> int:
    """What `on_items` will have counted once the archive is complete."""

    async def count(session: AsyncSession) -> int:
        written = await messages.count_written(session, user_id=user_id)
        return written + await count_uploads(session, uploader_id=user_id)

    return await _read(user_id, count)


async def _read(user_id: uuid.UUID, read: Read[ReadT]) -> ReadT:
    """Each page on a short session of its own, on the read replica when it holds what the
    user wrote (core/replica.py): an export is the user's own data."""
    return await runtime.current().db.read_for(user_id, read)


def export_archive(user_id: uuid.UUID, *, on_items: OnItems | None = None) -> AsyncIterable[bytes]:
    """The user's export as zip bytes, produced as they are read."""
    return async_stream_zip(_members(user_id, on_items or _ignore), chunk_size=64 * 1024)


async def _ignore(_count: int) -> None:
    return None


def _json(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude=exclude)


# Others' delivery and read state: theirs, not the exporting user's data.
_NOT_EXPORTED = {"delivery_tracker"}


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


async def _members(user_id: uuid.UUID, on_items: OnItems) -> AsyncIterator[AsyncMemberFile]:
    now = utcnow()
    yield _member("profile.json", now, _profile(user_id))
    yield _member("conversations.jsonl", now, _conversations(user_id))
    yield _member("messages.jsonl", now, _messages(user_id, on_items))
    yield _member("reactions.jsonl", now, _keyset(user_id, messages.reactions_page, on_items))
    yield _member("edit_history.jsonl", now, _keyset(user_id, messages.versions_page, on_items))
    yield _member("files/manifest.jsonl", now, _manifest(user_id))
    async for upload in _uploads(user_id):
        yield _member(_path(upload), now, _file(upload, on_items))


def _member(name: str, now: datetime, chunks: AsyncIterable[bytes]) -> AsyncMemberFile:
    return (name, now, _MODE, ZIP_64, chunks)


async def _profile(user_id: uuid.UUID) -> AsyncIterator[bytes]:
    async def profile(session: AsyncSession) -> UserOut:
        return UserOut.model_validate(await accounts.get_user(session, user_id=user_id))

    out = await _read(user_id, profile)
    yield json.dumps(_json(out), ensure_ascii=False, indent=2).encode()


async def _conversations(user_id: uuid.UUID) -> AsyncIterator[bytes]:
    after: uuid.UUID | None = None
    while True:
        page = await _read(
            user_id, partial(conversations_page, user_id=user_id, after=after, limit=PAGE)
        )
        if not page:
            return
        yield b"".join(_line(_json(conversation)) for conversation in page)
        after = page[-1].id


async def _messages(user_id: uuid.UUID, on_items: OnItems) -> AsyncIterator[bytes]:
    after_conversation: uuid.UUID | None = None
    while True:
        conversations = await _read(
            user_id,
            partial(conversations_page, user_id=user_id, after=after_conversation, limit=PAGE),
        )
        if not conversations:
            return
        for conversation in conversations:
            after_seq = 0
            while True:
                page = await _read(
                    user_id,
                    partial(
                        messages.sent_page,
                        user_id=user_id,
                        conversation_id=conversation.id,
                        after_seq=after_seq,
                        limit=PAGE,
                    ),
                )
                if not page:
                    break
                yield b"".join(_line(_json(message, _NOT_EXPORTED)) for message in page)
                await on_items(len(page))
                after_seq = page[-1].seq or after_seq
                if len(page) < PAGE:
                    break
        after_conversation = conversations[-1].id


Pager = Callable[..., Awaitable[list[tuple[uuid.UUID, dict[str, Any]]]]]


async def _keyset(user_id: uuid.UUID, pager: Pager, on_items: OnItems) -> AsyncIterator[bytes]:
    after: uuid.UUID | None = None
    while True:
        page = await _read(user_id, partial(pager, user_id=user_id, after=after, limit=PAGE))
        if not page:
            return
        yield b"".join(_line(value) for _id, value in page)
        await on_items(len(page))
        after = page[-1][0]


async def _uploads(user_id: uuid.UUID) -> AsyncIterator[Upload]:
    after: uuid.UUID | None = None
    while True:
        page = await _read(
            user_id, partial(uploads_page, uploader_id=user_id, after=after, limit=PAGE)
        )
        if not page:
            return
        for upload in page:
            yield upload
        after = page[-1].out.id


def _path(upload: Upload) -> str:
    return f"files/{upload.out.id}/{upload.out.name}"


async def _manifest(user_id: uuid.UUID) -> AsyncIterator[bytes]:
    async for upload in _uploads(user_id):
        yield _line({**_json(upload.out), "path": _path(upload)})


async def _file(upload: Upload, on_items: OnItems) -> AsyncIterator[bytes]:
    async for chunk in upload_bytes(upload):
        yield chunk
    await on_items(1)
