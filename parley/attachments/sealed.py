"""Attachment bytes encrypted at rest: a layer over any `Storage` (folder or S3) that seals
what is written and opens what is read, so storage only ever holds ciphertext.

Format (version 1) of a stored object:

    magic      8 bytes  \\x89 P F E \\r \\n \\x1a \\n
    version    1 byte   1
    key id     1 byte length, then the id (ASCII, 1-32): the ENCRYPTION_KEYS key that sealed it
    segment    4 bytes  big-endian: plaintext bytes per segment (64 KiB when written here)
    segments   each `nonce(12) || ciphertext || tag(16)` of one plaintext segment, AES-256-GCM

Every segment is full but the last, which holds 0 to `segment` bytes (an empty file is one
empty last segment). Each segment's AAD is the header, the attachment's storage key, the
segment's index and a last-segment flag: segments cannot be reordered, moved between files,
or dropped from the end without the read failing authentication, and the header (key id,
segment size) cannot be changed either. A segment's plaintext is released only once its tag
checks, so a reader never passes on altered bytes.

A byte range reads only the segments it covers (a ranged GET on S3, a seek locally) plus one
byte past the last of them, which tells whether that segment is the file's last. An object
that does not start with the magic was stored before encryption and is read as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from parley.attachments.storage import Storage
from parley.core.crypto import (
    NONCE_BYTES,
    TAG_BYTES,
    DecryptionFailed,
    KeyRing,
    KeyRingError,
    key_ring,
)

MAGIC = b"\x89PFE\r\n\x1a\n"
FORMAT_VERSION = 1
SEGMENT_SIZE = 64 * 1024
OVERHEAD = NONCE_BYTES + TAG_BYTES
# The longest header (a 32-character key id) fits: one small read tells sealed from clear.
HEADER_PROBE = 64
# What a reader accepts from a header: a corrupt size must not make it buffer gigabytes.
_MIN_SEGMENT = 1024
_MAX_SEGMENT = 16 * 1024 * 1024


class SealedFileUnreadable(Exception):
    """The stored object fails authentication (altered, truncated, swapped), has a header we
    cannot parse, or names a key ENCRYPTION_KEYS lacks. Carries the storage key and a reason,
    never content."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class ContentMismatch(Exception):
    """What was read does not have the size or sha256 its row records (rotation keeps the
    stored object as it is)."""


@dataclass(frozen=True)
class Header:
    key_id: str
    segment_size: int
    raw: bytes

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def sealed_segment(self) -> int:
        return self.segment_size + OVERHEAD


def encode_header(key_id: str, segment_size: int = SEGMENT_SIZE) -> bytes:
    encoded = key_id.encode("ascii")
    return MAGIC + bytes([FORMAT_VERSION, len(encoded)]) + encoded + segment_size.to_bytes(4, "big")


def parse_header(key: str, data: bytes) -> Header | None:
    """The header at the start of `data`, or None for an object stored in clear."""
    if not data.startswith(MAGIC):
        return None
    if len(data) < len(MAGIC) + 2:
        raise SealedFileUnreadable(key, "header cut short")
    version, id_length = data[len(MAGIC)], data[len(MAGIC) + 1]
    if version != FORMAT_VERSION:
        raise SealedFileUnreadable(key, f"unknown format version {version}")
    end = len(MAGIC) + 2 + id_length
    if not 1 <= id_length <= 32 or len(data) < end + 4:
        raise SealedFileUnreadable(key, "malformed header")
    try:
        key_id = data[len(MAGIC) + 2 : end].decode("ascii")
    except UnicodeDecodeError:
        raise SealedFileUnreadable(key, "malformed key id") from None
    segment_size = int.from_bytes(data[end : end + 4], "big")
    if not _MIN_SEGMENT <= segment_size <= _MAX_SEGMENT:
        raise SealedFileUnreadable(key, "malformed segment size")
    return Header(key_id=key_id, segment_size=segment_size, raw=bytes(data[: end + 4]))


def _aad(header: bytes, key: str, index: int, last: bool) -> bytes:
    encoded = key.encode()
    return (
        header
        + len(encoded).to_bytes(2, "big")
        + encoded
        + index.to_bytes(8, "big")
        + (b"\x01" if last else b"\x00")
    )


class _Buffered:
    """A chunk stream read by sizes (segments do not line up with storage's chunks)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._ended = False

    async def fill(self, size: int) -> bool:
        """Read until `size` bytes are buffered; False when the stream ends first."""
        while len(self._buffer) < size and not self._ended:
            try:
                self._buffer += await anext(self._chunks)
            except StopAsyncIteration:
                self._ended = True
        return len(self._buffer) >= size

    def peek(self) -> bytes:
        return bytes(self._buffer)

    def take(self, size: int) -> bytes:
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    async def drain(self) -> AsyncIterator[bytes]:
        if self._buffer:
            yield self.take(len(self._buffer))
        async for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


class SealedStorage:
    """Any `Storage`, encrypting: `put` stores the sealed form under the ring's primary key,
    `get` returns plaintext (of sealed objects and of objects stored in clear before)."""

    def __init__(self, inner: Storage, ring: KeyRing | None = None) -> None:
        self.inner = inner
        self._ring = ring

    @property
    def ring(self) -> KeyRing:
        # The process's ring by default: installed at start-up, after this is built.
        return self._ring or key_ring()

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        await self.inner.put(key, self._seal(key, chunks))

    async def _seal(
        self, key: str, chunks: AsyncIterator[bytes], key_id: str | None = None
    ) -> AsyncIterator[bytes]:
        ring = self.ring
        key_id = key_id or ring.primary_id
        header = encode_header(key_id)
        yield header
        pending = bytearray()
        index = 0
        async for chunk in chunks:
            pending += chunk
            # Strictly more than a segment: the last one is known only when the stream ends.
            while len(pending) > SEGMENT_SIZE:
                plain = bytes(pending[:SEGMENT_SIZE])
                del pending[:SEGMENT_SIZE]
                yield ring.encrypt_bytes(
                    plain, key_id=key_id, aad=_aad(header, key, index, last=False)
                )
                index += 1
        yield ring.encrypt_bytes(
            bytes(pending), key_id=key_id, aad=_aad(header, key, index, last=True)
        )

    async def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The plaintext from `start` to `end` (inclusive; None: to the end)."""
        if start == 0 and end is None:
            async for chunk in self._whole(key):
                yield chunk
            return
        header = await self.header(key)
        if header is None:
            async for chunk in self.inner.get(key, start, end):
                yield chunk
            return
        sent = False
        try:
            async for chunk in self._range(key, header, start, end):
                sent = True
                yield chunk
        except SealedFileUnreadable:
            # Key rotation may have replaced the object between the header read and this
            # one: read again under the new header (once); otherwise it is what it says.
            again = await self.header(key) if not sent else None
            if again is None or again.raw == header.raw:
                raise
            async for chunk in self._range(key, again, start, end):
                yield chunk

    async def header(self, key: str) -> Header | None:
        """The object's header, None when it is stored in clear; ObjectMissing when absent."""
        buffered = _Buffered(self.inner.get(key, 0, HEADER_PROBE - 1))
        try:
            await buffered.fill(HEADER_PROBE)
            return parse_header(key, buffered.peek())
        finally:
            await buffered.aclose()

    async def _whole(self, key: str) -> AsyncIterator[bytes]:
        buffered = _Buffered(self.inner.get(key))
        try:
            await buffered.fill(HEADER_PROBE)
            header = parse_header(key, buffered.peek())
            if header is None:
                async for chunk in buffered.drain():
                    yield chunk
                return
            buffered.take(header.length)
            async for _, plain in self._segments(buffered, header, key, 0, None):
                if plain:
                    yield plain
        finally:
            await buffered.aclose()

    async def _range(
        self, key: str, header: Header, start: int, end: int | None
    ) -> AsyncIterator[bytes]:
        size, sealed = header.segment_size, header.sealed_segment
        first = start // size
        last_wanted = None if end is None else end // size
        # One byte past the last segment wanted: whether it is the file's last.
        stop = None if last_wanted is None else header.length + (last_wanted + 1) * sealed
        buffered = _Buffered(self.inner.get(key, header.length + first * sealed, stop))
        try:
            async for index, plain in self._segments(buffered, header, key, first, last_wanted):
                offset = index * size
                low = max(start - offset, 0)
                high = len(plain) if end is None else min(end - offset + 1, len(plain))
                if high > low:
                    yield plain[low:high]
        finally:
            await buffered.aclose()

    async def _segments(
        self, buffered: _Buffered, header: Header, key: str, index: int, last_wanted: int | None
    ) -> AsyncIterator[tuple[int, bytes]]:
        sealed = header.sealed_segment
        while True:
            if await buffered.fill(sealed + 1):
                yield index, self._open(header, key, index, buffered.take(sealed), last=False)
                if index == last_wanted:
                    return
                index += 1
                continue
            rest = buffered.take(sealed + 1)
            if len(rest) < OVERHEAD:
                raise SealedFileUnreadable(key, f"segment {index} cut short")
            yield index, self._open(header, key, index, rest, last=True)
            return

    def _open(self, header: Header, key: str, index: int, sealed: bytes, *, last: bool) -> bytes:
        try:
            return self.ring.decrypt_bytes(
                sealed, key_id=header.key_id, aad=_aad(header.raw, key, index, last)
            )
        except DecryptionFailed:
            raise SealedFileUnreadable(key, f"segment {index} fails authentication") from None
        except KeyRingError:
            raise SealedFileUnreadable(
                key, f"sealed with key {header.key_id!r}, which ENCRYPTION_KEYS lacks"
            ) from None

    async def reseal(self, key: str, *, size: int, sha256: str) -> None:
        """Store the object again under the primary key (or seal one stored in clear). The
        new object replaces the old one only once it is whole and its plaintext matched
        `size` and `sha256` (local: a rename; S3: the PUT or multipart completion replaces
        the object at once), so a process killed midway leaves the old object readable."""
        await self.inner.put(key, self._seal(key, _checked(self._whole(key), key, size, sha256)))

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)

    async def close(self) -> None:
        await self.inner.close()


async def _checked(
    chunks: AsyncIterator[bytes], key: str, size: int, sha256: str
) -> AsyncIterator[bytes]:
    """The chunks; ContentMismatch at their end (so before storage completes the write) when
    they are not the recorded file."""
    digest = hashlib.sha256()
    seen = 0
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        async for chunk in chunks:
            seen += len(chunk)
            digest.update(chunk)
            yield chunk
    if seen != size or digest.hexdigest() != sha256:
        raise ContentMismatch(f"{key}: stored bytes do not match the recorded size and sha256")
