"""Export and erasure bodies and answers."""

from __future__ import annotations

import uuid

from pydantic import Field

from parley.core.schemas import ApiModel, InputModel, Timestamp
from parley.privacy.models import ExportStatus


class ExportOut(ApiModel):
    """A background export and how far it got."""

    id: uuid.UUID
    status: ExportStatus
    progress: float = Field(description="0 to 1: items written out of totalItems")
    done_items: int = Field(description="Messages, reactions, versions and files written")
    total_items: int
    size: int | None = Field(default=None, description="Bytes of the archive, once DONE")
    download_url: str | None = Field(default=None, description="Set once DONE")
    error_code: str | None = None
    created_at: Timestamp
    finished_at: Timestamp | None = None
    expires_at: Timestamp


class ErasureRequest(InputModel):
    password: str = Field(min_length=1, max_length=256, description="The current password")
