"""A download's response: headers that keep a browser from running what it fetched, the
ETag (the content's sha256) and byte ranges, streamed from storage (decrypted segment by
segment: see sealed.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

from fastapi.responses import Response, StreamingResponse

from parley.attachments.models import Attachment
from parley.attachments.sealed import SealedFileUnreadable
from parley.attachments.sniff import content_disposition
from parley.attachments.storage import ObjectMissing
from parley.attachments.store import store
from parley.core.errors import AttachmentNotFound, AttachmentUnreadable, RangeNotSatisfiable

log = logging.getLogger(__name__)

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a single `bytes=` range; None to send the whole file (no
    header, several ranges, or one we do not parse: RFC 9110 lets a server ignore Range);
    RANGE_NOT_SATISFIABLE when it starts past the end."""
    if header is None:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    if size == 0:
        raise RangeNotSatisfiable(size=size)
    first, last = match.group(1), match.group(2)
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(size=size)
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size:
        raise RangeNotSatisfiable(size=size)
    if end < start:
        return None
    return start, end


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


async def _opened(attachment: Attachment, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream with its first chunk already read (so its first segment authenticated): a
    file lost from storage answers a clear 404, one that fails authentication a 500
    ATTACHMENT_UNREADABLE, before any header is sent. A later segment that fails can only
    cut the connection: the client gets a short body, never unauthenticated bytes."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except ObjectMissing:
        log.warning("attachment %s: its bytes are missing from storage", attachment.id)
        raise AttachmentNotFound("The file is no longer in storage") from None
    except SealedFileUnreadable as error:
        log.error("attachment %s: unreadable in storage: %s", attachment.id, error.reason)
        raise AttachmentUnreadable() from None

    async def rest() -> AsyncIterator[bytes]:
        if first:
            yield first
        try:
            async for chunk in chunks:
                yield chunk
        except SealedFileUnreadable as error:
            log.error(
                "attachment %s: unreadable in storage, download cut: %s",
                attachment.id,
                error.reason,
            )
            raise

    return rest()


async def plan_download(
    attachment: Attachment,
    *,
    range_header: str | None,
    if_none_match: str | None,
    if_range: str | None = None,
) -> Response:
    """200 with the whole file, 206 with one range, or 304 when the client has it. A Range
    sent with `If-Range` is honoured only when that validator is this file's ETag (a strong
    comparison, RFC 9110 13.1.5): a client resuming a different file gets the whole one."""
    etag = f'"{attachment.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Content-Disposition": content_disposition(attachment.name, attachment.mime_type),
        # A document opened from the API's origin runs nothing.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    size = attachment.size
    if if_range is not None and if_range.strip() != etag:
        range_header = None  # a date or another entity: the whole file
    chosen = byte_range(range_header, size)
    storage = store().storage
    if chosen is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            await _opened(attachment, storage.get(attachment.storage_path)),
            media_type=attachment.mime_type,
            headers=headers,
        )
    start, end = chosen
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        await _opened(attachment, storage.get(attachment.storage_path, start, end)),
        status_code=206,
        media_type=attachment.mime_type,
        headers=headers,
    )
