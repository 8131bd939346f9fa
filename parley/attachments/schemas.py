"""Attachments as clients see them, and as a message refers to them (its `attachments`
column keeps these refs)."""

from __future__ import annotations

import uuid
from typing import NotRequired, TypedDict

from pydantic import Field

from parley.core.schemas import ApiModel, Timestamp


class AttachmentRef(TypedDict):
    id: str
    name: str
    mimeType: str
    size: int
    sha256: str
    width: NotRequired[int]
    height: NotRequired[int]


class AttachmentOut(ApiModel):
    id: uuid.UUID
    name: str = Field(description="The uploaded filename, without any path, sanitized")
    mime_type: str = Field(description="Sniffed from the bytes, never the client's header")
    size: int = Field(description="Bytes")
    sha256: str = Field(description="Hex digest of the bytes; also the download's ETag")
    width: int | None = Field(default=None, description="Images: pixels, from the header")
    height: int | None = Field(default=None, description="Images: pixels, from the header")
    created_at: Timestamp
