"""The pure rules behind uploads and downloads: settings, byte ranges, filenames."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.attachments.download import byte_range
from parley.attachments.sniff import clean_filename, content_disposition, sniff_type
from parley.core.config import ConfigError, load_settings
from parley.core.errors import RangeNotSatisfiable

S3_ENV = {
    "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    "S3_BUCKET": "files",
    "S3_ACCESS_KEY_ID": "key",
    "S3_SECRET_ACCESS_KEY": "secret",
    "S3_REGION": "us-east-1",
}


def test_settings_defaults_and_s3(tmp_path: Path) -> None:
    env = {"PARLEY_DATA_DIR": str(tmp_path)}
    settings = load_settings(environ=env)
    assert settings.s3 is None
    assert settings.rate_limit_uploads_per_hour == 10
    assert settings.orphan_upload_seconds == 24 * 3600
    assert load_settings(environ={**env, "ORPHAN_UPLOAD_HOURS": "2"}).orphan_upload_seconds == 7200
    s3 = load_settings(environ={**env, **S3_ENV}).s3
    assert s3 is not None and s3.bucket == "files" and s3.region == "us-east-1"


@pytest.mark.parametrize("missing", sorted(S3_ENV))
def test_s3_needs_all_five_settings(tmp_path: Path, missing: str) -> None:
    env = {"PARLEY_DATA_DIR": str(tmp_path), **S3_ENV, missing: ""}
    with pytest.raises(ConfigError, match=missing):
        load_settings(environ=env)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=50-5000", (50, 99)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=9-3", None),
    ],
)
def test_byte_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 100)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("a\u202eexe.txt", "aexe.txt"),  # a right-to-left override is a format character
        ("...", "file"),
        (None, "file"),
        ("x" * 300 + ".tar.gz", "x" * 197 + ".gz"),
    ],
)
def test_filenames(raw: str | None, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_content_disposition_is_inline_only_for_safe_images() -> None:
    assert content_disposition("a.png", "image/png").startswith("inline;")
    assert content_disposition("a.svg", "image/svg+xml").startswith("attachment;")
    assert content_disposition("a.html", "text/html").startswith("attachment;")
    assert 'filename="a_b.txt"' in content_disposition('a"b.txt', "text/plain")


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(64)), "image/png"),
        (b"GIF89a" + bytes(64), "image/gif"),
        (b"%PDF-1.4 tiny", "application/pdf"),
        # One or two bytes of signature are a guess: random bytes begin so every few hundred
        # files (a random upload came back as application/json).
        (b"{" + bytes(range(200, 256)), "application/octet-stream"),
        (b"BM" + bytes(range(200, 256)), "application/octet-stream"),
        (b"BM" + bytes(12) + (40).to_bytes(4, "little") + bytes(40), "image/x-ms-bmp"),
        (b"plain text", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
    ids=["png", "gif", "pdf", "brace", "bm", "bmp", "text", "empty"],
)
def test_the_type_comes_from_a_signature_long_enough_to_tell(head: bytes, mime: str) -> None:
    assert sniff_type(head) == mime
