"""How a message refers to its attachments (stored in the message's `attachments` column)."""

from __future__ import annotations

from typing import TypedDict


class AttachmentRef(TypedDict):
    id: str
    name: str
    mimeType: str
    size: int
    sha256: str
