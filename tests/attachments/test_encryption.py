"""Attachment bytes encrypted at rest, on both storage backends: storage holds ciphertext,
downloads and ranges give the exact plaintext, an altered object is refused rather than
served, and files stored in clear before encryption are still served."""

from __future__ import annotations

import os

import httpx
import pytest

from parley.attachments.sealed import OVERHEAD, SEGMENT_SIZE, parse_header
from tests.attachments.conftest import FilesServer, stored_key
from tests.attachments.helpers import download, uploaded
from tests.support import assert_error

MARKER = b"PARLEY-PLAINTEXT-MARKER-7f3a"
SEALED_SEGMENT = SEGMENT_SIZE + OVERHEAD


def distinctive(size: int) -> bytes:
    """Random bytes with the marker sprinkled in every few KiB (so every segment has one)."""
    content = bytearray(os.urandom(size))
    for offset in range(0, size - len(MARKER), 4096):
        content[offset : offset + len(MARKER)] = MARKER
    return bytes(content)


def flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def segment_offset(stored: bytes, index: int) -> int:
    header = parse_header("probe", stored)
    assert header is not None
    return header.length + index * SEALED_SEGMENT


async def test_storage_holds_only_ciphertext(http: httpx.AsyncClient, files: FilesServer) -> None:
    alice = files.users["alice"]
    content = distinctive(3 * SEGMENT_SIZE + 1000)
    body = await uploaded(http, alice, content, "secret.bin")
    assert body["size"] == len(content)
    stored = files.read_stored(stored_key(body["id"]))
    assert MARKER not in stored
    header = parse_header("probe", stored)
    assert header is not None and header.segment_size == SEGMENT_SIZE
    # Header, three full segments and a last one of 1000 bytes.
    assert len(stored) == header.length + 3 * SEALED_SEGMENT + 1000 + OVERHEAD
    assert (await download(http, alice, body["id"])).content == content


async def test_an_empty_file_is_sealed_and_served(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    body = await uploaded(http, alice, b"", "empty.txt")
    assert body["size"] == 0
    stored = files.read_stored(stored_key(body["id"]))
    header = parse_header("probe", stored)
    assert header is not None and len(stored) == header.length + OVERHEAD
    served = await download(http, alice, body["id"])
    assert served.status_code == 200 and served.content == b""


async def test_ranges_of_a_sealed_file_are_the_plaintext_slices(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    content = distinctive(3 * SEGMENT_SIZE + 777)
    size = len(content)
    body = await uploaded(http, alice, content, "ranges.bin")
    cases = {
        "bytes=0-0": (0, 0),
        f"bytes={SEGMENT_SIZE - 5}-{SEGMENT_SIZE + 5}": (SEGMENT_SIZE - 5, SEGMENT_SIZE + 5),
        f"bytes={SEGMENT_SIZE}-{2 * SEGMENT_SIZE - 1}": (SEGMENT_SIZE, 2 * SEGMENT_SIZE - 1),
        f"bytes={SEGMENT_SIZE - 1}-{3 * SEGMENT_SIZE}": (SEGMENT_SIZE - 1, 3 * SEGMENT_SIZE),
        f"bytes={2 * SEGMENT_SIZE}-": (2 * SEGMENT_SIZE, size - 1),
        f"bytes={size - 3}-{size + 100}": (size - 3, size - 1),
        "bytes=-10": (size - 10, size - 1),
        f"bytes=-{size + 5}": (0, size - 1),
    }
    for header, (first, last) in cases.items():
        response = await download(http, alice, body["id"], Range=header)
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {first}-{last}/{size}", header
        assert response.content == content[first : last + 1], header
    etag = f'"{body["sha256"]}"'
    resumed = await download(http, alice, body["id"], Range="bytes=70000-", **{"If-Range": etag})
    assert resumed.status_code == 206 and resumed.content == content[70000:]
    refused = await download(http, alice, body["id"], Range=f"bytes={size}-")
    assert_error(refused, 416, "RANGE_NOT_SATISFIABLE")


async def test_an_altered_first_segment_is_refused_before_any_byte(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    content = distinctive(2 * SEGMENT_SIZE + 10)
    body = await uploaded(http, alice, content, "tampered.bin")
    key = stored_key(body["id"])
    stored = files.read_stored(key)
    files.write_stored(key, flip(stored, segment_offset(stored, 0) + 20))
    for headers in ({}, {"Range": "bytes=0-9"}, {"Range": "bytes=100-70000"}):
        response = await download(http, alice, body["id"], **headers)
        assert_error(response, 500, "ATTACHMENT_UNREADABLE")
    # The segments that still authenticate are served.
    intact = await download(http, alice, body["id"], Range=f"bytes={SEGMENT_SIZE}-")
    assert intact.status_code == 206 and intact.content == content[SEGMENT_SIZE:]


async def test_a_later_altered_segment_cuts_the_download_and_never_sends_its_bytes(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    content = distinctive(3 * SEGMENT_SIZE + 10)
    body = await uploaded(http, alice, content, "late.bin")
    key = stored_key(body["id"])
    stored = files.read_stored(key)
    files.write_stored(key, flip(stored, segment_offset(stored, 2) + 100))
    ranged = await download(http, alice, body["id"], Range=f"bytes={2 * SEGMENT_SIZE + 5}-")
    assert_error(ranged, 500, "ATTACHMENT_UNREADABLE")
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("GET", f"/attachments/{body['id']}", headers=alice.headers) as r:
            assert r.status_code == 200
            async for chunk in r.aiter_raw():
                received += chunk
    # Only authenticated segments went out: a prefix of the plaintext, short of segment 2.
    assert len(received) <= 2 * SEGMENT_SIZE
    assert bytes(received) == content[: len(received)]


async def test_a_cut_short_or_moved_file_is_refused(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    content = distinctive(2 * SEGMENT_SIZE + 500)
    body = await uploaded(http, alice, content, "cut.bin")
    other = await uploaded(http, alice, content, "copy.bin")
    key = stored_key(body["id"])
    stored = files.read_stored(key)
    # The last segment dropped: what is left ends on a segment not marked last.
    files.write_stored(key, stored[: segment_offset(stored, 2)])
    for headers in ({"Range": "bytes=-10"}, {"Range": f"bytes={SEGMENT_SIZE}-"}):
        response = await download(http, alice, body["id"], **headers)
        assert_error(response, 500, "ATTACHMENT_UNREADABLE")
    # Another file's object (same plaintext, same key ring) under this file's key.
    files.write_stored(key, files.read_stored(stored_key(other["id"])))
    assert_error(await download(http, alice, body["id"]), 500, "ATTACHMENT_UNREADABLE")


async def test_a_file_stored_in_clear_before_encryption_is_served_as_it_is(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    content = distinctive(SEGMENT_SIZE + 300)
    body = await uploaded(http, alice, content, "legacy.bin")
    files.write_stored(stored_key(body["id"]), content)
    whole = await download(http, alice, body["id"])
    assert whole.status_code == 200 and whole.content == content
    for first, last in ((0, 0), (SEGMENT_SIZE - 2, SEGMENT_SIZE + 2), (len(content) - 5, None)):
        spec = f"bytes={first}-{'' if last is None else last}"
        part = await download(http, alice, body["id"], Range=spec)
        end = len(content) if last is None else last + 1
        assert part.status_code == 206 and part.content == content[first:end]
    tiny = await uploaded(http, alice, b"hi", "tiny.txt")
    files.write_stored(stored_key(tiny["id"]), b"hi")
    assert (await download(http, alice, tiny["id"])).content == b"hi"
