"""Small files of known types, and upload helpers."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.support import User


def png(width: int, height: int) -> bytes:
    """A valid PNG of one colour (dimensions in its IHDR header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def gif(width: int, height: int) -> bytes:
    """A GIF89a header with a logical screen of width x height (enough to sniff and size)."""
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b"\x3b"


HTML = b"<!DOCTYPE html><html><head><script>alert(1)</script></head><body>hi</body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'


async def upload(
    http: httpx.AsyncClient,
    user: User,
    content: bytes,
    name: str = "file.bin",
    declared: str = "application/octet-stream",
    **fields: str,
) -> httpx.Response:
    return await http.post(
        "/attachments",
        files={"file": (name, content, declared)},
        data=fields or None,
        headers=user.headers,
    )


async def uploaded(
    http: httpx.AsyncClient, user: User, content: bytes, name: str = "file.bin", **fields: str
) -> dict[str, Any]:
    response = await upload(http, user, content, name, **fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def multipart_chunks(content_size: int, boundary: str = "parleyboundary") -> AsyncIterator[bytes]:
    """A multipart body with a `file` part of `content_size` bytes, sent without a
    Content-Length (chunked), so only the streaming check can stop it."""

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        remaining = content_size
        block = b"x" * (256 * 1024)
        while remaining > 0:
            piece = block[: min(len(block), remaining)]
            remaining -= len(piece)
            yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    return body()


async def download(
    http: httpx.AsyncClient, user: User, attachment_id: str, **headers: str
) -> httpx.Response:
    return await http.get(f"/attachments/{attachment_id}", headers={**user.headers, **headers})
