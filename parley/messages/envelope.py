"""The envelope an end-to-end encrypted message carries as its content (format version 1).

The server holds no key and never sees plain text; it checks the shape only, so that
`encrypted: true` cannot carry plain text past screening. The content is the JSON text of an
object with exactly these members (docs/api.md, End-to-end encryption):

    v      1, the format version (an integer)
    kid    the key id: 1-128 characters of A-Z a-z 0-9 . _ : / + = -
    nonce  standard base64 (RFC 4648 section 4, with padding) of 12 to 32 bytes
    ct     standard base64 (with padding) of at least 16 bytes (an AEAD tag at least)

Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from parley.core.errors import ValidationFailed

VERSION = 1
MEMBERS = frozenset({"v", "kid", "nonce", "ct"})
KEY_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
MIN_NONCE_BYTES = 12
MAX_NONCE_BYTES = 32
MIN_CIPHERTEXT_BYTES = 16
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class _DuplicateMember(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _DuplicateMember("a member appears twice")
    return members


def _decoded(value: object) -> bytes | None:
    if not isinstance(value, str) or not _BASE64.fullmatch(value):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _problem(content: str | None) -> str | None:
    """What is wrong with `content` as an envelope, or None if nothing is."""
    if not content:
        return "an encrypted message needs its envelope as content"
    try:
        envelope = json.loads(content, object_pairs_hook=_no_duplicates)
    except _DuplicateMember:
        return "a member appears twice"
    except (ValueError, RecursionError):
        return "the content is not JSON"
    if not isinstance(envelope, dict):
        return "the content is not a JSON object"
    if set(envelope) != MEMBERS:
        return "the members must be exactly v, kid, nonce and ct"
    version = envelope["v"]
    if type(version) is not int or version != VERSION:
        return f"unknown version (v must be {VERSION})"
    kid = envelope["kid"]
    if not isinstance(kid, str) or not KEY_ID.fullmatch(kid):
        return "kid must be 1-128 characters of A-Z a-z 0-9 . _ : / + = -"
    nonce = _decoded(envelope["nonce"])
    if nonce is None or not MIN_NONCE_BYTES <= len(nonce) <= MAX_NONCE_BYTES:
        return (
            f"nonce must be padded standard base64 of {MIN_NONCE_BYTES} to {MAX_NONCE_BYTES} bytes"
        )
    ciphertext = _decoded(envelope["ct"])
    if ciphertext is None or len(ciphertext) < MIN_CIPHERTEXT_BYTES:
        return f"ct must be padded standard base64 of at least {MIN_CIPHERTEXT_BYTES} bytes"
    return None


def check_envelope(content: str | None) -> None:
    """VALIDATION_ERROR (field `content`) unless `content` is a well-formed envelope."""
    problem = _problem(content)
    if problem is not None:
        raise ValidationFailed(f"Encrypted content must be an envelope: {problem}", field="content")
