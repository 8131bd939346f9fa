"""What an upload is, from its bytes: the type (puremagic's signatures, never the client's
header), an image's size (imagesize reads the header only; nothing is decoded), and a
filename that is safe to store and to send back in `Content-Disposition`."""

from __future__ import annotations

import io
import unicodedata
from urllib.parse import quote

import imagesize
import puremagic

OCTET_STREAM = "application/octet-stream"
# Shown inline by browsers: raster formats that cannot carry script. Never SVG or HTML.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# The types whose dimensions are read; imagesize also knows some this server does not inline.
_IMAGE_TYPES = INLINE_TYPES | {"image/bmp", "image/tiff"}
# What is read of the head of a file for both: enough for every signature and header we use.
HEAD_BYTES = 64 * 1024
MAX_NAME_LENGTH = 200


# puremagic's confidence grows with the signature's length (0.1 per byte): below 3 bytes a
# match is a guess that random bytes make often ("{" alone reads as JSON for 1 file in 256).
MIN_CONFIDENCE = 0.3


def sniff_type(head: bytes) -> str:
    """The MIME type the first bytes announce; application/octet-stream when unknown or
    announced by a signature too short to tell."""
    if not head:
        return OCTET_STREAM
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return OCTET_STREAM
    for match in matches:  # best first
        mime = (match.mime_type or "").strip().lower()
        if "/" not in mime or len(mime) > 127:
            continue
        if match.confidence >= MIN_CONFIDENCE or (mime == "image/x-ms-bmp" and _is_bmp(head)):
            return mime
    return OCTET_STREAM


# The sizes of the DIB headers a BMP file can carry (BITMAPCOREHEADER ... BITMAPV5HEADER).
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def _is_bmp(head: bytes) -> bool:
    """BMP's signature is two bytes ("BM"): confirmed by the DIB header's size after it."""
    return head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES


def image_size(head: bytes, mime_type: str) -> tuple[int, int] | None:
    """(width, height) of an image from its header, None for other files or a header we
    cannot read."""
    if mime_type not in _IMAGE_TYPES:
        return None
    try:
        width, height = imagesize.get(io.BytesIO(head))
    except (ValueError, OSError, IndexError):
        return None
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        return None
    return width, height


def clean_filename(raw: str | None) -> str:
    """The last path segment, without control or format characters, at most
    MAX_NAME_LENGTH characters (the extension kept); `file` when nothing is left."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH]
    return name or "file"


def content_disposition(name: str, mime_type: str) -> str:
    """RFC 6266: `inline` only for the safe image types; an ASCII fallback `filename` and the
    exact name as RFC 5987 `filename*`."""
    disposition = "inline" if mime_type in INLINE_TYPES else "attachment"
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%;' else "_" for ch in name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
