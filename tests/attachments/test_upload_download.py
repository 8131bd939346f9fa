"""Upload and download through both storage backends (a folder, and S3 on moto)."""

from __future__ import annotations

import hashlib
import os

import httpx

from tests.attachments.conftest import MAX_FILE_SIZE, FilesServer
from tests.attachments.helpers import (
    HTML,
    SVG,
    download,
    gif,
    multipart_chunks,
    png,
    upload,
    uploaded,
)
from tests.support import assert_error


async def test_upload_and_download_round_trip(http: httpx.AsyncClient, files: FilesServer) -> None:
    alice = files.users["alice"]
    # Over one S3 part (8 MiB): the bucket gets a multipart upload of two parts.
    content = os.urandom(9 * 1024 * 1024 + 123)
    body = await uploaded(http, alice, content, "report.bin")
    assert body["name"] == "report.bin"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["mimeType"] == "application/octet-stream"
    assert "width" not in body
    response = await download(http, alice, body["id"])
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["etag"] == f'"{body["sha256"]}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert files.partial_uploads() == []


async def test_sniffed_type_beats_the_clients_header(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    image = await uploaded(http, alice, png(3, 2), "pic.html")
    assert image["mimeType"] == "image/png"
    page = await upload(http, alice, HTML, "pic.png", declared="image/png")
    assert page.status_code == 201
    assert page.json()["mimeType"] == "text/html"
    served = await download(http, alice, page.json()["id"])
    assert served.headers["content-type"].startswith("text/html")
    assert served.headers["content-disposition"].startswith("attachment;")
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_images_get_their_dimensions_and_only_safe_ones_show_inline(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    image = await uploaded(http, alice, png(31, 17), "photo.png")
    assert (image["width"], image["height"]) == (31, 17)
    animation = await uploaded(http, alice, gif(640, 480), "anim.gif")
    assert animation["mimeType"] == "image/gif"
    assert (animation["width"], animation["height"]) == (640, 480)
    inline = await download(http, alice, image["id"])
    assert inline.headers["content-disposition"].startswith("inline;")
    assert inline.headers["content-type"] == "image/png"
    drawing = await uploaded(http, alice, SVG, "drawing.svg")
    assert drawing["mimeType"] == "image/svg+xml"
    served = await download(http, alice, drawing["id"])
    assert served.headers["content-disposition"].startswith("attachment;")


async def test_filename_is_sanitized(http: httpx.AsyncClient, files: FilesServer) -> None:
    alice = files.users["alice"]
    # Built by hand: httpx would percent-encode the control characters itself.
    raw = (
        b'--b0\r\nContent-Disposition: form-data; name="file"; '
        b'filename="..\\..\\etc/pass\x07wd\x1b.txt"\r\n\r\nplain text\r\n--b0--\r\n'
    )
    response = await http.post(
        "/attachments",
        content=raw,
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=b0"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "passwd.txt"
    assert response.json()["mimeType"] == "application/octet-stream" or response.json()[
        "mimeType"
    ].startswith("text/")
    long_name = "x" * 400 + ".pdf"
    body = await uploaded(http, alice, b"%PDF-1.4 tiny", long_name)
    assert len(body["name"]) <= 200 and body["name"].endswith(".pdf")
    unicode = await uploaded(http, alice, b"data", "résumé final.txt")
    served = await download(http, alice, unicode["id"])
    disposition = served.headers["content-disposition"]
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20final.txt" in disposition
    assert 'filename="r_sum_ final.txt"' in disposition


async def test_upload_over_max_file_size_is_refused_and_nothing_is_kept(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    before = files.stored_keys()
    # Streamed without a Content-Length: only the check while streaming can stop it, after
    # storage has taken a part or more.
    response = await http.post(
        "/attachments",
        content=multipart_chunks(MAX_FILE_SIZE + 1),
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=parleyboundary"},
    )
    error = assert_error(response, 413, "FILE_TOO_LARGE")
    assert error["details"]["maxBytes"] == MAX_FILE_SIZE
    assert files.stored_keys() == before
    assert files.partial_uploads() == []


async def test_upload_with_a_declared_length_over_the_limit_is_refused_before_reading(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    before = files.stored_keys()
    response = await upload(http, alice, os.urandom(MAX_FILE_SIZE + 200 * 1024))
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert files.stored_keys() == before


async def test_upload_without_a_file_field_is_refused(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    response = await http.post(
        "/attachments",
        data={"note": "no file"},
        files={"other": ("a.txt", b"x")},
        headers=alice.headers,
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    response = await http.post("/attachments", json={"file": "x"}, headers=alice.headers)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_range_requests(http: httpx.AsyncClient, files: FilesServer) -> None:
    alice = files.users["alice"]
    content = bytes(range(256)) * 40
    body = await uploaded(http, alice, content, "video.bin")
    first = await download(http, alice, body["id"], Range="bytes=0-9")
    assert first.status_code == 206
    assert first.content == content[:10]
    assert first.headers["content-range"] == f"bytes 0-9/{len(content)}"
    assert first.headers["content-length"] == "10"
    middle = await download(http, alice, body["id"], Range="bytes=1000-")
    assert middle.status_code == 206 and middle.content == content[1000:]
    tail = await download(http, alice, body["id"], Range="bytes=-7")
    assert tail.status_code == 206 and tail.content == content[-7:]
    past_end = await download(http, alice, body["id"], Range="bytes=5000-99999")
    assert past_end.status_code == 206 and past_end.content == content[5000:]
    refused = await download(http, alice, body["id"], Range=f"bytes={len(content)}-")
    assert_error(refused, 416, "RANGE_NOT_SATISFIABLE")
    assert refused.headers["content-range"] == f"bytes */{len(content)}"


async def test_if_range_resumes_only_the_same_file(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    content = bytes(range(256)) * 4
    body = await uploaded(http, alice, content, "resume.bin")
    etag = (await download(http, alice, body["id"])).headers["etag"]
    resumed = await download(http, alice, body["id"], Range="bytes=100-", **{"If-Range": etag})
    assert resumed.status_code == 206 and resumed.content == content[100:]
    # A validator that no longer matches (another file, or a date): the whole file, 200.
    for stale in ('"0000"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        whole = await download(http, alice, body["id"], Range="bytes=100-", **{"If-Range": stale})
        assert whole.status_code == 200 and whole.content == content


async def test_etag_and_if_none_match(http: httpx.AsyncClient, files: FilesServer) -> None:
    alice = files.users["alice"]
    body = await uploaded(http, alice, b"cache me", "c.txt")
    first = await download(http, alice, body["id"])
    etag = first.headers["etag"]
    again = await download(http, alice, body["id"], **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    changed = await download(http, alice, body["id"], **{"If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.content == b"cache me"


async def test_a_file_whose_bytes_are_gone_answers_a_clear_error(
    http: httpx.AsyncClient, files: FilesServer
) -> None:
    alice = files.users["alice"]
    before = set(files.stored_keys())
    body = await uploaded(http, alice, b"soon gone " * 100, "gone.txt")
    (key,) = set(files.stored_keys()) - before
    files.remove_stored(key)
    for headers in ({}, {"Range": "bytes=0-9"}):
        response = await download(http, alice, body["id"], **headers)
        assert_error(response, 404, "ATTACHMENT_NOT_FOUND")
